import assert from "node:assert/strict";
import { buildComponent } from "../../engines/build_component.ts";
import type { ComponentName } from "../../lib/engine/components.ts";
import { createGraph, float } from "../../lib/onnx/graph.ts";
import {
  decodeModel,
  inferTypes,
  type Model,
  precisionViolations,
} from "../../lib/onnx/inspect.ts";
import { GOLDEN } from "../engine/goldens.ts";

const NORMALIZATION_OPS = ["LayerNormalization", "InstanceNormalization", "Softmax", "ReduceMean"];

async function buildFp16(variant: string, component: ComponentName): Promise<Model> {
  const dir = await Deno.makeTempDir({ prefix: "fp16_policy_" });
  try {
    const built = await buildComponent(`${GOLDEN}tiny/tiny-${variant}`, component, dir, "fp16");
    return decodeModel(await Deno.readFile(`${dir}/${built.entry.file}`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function opCount(model: Model, op: string): number {
  return (model.graph?.node ?? []).filter((n) => n.opType === op).length;
}

for (const variant of ["v12", "v11"]) {
  Deno.test(`fp16 DiT ${variant}: every LayerNorm and softmax has fp32 inputs and outputs`, async () => {
    const model = await buildFp16(variant, "transformer");
    const types = inferTypes(model);
    // The profile really is fp16 outside the normalizations ...
    assert.equal(types.get("x"), "float16");
    assert.equal(types.get("output"), "float16");
    const matmuls = (model.graph?.node ?? []).filter((n) => n.opType === "MatMul");
    assert.ok(matmuls.every((n) => types.get(n.output![0]) === "float16"));
    // ... and the walk saw the normalizations: 4 per block (+ skip norms), 2 QK-norms per attention.
    assert.ok(opCount(model, "LayerNormalization") > 0 && opCount(model, "Softmax") > 0);
    assert.deepEqual(precisionViolations(model), []);
  });
}

for (const component of ["text_encoder", "vae"] as const) {
  Deno.test(`fp16 ${component}: every normalization and softmax has fp32 inputs and outputs`, async () => {
    const model = await buildFp16("v12", component);
    const types = inferTypes(model);
    assert.ok(
      (model.graph?.node ?? []).some((n) => NORMALIZATION_OPS.includes(n.opType ?? "")),
      "graph has normalization nodes",
    );
    assert.ok([...types.values()].includes("float16"), "graph is fp16 outside the norms");
    assert.deepEqual(precisionViolations(model), []);
  });
}

Deno.test("fp16 profile keeps the mT5 encoder entirely fp32", async () => {
  const model = await buildFp16("v12", "text_encoder_2");
  assert.ok(![...inferTypes(model).values()].includes("float16"));
  assert.deepEqual(precisionViolations(model), []);
});

function sinkless() {
  return { location: "unused", write: () => 0, size: () => 0 };
}

Deno.test("precisionViolations() flags fp16 LayerNorm, RMSNorm pattern, softmax and GroupNorm", () => {
  const g = createGraph("bad", sinkless());
  const x = g.input("x", "float16", [2, 8]);
  const ones = g.init("ones", new Uint16Array(8).fill(0x3c00), [8], "float16");
  const zeros = g.init("zeros", new Uint16Array(8), [8], "float16");
  const ln = g.op("LayerNormalization", [x, ones, zeros], { axis: -1, epsilon: float(1e-6) });
  const ms = g.op("ReduceMean", [g.op("Mul", [ln, ln])], { axes: [-1], keepdims: 1 });
  const sm = g.op("Softmax", [g.op("Add", [ln, ms])], { axis: -1 });
  const x3 = g.op("Reshape", [sm, g.ints([1, 2, 8])]);
  const gn = g.op("InstanceNormalization", [
    x3,
    g.init("s", new Uint16Array(2), [2], "float16"),
    g.init("b", new Uint16Array(2), [2], "float16"),
  ]);
  const x32 = g.op("Cast", [gn], { to: 1 });
  const good = g.op("Softmax", [x32], { axis: -1 });
  g.output(good, "y", "float32", [1, 2, 8]);
  const violations = precisionViolations(decodeModel(g.toBytes()));
  assert.deepEqual(
    [...new Set(violations.map((v) => v.opType))],
    ["LayerNormalization", "ReduceMean", "Softmax", "InstanceNormalization"],
  );
  assert.ok(violations.some((v) => /input 0 "x" is float16/.test(v.detail)));
  assert.ok(!violations.some((v) => v.node === good.split(":")[0]), "the fp32 softmax passes");
});

Deno.test("inferTypes() refuses graphs that mix float types or read undefined values", () => {
  const g = createGraph("mixed", sinkless());
  const a = g.input("a", "float16", [2]);
  const b = g.input("b", "float32", [2]);
  g.output(g.op("Add", [a, b]), "y", "float32", [2]);
  assert.throws(() => inferTypes(decodeModel(g.toBytes())), /mixes input types float16, float32/);

  const h = createGraph("dangling", sinkless());
  h.output(h.op("Relu", ["nowhere"]), "y", "float32", [2]);
  assert.throws(() => inferTypes(decodeModel(h.toBytes())), /reads "nowhere" before it is defined/);
});
