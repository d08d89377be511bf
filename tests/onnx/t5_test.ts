import assert from "node:assert/strict";
import { buildComponent } from "../../engines/build.ts";
import { loadOnnxEngine } from "../../lib/engine/onnx.ts";
import { relativeBucket } from "../../lib/onnx/t5.ts";
import { compare, GOLDEN, goldenCases, goldenFeeds, goldenOutput } from "./engine_goldens.ts";

Deno.test("relative position buckets follow transformers' bidirectional rule", () => {
  // 32 buckets, max distance 128: 16 per direction, exact below 8, logarithmic up to 128.
  const expected: [number, number][] = [
    [0, 0],
    [-1, 1],
    [1, 17],
    [-7, 7],
    [-8, 8],
    [-15, 9],
    [-16, 10],
    [-31, 11],
    [-32, 12],
    [-64, 14],
    [-127, 15],
    [-500, 15],
    [16, 26],
    [500, 31],
  ];
  for (const [rel, bucket] of expected) {
    assert.equal(relativeBucket(rel, 32, 128), bucket, `rel ${rel}`);
  }
});

Deno.test("relative position buckets equal transformers' for -1023..1023 (golden)", async () => {
  const cases: { num_buckets: number; max_distance: number; first: number; buckets: number[] }[] =
    JSON
      .parse(await Deno.readTextFile(`${GOLDEN}t5/buckets.json`));
  for (const c of cases) {
    c.buckets.forEach((want, i) => {
      const rel = c.first + i;
      assert.equal(
        relativeBucket(rel, c.num_buckets, c.max_distance),
        want,
        `${c.num_buckets}/${c.max_distance} rel ${rel}`,
      );
    });
  }
});

for (const precision of ["fp32", "fp16"] as const) {
  Deno.test(`mT5 encoder ${precision} profile matches transformers`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "t5_test_" });
    try {
      const built = await buildComponent(
        `${GOLDEN}tiny/tiny-v12`,
        "text_encoder_2",
        dir,
        precision,
      );
      const engine = await loadOnnxEngine(`${dir}/${built.entry.file}`, { threads: 1 });
      try {
        const c = (await goldenCases()).mt5;
        const out = await engine.run(await goldenFeeds(c, engine));
        const err = compare(out.last_hidden_state, await goldenOutput(c, "last_hidden_state"));
        // mT5 stays fp32 in the fp16 profile (it overflows in fp16), so both meet the fp32 bound.
        assert.equal(out.last_hidden_state.dtype, "float32");
        assert.ok(
          err.relL2 < 1e-5 && err.maxAbs < 1e-4,
          `rel L2 ${err.relL2}, max abs ${err.maxAbs}`,
        );
      } finally {
        await engine.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
