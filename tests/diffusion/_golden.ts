/**
 * Loads tests/golden/data/diffusion (written by tests/golden/gen_diffusion.py) and compares fp32 arrays.
 *
 * @module
 */

import assert from "node:assert/strict";

/** A float32 block of diffusion.bin. */
export interface Ref {
  offset: number;
  length: number;
}

const dir = new URL("../golden/data/diffusion/", import.meta.url);

// deno-lint-ignore no-explicit-any
export const golden: any = JSON.parse(Deno.readTextFileSync(new URL("index.json", dir)));
const blob = Deno.readFileSync(new URL(golden.blob, dir));

/** The float32 values of a golden block (a copy). */
export function arr(ref: Ref): Float32Array {
  return new Float32Array(
    blob.buffer.slice(blob.byteOffset + ref.offset, blob.byteOffset + ref.offset + ref.length * 4),
  );
}

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);

/** Position of an fp32 value on a monotonic integer line, so that ulp distance is a difference. */
function ordinal(x: number): number {
  f32[0] = x;
  const i = i32[0];
  return i < 0 ? -0x80000000 - i : i;
}

/** Distance between two fp32 values in units in the last place (0 when bit-identical or both zero). */
export function ulps(a: number, b: number): number {
  return Math.abs(ordinal(a) - ordinal(b));
}

/** Largest ulp distance between two arrays of equal length. */
export function maxUlps(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, "length");
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, ulps(actual[i], expected[i]));
  return worst;
}

/** Asserts |a - e| <= atol + rtol * |e| everywhere and returns the largest absolute difference. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  atol: number,
  what: string,
): number {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    worst = Math.max(worst, d);
    if (!(d <= atol + rtol * Math.abs(expected[i]))) {
      assert.fail(
        `${what}[${i}]: got ${actual[i]}, expected ${expected[i]} (rtol ${rtol}, atol ${atol})`,
      );
    }
  }
  return worst;
}
