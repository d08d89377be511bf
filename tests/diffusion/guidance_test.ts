import assert from "node:assert/strict";
import { combineGuidance } from "../../lib/diffusion/guidance.ts";
import { arr, assertClose, golden, maxUlps } from "./_golden.ts";

// Tolerances: without rescale bit-identical (same fp32 op order). With rescale |diff| <= 1e-6 relative
// + 1e-7 absolute: torch's fp32 std vs our float64-accumulated std can differ in the last bit.
Deno.test("combineGuidance() matches diffusers with and without guidance_rescale", () => {
  for (const c of golden.guidance) {
    const model = arr(c.model);
    const expected = arr(c.expected);
    const got = combineGuidance(model, [2 * c.batch, c.channels, c.height, c.width], {
      guidanceScale: c.guidanceScale,
      guidanceRescale: c.guidanceRescale,
    });
    const label =
      `B${c.batch} C${c.channels} ${c.height}x${c.width} g${c.guidanceScale} r${c.guidanceRescale}`;
    if (c.guidanceRescale === 0) assert.equal(maxUlps(got, expected), 0, label);
    else assertClose(got, expected, 1e-6, 1e-7, label);
  }
});

Deno.test("combineGuidance() writes into out and checks shapes", () => {
  const c = golden.guidance[0];
  const out = new Float32Array(4 * c.height * c.width);
  const shape = [2, c.channels, c.height, c.width] as const;
  assert.equal(combineGuidance(arr(c.model), shape, { guidanceScale: c.guidanceScale, out }), out);
  assert.deepEqual(out, arr(c.expected));
  assert.throws(
    () => combineGuidance(new Float32Array(10), shape, { guidanceScale: 5 }),
    /modelOutput has 10/,
  );
  assert.throws(
    () => combineGuidance(arr(c.model), [3, 8, 8, 8], { guidanceScale: 5 }),
    /\[2B, C, h, w\]/,
  );
  assert.throws(
    () => combineGuidance(arr(c.model), shape, { guidanceScale: 5, guidanceRescale: 2 }),
    /guidanceRescale must be in \[0, 1\]/,
  );
  assert.throws(
    () => combineGuidance(arr(c.model), shape, { guidanceScale: 5, out: new Float32Array(3) }),
    /out has 3/,
  );
});
