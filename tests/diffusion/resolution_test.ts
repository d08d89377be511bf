import assert from "node:assert/strict";
import {
  binResolution,
  isStandardSize,
  mapToStandardSize,
  SizeError,
  STANDARD_SIZES,
  validateSize,
} from "../../lib/diffusion/resolution.ts";
import { golden } from "./_golden.ts";

Deno.test("STANDARD_SIZES lists diffusers' 10 supported shapes", () => {
  const sizes = golden.rope.filter((c: { headDim?: number }) => !c.headDim).slice(0, 10);
  assert.deepEqual(
    STANDARD_SIZES.map((s) => [s.width, s.height]),
    sizes.map((c: { width: number; height: number }) => [c.width, c.height]),
  );
  assert.ok(STANDARD_SIZES.every(isStandardSize));
});

Deno.test("binResolution() matches diffusers' floor-to-16 + map_to_standard_shapes", () => {
  assert.ok(golden.binning.length >= 20);
  for (const c of golden.binning) {
    assert.deepEqual(
      binResolution({ width: c.width, height: c.height }),
      { width: c.binnedWidth, height: c.binnedHeight },
      `${c.width}x${c.height}`,
    );
  }
  assert.deepEqual(mapToStandardSize({ width: 1920, height: 1080 }), { width: 1280, height: 768 });
});

Deno.test("validateSize() names the offending field", () => {
  validateSize({ width: 1024, height: 768 });
  const fieldOf = (fn: () => void) => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof SizeError);
      return [e.field, e.message];
    }
    assert.fail("expected a SizeError");
  };
  assert.deepEqual(fieldOf(() => validateSize({ width: 1000, height: 1024 })), [
    "width",
    "Invalid width: must be a multiple of 16, got 1000 (nearest: 992)",
  ]);
  assert.equal(fieldOf(() => validateSize({ width: 1024, height: 4096 }))[0], "height");
  assert.equal(fieldOf(() => validateSize({ width: 1024, height: 128 }))[0], "height");
  assert.equal(fieldOf(() => validateSize({ width: 10.5, height: 1024 }))[0], "width");
  assert.equal(
    fieldOf(() => validateSize({ width: 1024, height: 1024 }, { max: 960 }))[0],
    "width",
  );
});
