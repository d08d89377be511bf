/**
 * Reads back a serialized ONNX model: its IO contract, the element type of every value (a simple
 * forward type propagation over the nodes we emit), and the precision policy check that every
 * normalization and softmax runs in fp32.
 */

import onnxProto from "onnx-proto";
import type { ElemType } from "./graph.ts";

const { onnx } = onnxProto;

/** A decoded ONNX model. */
export type Model = onnxProto.onnx.IModelProto;

/** One graph input or output: dims are sizes or dynamic-axis names. */
export interface IoSpec {
  name: string;
  dtype: ElemType;
  shape: (number | string)[];
}

/** A node that breaks the fp32-normalization policy. */
export interface PolicyViolation {
  node: string;
  opType: string;
  /** Which value is not fp32, e.g. `input 0 "x" is float16`. */
  detail: string;
}

const CODES: Record<number, ElemType> = {
  1: "float32",
  10: "float16",
  7: "int64",
  6: "int32",
  9: "bool",
};

type IntLike = number | { toNumber(): number } | null | undefined;

function num(v: IntLike): number {
  if (v === null || v === undefined) return 0;
  return typeof v === "number" ? v : v.toNumber();
}

function elemType(code: IntLike, where: string): ElemType {
  const t = CODES[num(code)];
  if (!t) throw new Error(`${where}: unsupported element type code ${num(code)}`);
  return t;
}

/** Decodes ModelProto bytes (the .onnx file; external weights are not read). */
export function decodeModel(bytes: Uint8Array): Model {
  return onnx.ModelProto.decode(bytes);
}

function ioOf(values: onnxProto.onnx.IValueInfoProto[] | null | undefined): IoSpec[] {
  return (values ?? []).map((v) => {
    const tensor = v.type?.tensorType;
    if (!tensor) throw new Error(`graph value "${v.name}" is not a tensor`);
    return {
      name: v.name ?? "",
      dtype: elemType(tensor.elemType, `graph value "${v.name}"`),
      shape: (tensor.shape?.dim ?? []).map((d) => d.dimParam ? d.dimParam : num(d.dimValue)),
    };
  });
}

/** The graph's declared inputs and outputs. */
export function graphIo(model: Model): { inputs: IoSpec[]; outputs: IoSpec[] } {
  return { inputs: ioOf(model.graph?.input), outputs: ioOf(model.graph?.output) };
}

/** Ops whose output type is fixed regardless of their inputs. */
const FIXED_OUTPUT: Record<string, ElemType> = {
  Shape: "int64",
  Size: "int64",
  Equal: "bool",
  Less: "bool",
  Greater: "bool",
  LessOrEqual: "bool",
  GreaterOrEqual: "bool",
  Not: "bool",
  And: "bool",
  Or: "bool",
  IsNaN: "bool",
  ArgMax: "int64",
  ArgMin: "int64",
};

/** Ops whose data inputs (listed positions) must all share one element type. */
const SAME_TYPE_INPUTS: Record<string, number[]> = {
  Add: [0, 1],
  Sub: [0, 1],
  Mul: [0, 1],
  Div: [0, 1],
  Pow: [0, 1],
  MatMul: [0, 1],
  Gemm: [0, 1, 2],
  Conv: [0, 1, 2],
  Where: [1, 2],
  LayerNormalization: [0, 1, 2],
  InstanceNormalization: [0, 1, 2],
};

/** Index of the input that carries a node's output type (data input). */
const TYPE_SOURCE: Record<string, number> = { Where: 1, Gather: 0 };

/**
 * Element type of every value in the graph, propagated forward from inputs and initializers in
 * node order. Throws on an op it cannot type or on mixed float types where ONNX requires one type.
 */
export function inferTypes(model: Model): Map<string, ElemType> {
  const types = new Map<string, ElemType>();
  const graph = model.graph ?? {};
  for (const v of graph.input ?? []) {
    types.set(v.name ?? "", elemType(v.type?.tensorType?.elemType, `input "${v.name}"`));
  }
  for (const t of graph.initializer ?? []) {
    types.set(t.name ?? "", elemType(t.dataType, `initializer "${t.name}"`));
  }
  for (const node of graph.node ?? []) {
    const op = node.opType ?? "";
    const ins = (node.input ?? []).map((name) => {
      if (name === "") return undefined;
      const t = types.get(name);
      if (!t) throw new Error(`node "${node.name}" (${op}) reads "${name}" before it is defined`);
      return t;
    });
    const same = SAME_TYPE_INPUTS[op];
    if (same) {
      const present = same.map((i) => ins[i]).filter((t) => t !== undefined);
      if (new Set(present).size > 1) {
        throw new Error(`node "${node.name}" (${op}) mixes input types ${present.join(", ")}`);
      }
    }
    let out: ElemType | undefined;
    if (op === "Cast") {
      const to = (node.attribute ?? []).find((a) => a.name === "to");
      out = elemType(to?.i, `node "${node.name}" attribute "to"`);
    } else if (op in FIXED_OUTPUT) {
      out = FIXED_OUTPUT[op];
    } else {
      out = ins[TYPE_SOURCE[op] ?? 0];
    }
    if (!out) throw new Error(`node "${node.name}" (${op}): cannot infer its output type`);
    for (const o of node.output ?? []) types.set(o, out);
  }
  return types;
}

/** The nodes that count as normalization or softmax, including the RMSNorm pattern. */
function isNormalization(
  node: onnxProto.onnx.INodeProto,
  producers: Map<string, onnxProto.onnx.INodeProto>,
): boolean {
  const op = node.opType ?? "";
  if (
    ["LayerNormalization", "InstanceNormalization", "GroupNormalization", "Softmax"].includes(op)
  ) {
    return true;
  }
  if (op !== "ReduceMean") return false;
  // RMSNorm / variance pattern: ReduceMean(Mul(a, a)) or ReduceMean(Pow(a, 2)).
  const src = producers.get(node.input?.[0] ?? "");
  if (!src) return false;
  if (src.opType === "Mul") return src.input?.[0] === src.input?.[1];
  return src.opType === "Pow";
}

/**
 * Every normalization node (LayerNormalization, InstanceNormalization, the RMSNorm
 * ReduceMean-of-squares pattern, Softmax) whose inputs or outputs are not fp32.
 */
export function precisionViolations(model: Model): PolicyViolation[] {
  const types = inferTypes(model);
  const nodes = model.graph?.node ?? [];
  const producers = new Map<string, onnxProto.onnx.INodeProto>();
  for (const n of nodes) for (const o of n.output ?? []) producers.set(o, n);
  const out: PolicyViolation[] = [];
  for (const node of nodes) {
    if (!isNormalization(node, producers)) continue;
    const check = (role: string, names: string[]) =>
      names.forEach((name, i) => {
        const t = name === "" ? "float32" : types.get(name);
        if (t !== "float32") {
          out.push({
            node: node.name ?? "",
            opType: node.opType ?? "",
            detail: `${role} ${i} "${name}" is ${t}`,
          });
        }
      });
    const inputs = node.input ?? [];
    const src = producers.get(inputs[0] ?? "");
    // For the RMSNorm pattern the squared value itself must be fp32.
    check(
      "input",
      node.opType === "ReduceMean" && src ? [...(src.input ?? []), ...inputs] : inputs,
    );
    check("output", node.output ?? []);
  }
  return out;
}
