import assert from "node:assert/strict";
import { imageMetaSize, styleInput, timestepInput } from "../../lib/diffusion/conditioning.ts";
import { golden } from "./_golden.ts";

Deno.test("imageMetaSize() gives Tencent's W-first order by default and diffusers' H-first on request", () => {
  for (const c of golden.conditioning) {
    const w = imageMetaSize(c.width, c.height);
    assert.deepEqual([...w], [...c.tencent, ...c.tencent], `${c.width}x${c.height} width-first`);
    const h = imageMetaSize(c.width, c.height, { order: "height-first", batch: 1 });
    assert.deepEqual([...h], c.diffusers, `${c.width}x${c.height} height-first`);
  }
  assert.deepEqual(
    [...imageMetaSize(1280, 768, {
      originalSize: { width: 2000, height: 1000 },
      cropTopLeft: { left: 3, top: 5 },
      batch: 1,
    })],
    [2000, 1000, 1280, 768, 3, 5],
  );
  assert.throws(() => imageMetaSize(-1, 768), /non-negative integers/);
});

Deno.test("timestepInput() repeats the raw timestep and reuses out", () => {
  assert.deepEqual([...timestepInput(981, 2)], [981, 981]);
  const out = new Float32Array(2);
  assert.equal(timestepInput(1, 2, out), out);
  assert.deepEqual([...out], [1, 1]);
  assert.throws(() => timestepInput(1.5, 2), /non-negative integer/);
  assert.throws(() => timestepInput(1, 3, out), /out has 2 values/);
});

Deno.test("styleInput() is int64 zeros", () => {
  assert.deepEqual(styleInput(), new BigInt64Array(2));
  assert.throws(() => styleInput(0), /batch must be a positive integer/);
});
