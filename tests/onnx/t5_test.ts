import assert from "node:assert/strict";
import { parseT5Config, relativeBucket } from "../../lib/onnx/t5.ts";
import { GOLDEN } from "../engine/goldens.ts";

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

Deno.test("parseT5Config() reads the tiny config and rejects what it cannot build, naming the key", async () => {
  const raw = JSON.parse(
    await Deno.readTextFile(`${GOLDEN}tiny/tiny-v12/text_encoder_2/config.json`),
  );
  const cfg = parseT5Config(raw);
  assert.equal(cfg.dModel, 48);
  assert.ok(cfg.heads > 0 && cfg.dKv > 0 && cfg.layers > 0);
  assert.throws(
    () => parseT5Config({ ...raw, feed_forward_proj: "relu" }),
    /config key "feed_forward_proj"/,
  );
  assert.throws(() => parseT5Config({ ...raw, d_model: undefined }), /config key "d_model"/);
  assert.throws(() => parseT5Config({ ...raw, layer_norm_epsilon: "x" }), /"layer_norm_epsilon"/);
});
