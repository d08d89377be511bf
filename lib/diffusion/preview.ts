/**
 * Live previews: a cheap linear projection of latents to RGB (one 3 x (channels + 1) matrix, no
 * VAE), fitted by least squares on the model's own VAE decodes (every finished decode adds to the
 * fit, the warm-up's first), applied to the denoiser's predicted final latents after every step.
 * The preview has one pixel per latent pixel.
 *
 * @module
 */
import { VAE_FACTOR } from "./denoise.ts";

/** Latent-to-RGB projection: for each of R, G, B, `channels` weights then a bias (0..255 scale). */
export interface LatentProjection {
  channels: number;
  weights: Float64Array;
}

/** Latents [channels, h, w] and the image [h*8, w*8, 3] the VAE decoded them to. */
export interface DecodedPair {
  latents: Float32Array;
  channels: number;
  height: number;
  width: number;
  rgb: Uint8Array;
}

/** Solves the square system `a x = b` (row-major `a`, n x n) by Gaussian elimination with pivoting. */
function solve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const x = Float64Array.from(b);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) {
      if (Math.abs(m[r * n + col]) > Math.abs(m[pivot * n + col])) pivot = r;
    }
    for (let k = 0; k < n; k++) {
      [m[col * n + k], m[pivot * n + k]] = [m[pivot * n + k], m[col * n + k]];
    }
    [x[col], x[pivot]] = [x[pivot], x[col]];
    const d = m[col * n + col] || 1e-12;
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r * n + col] / d;
      for (let k = col; k < n; k++) m[r * n + k] -= f * m[col * n + k];
      x[r] -= f * x[col];
    }
  }
  for (let i = 0; i < n; i++) x[i] /= m[i * n + i] || 1e-12;
  return x;
}

/** Running least-squares sums of a projection fit, over every decode added so far. */
export interface ProjectionFit {
  channels: number;
  /** Latent pixels added. */
  count: number;
  /** (channels + 1)^2 sums of x x^T and 3 x (channels + 1) sums of x * colour. */
  xx: Float64Array;
  xy: Float64Array;
}

/** An empty fit for latents with `channels` channels. */
export function emptyFit(channels: number): ProjectionFit {
  const n = channels + 1;
  return { channels, count: 0, xx: new Float64Array(n * n), xy: new Float64Array(3 * n) };
}

/**
 * Adds one decode to the fit: each latent pixel against the mean colour of the 8 x 8 image block it
 * decodes to.
 */
export function addDecode(fit: ProjectionFit, pair: DecodedPair): void {
  const { latents, channels: c, height: h, width: w, rgb } = pair;
  if (c !== fit.channels) {
    throw new RangeError(`Cannot fit preview: ${c} channels, expected ${fit.channels}`);
  }
  const n = c + 1;
  const row = new Float64Array(n);
  const W = w * VAE_FACTOR;
  const area = VAE_FACTOR * VAE_FACTOR;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) row[k] = latents[(k * h + y) * w + x];
      row[c] = 1;
      const mean = [0, 0, 0];
      for (let dy = 0; dy < VAE_FACTOR; dy++) {
        const p0 = ((y * VAE_FACTOR + dy) * W + x * VAE_FACTOR) * 3;
        for (let i = 0; i < VAE_FACTOR * 3; i++) mean[i % 3] += rgb[p0 + i];
      }
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) fit.xx[i * n + j] += row[i] * row[j];
        for (let ch = 0; ch < 3; ch++) fit.xy[ch * n + i] += row[i] * mean[ch] / area;
      }
    }
  }
  fit.count += h * w;
}

/** The least-squares projection of the decodes added so far (a small ridge), or null before any. */
export function solveFit(fit: ProjectionFit): LatentProjection | null {
  if (fit.count === 0) return null;
  const c = fit.channels;
  const n = c + 1;
  const xx = Float64Array.from(fit.xx);
  for (let i = 0; i < c; i++) xx[i * n + i] += 1e-3 * fit.count;
  const weights = new Float64Array(3 * n);
  for (let ch = 0; ch < 3; ch++) {
    weights.set(solve(xx, fit.xy.subarray(ch * n, (ch + 1) * n), n), ch * n);
  }
  return { channels: c, weights };
}

/** A preview image: HWC RGB bytes. */
export interface PreviewImage {
  rgb: Uint8Array;
  width: number;
  height: number;
}

/**
 * Projects latents [channels, h, w] to RGB, one pixel per latent pixel, every `stride`-th one so
 * that the longer side is at most `maxSide`.
 */
export function projectLatents(
  projection: LatentProjection,
  latents: Float32Array,
  size: { height: number; width: number; maxSide: number },
): PreviewImage {
  const { channels: c, weights } = projection;
  const n = c + 1;
  const { height: h, width: w } = size;
  const stride = Math.max(1, Math.ceil(Math.max(h, w) / size.maxSide));
  const height = Math.ceil(h / stride);
  const width = Math.ceil(w / stride);
  const rgb = new Uint8Array(height * width * 3);
  const plane = h * w;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * stride * w + x * stride;
      const o = (y * width + x) * 3;
      for (let ch = 0; ch < 3; ch++) {
        let v = weights[ch * n + c];
        for (let k = 0; k < c; k++) v += weights[ch * n + k] * latents[k * plane + p];
        rgb[o + ch] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
      }
    }
  }
  return { rgb, width, height };
}
