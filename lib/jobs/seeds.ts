/**
 * Per-image seeds of a job: image i uses (seed + i) mod 2^53, so every seed stays a safe integer
 * (0..2^53-1, the API's range) and n images always get n distinct seeds. Exact in float64: no sum
 * above 2^53-1 is ever formed.
 *
 * @module
 */

/** Seeds wrap at 2^53: the largest seed is 2^53 - 1 (Number.MAX_SAFE_INTEGER). */
export const SEED_MODULUS = 2 ** 53;

/** The seed of image `index` of a job whose first image uses `seed`: (seed + index) mod 2^53. */
export function imageSeed(seed: number, index: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0 || !Number.isSafeInteger(index) || index < 0) {
    throw new RangeError(`Cannot derive an image seed from seed ${seed}, index ${index}`);
  }
  const room = Number.MAX_SAFE_INTEGER - seed; // exact: both are safe integers
  return index <= room ? seed + index : index - room - 1;
}
