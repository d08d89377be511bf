import assert from "node:assert/strict";
import { createFileSink, createGraph, float } from "../../lib/onnx/graph.ts";
import { floatToHalf, fromHalfArray, halfToFloat, toHalfArray } from "../../lib/onnx/half.ts";
import { loadOnnxEngine } from "../../lib/engine/onnx.ts";

Deno.test("half conversion round-trips every finite half and rounds ties to even", () => {
  for (let h = 0; h < 0x10000; h++) {
    const v = halfToFloat(h);
    if (Number.isNaN(v)) continue;
    assert.equal(floatToHalf(v), h, `bits ${h}`);
  }
  assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00); // tie between 1 and next -> even (1)
  assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02); // tie -> even (up)
  assert.equal(floatToHalf(65520), 0x7c00); // rounds to infinity
  assert.equal(floatToHalf(2 ** -25), 0); // tie at the smallest subnormal -> even (zero)
  assert.equal(floatToHalf(3 * 2 ** -26), 1);
  assert.deepEqual([...fromHalfArray(toHalfArray(Float32Array.of(0.1, -2)))], [
    halfToFloat(0x2e66),
    -2,
  ]);
});

Deno.test("graph with external weights runs on ONNX Runtime", async () => {
  const dir = await Deno.makeTempDir();
  const sink = createFileSink(`${dir}/g.weights`, "g.weights");
  const g = createGraph("g", sink);
  const x = g.input("x", "float32", ["batch", 300]);
  const w = Float32Array.from({ length: 300 * 2 }, (_, i) => Math.sin(i));
  const small = Float32Array.of(0.25, -0.5);
  const y = g.op("Add", [
    g.op("MatMul", [x, g.init("w", w, [300, 2], "float32")]),
    g.init("b", small, [2], "float32"),
  ]);
  g.output(g.op("LeakyRelu", [y], { alpha: float(0.5) }), "output", "float32", ["batch", 2]);
  await Deno.writeFile(`${dir}/g.onnx`, g.toBytes({ note: "test" }));
  sink.close();
  assert.ok(sink.size() >= w.byteLength, "large weight went to the external file");

  const engine = await loadOnnxEngine(`${dir}/g.onnx`, { threads: 1 });
  try {
    assert.deepEqual(engine.inputs, [{ name: "x", dtype: "float32", shape: [-1, 300] }]);
    const xs = Float32Array.from({ length: 600 }, (_, i) => (i % 7) - 3);
    const out = await engine.run({ x: { dtype: "float32", dims: [2, 300], data: xs } });
    assert.deepEqual(out.output.dims, [2, 2]);
    for (let r = 0; r < 2; r++) {
      for (let c = 0; c < 2; c++) {
        let acc = small[c];
        for (let k = 0; k < 300; k++) acc += xs[r * 300 + k] * w[k * 2 + c];
        const want = acc >= 0 ? acc : 0.5 * acc;
        const got = (out.output.data as Float32Array)[r * 2 + c];
        assert.ok(Math.abs(got - want) < 1e-3, `${got} vs ${want}`);
      }
    }
    await assert.rejects(() => engine.run({}), /input "x" is missing/);
  } finally {
    await engine.close();
  }
});

Deno.test("graph refuses a value name used twice", () => {
  const g = createGraph("dup", { location: "x", write: () => 0, size: () => 0 });
  g.input("a", "float32", [1]);
  assert.throws(() => g.input("a", "float32", [1]), /used twice/);
});
