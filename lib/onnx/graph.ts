/**
 * ONNX graph builder: collects nodes, graph inputs/outputs and initializers, streams large weights
 * to an external data file as they are added, and serializes the ModelProto (opset 17, IR 8) with
 * `onnx-proto`. Large models stay far below the 2 GB protobuf limit because weights live outside.
 */

import onnxProto from "onnx-proto";
import { floatToHalf } from "./half.ts";

const { onnx } = onnxProto;

/** Element types the graphs use. */
export type ElemType = "float32" | "float16" | "int64" | "int32" | "bool";

/** A dimension: a fixed size or the name of a dynamic axis. */
export type Dim = number | string;

/** An attribute value: integers, floats (wrap with `float()` when integral), strings or lists. */
export type AttrValue = number | number[] | string | FloatAttr | FloatsAttr;

/** A float attribute whose value happens to be integral. */
export interface FloatAttr {
  float: number;
}

/** A list-of-floats attribute. */
export interface FloatsAttr {
  floats: number[];
}

/** Marks a number as a float attribute. */
export function float(value: number): FloatAttr {
  return { float: value };
}

/** Host data accepted for initializers. */
export type InitData = Float32Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array;

/** Receives external weight bytes and returns their offset in the weights file. */
export interface WeightSink {
  /** File name recorded in the model (relative to the .onnx file). */
  readonly location: string;
  write(bytes: Uint8Array): number;
  /** Total bytes written so far. */
  size(): number;
}

/** The operator domain of ONNX Runtime's contrib ops. */
export const CONTRIB_DOMAIN = "com.microsoft";

/** Tensors at or above this many bytes go to the external weights file. */
export const EXTERNAL_THRESHOLD = 1024;

const ELEM_CODE: Record<ElemType, number> = {
  float32: 1,
  float16: 10,
  int64: 7,
  int32: 6,
  bool: 9,
};

/** The graph being built. Value names are plain strings. */
export interface Graph {
  /** Declares a graph input and returns its value name. */
  input(name: string, type: ElemType, shape: Dim[]): string;
  /** Declares `value` as a graph output called `name` (inserting an Identity when they differ). */
  output(value: string, name: string, type: ElemType, shape: Dim[]): void;
  /** Adds an initializer (external when large) and returns its value name. */
  init(name: string, data: InitData, dims: number[], type: ElemType): string;
  /** Adds a small int64 constant (shapes, axes) and returns its value name. */
  ints(values: number[]): string;
  /** Adds a scalar or 1-D float constant of the given type. */
  scalar(value: number, type: ElemType): string;
  /** Adds a node with one output and returns the output's value name. */
  op(type: string, inputs: string[], attrs?: Record<string, AttrValue>): string;
  /** Adds a node with `count` outputs and returns their value names. */
  opN(type: string, inputs: string[], count: number, attrs?: Record<string, AttrValue>): string[];
  /**
   * Adds an ONNX Runtime contrib op (domain `com.microsoft`, e.g. MultiHeadAttention, FastGelu)
   * with one output and returns its value name; the model then imports that domain.
   */
  contrib(type: string, inputs: string[], attrs?: Record<string, AttrValue>): string;
  /** Serializes the model. */
  toBytes(meta?: Record<string, string>): Uint8Array;
  /** Number of nodes added so far. */
  nodeCount(): number;
  /** Returns a value name starting with `prefix` that is not used yet. */
  fresh(prefix: string): string;
}

function valueInfo(name: string, type: ElemType, shape: Dim[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: ELEM_CODE[type],
        shape: {
          dim: shape.map((d) => typeof d === "number" ? { dimValue: d } : { dimParam: d }),
        },
      },
    },
  });
}

function attribute(name: string, v: AttrValue) {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === "string") {
    return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  }
  if (typeof v === "number") {
    return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  }
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ("floats" in v) return { name, type: T.FLOATS, floats: v.floats };
  return { name, type: T.FLOAT, f: v.float };
}

function bytesOf(data: InitData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Creates an empty graph whose large initializers go to `sink`. */
export function createGraph(name: string, sink: WeightSink): Graph {
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const inputs: onnxProto.onnx.IValueInfoProto[] = [];
  const outputs: onnxProto.onnx.IValueInfoProto[] = [];
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  const used = new Set<string>();
  const counters = new Map<string, number>();

  const fresh = (prefix: string): string => {
    let n = counters.get(prefix) ?? 0;
    let candidate: string;
    do candidate = `${prefix}_${n++}`; while (used.has(candidate));
    counters.set(prefix, n);
    return candidate;
  };
  const claim = (value: string): string => {
    if (used.has(value)) throw new Error(`ONNX graph ${name}: value name "${value}" used twice`);
    used.add(value);
    return value;
  };

  const init = (valueName: string, data: InitData, dims: number[], type: ElemType): string => {
    claim(valueName);
    const tensor: Record<string, unknown> = { name: valueName, dims, dataType: ELEM_CODE[type] };
    const bytes = bytesOf(data);
    if (bytes.byteLength >= EXTERNAL_THRESHOLD) {
      const offset = sink.write(bytes);
      tensor.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      tensor.externalData = [
        { key: "location", value: sink.location },
        { key: "offset", value: String(offset) },
        { key: "length", value: String(bytes.byteLength) },
      ];
    } else {
      tensor.rawData = bytes.slice();
    }
    initializers.push(onnx.TensorProto.create(tensor));
    return valueName;
  };

  let usesContrib = false;
  const opN = (
    type: string,
    ins: string[],
    count: number,
    attrs: Record<string, AttrValue> = {},
    domain = "",
  ): string[] => {
    const nodeName = fresh(type);
    used.add(nodeName);
    const outs = Array.from(
      { length: count },
      (_, i) => count === 1 ? nodeName : `${nodeName}:${i}`,
    );
    outs.forEach((o) => used.add(o));
    nodes.push(onnx.NodeProto.create({
      name: nodeName,
      opType: type,
      domain,
      input: ins,
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    }));
    return outs;
  };

  return {
    input(inputName, type, shape) {
      inputs.push(valueInfo(claim(inputName), type, shape));
      return inputName;
    },
    output(value, outName, type, shape) {
      if (value !== outName) {
        claim(outName);
        nodes.push(onnx.NodeProto.create({
          name: `${outName}_identity`,
          opType: "Identity",
          input: [value],
          output: [outName],
        }));
      }
      outputs.push(valueInfo(outName, type, shape));
    },
    init,
    ints: (values) =>
      init(fresh("const_i64"), BigInt64Array.from(values, BigInt), [values.length], "int64"),
    scalar(value, type) {
      const data = type === "float32"
        ? Float32Array.of(value)
        : type === "int64"
        ? BigInt64Array.of(BigInt(value))
        : type === "float16"
        ? Uint16Array.of(floatToHalf(value))
        : Int32Array.of(value);
      return init(fresh("const"), data, [], type);
    },
    op: (type, ins, attrs) => opN(type, ins, 1, attrs)[0],
    opN: (type, ins, count, attrs) => opN(type, ins, count, attrs),
    contrib(type, ins, attrs) {
      usesContrib = true;
      return opN(type, ins, 1, attrs, CONTRIB_DOMAIN)[0];
    },
    toBytes(meta = {}) {
      const model = onnx.ModelProto.create({
        irVersion: 8,
        producerName: "hunyuandit-edge",
        opsetImport: [
          { domain: "", version: 17 },
          ...(usesContrib ? [{ domain: CONTRIB_DOMAIN, version: 1 }] : []),
        ],
        graph: { name, node: nodes, input: inputs, output: outputs, initializer: initializers },
        metadataProps: Object.entries(meta).map(([key, value]) => ({ key, value })),
      });
      return onnx.ModelProto.encode(model).finish();
    },
    nodeCount: () => nodes.length,
    fresh,
  };
}

/** Writes external weights to a file with synchronous appends, 64-byte aligned. */
export function createFileSink(path: string, location: string): WeightSink & { close(): void } {
  const file = Deno.openSync(path, { write: true, create: true, truncate: true });
  let size = 0;
  const pad = new Uint8Array(64);
  const writeAll = (bytes: Uint8Array) => {
    let done = 0;
    while (done < bytes.byteLength) done += file.writeSync(bytes.subarray(done));
  };
  return {
    location,
    write(bytes) {
      const aligned = Math.ceil(size / 64) * 64;
      if (aligned > size) writeAll(pad.subarray(0, aligned - size));
      writeAll(bytes);
      size = aligned + bytes.byteLength;
      return aligned;
    },
    size: () => size,
    close: () => file.close(),
  };
}
