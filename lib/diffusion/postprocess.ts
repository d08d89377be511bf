/** Decoded VAE output -> 8-bit RGB, exactly as diffusers' VaeImageProcessor does it. */

import { roundHalfEven } from "./_round.ts";

/**
 * Converts one NCHW image in [-1, 1] (the VAE decoder's output, batch index 0) to HWC RGB bytes:
 * `(x * 0.5 + 0.5).clamp(0, 1)`, then `round(x * 255)` half-to-even, every step rounded to fp32.
 */
export function toRgb8(nchw: Float32Array, height: number, width: number): Uint8Array {
  const plane = height * width;
  if (nchw.length < 3 * plane) {
    throw new RangeError(`decoder output holds ${nchw.length} values, need ${3 * plane}`);
  }
  const out = new Uint8Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++) {
      let v = Math.fround(Math.fround(nchw[c * plane + i] * 0.5) + 0.5);
      v = v < 0 ? 0 : v > 1 ? 1 : v;
      out[i * 3 + c] = roundHalfEven(Math.fround(v * 255));
    }
  }
  return out;
}
