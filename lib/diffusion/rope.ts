/**
 * 2-D rotary position tables (cos/sin) for HunyuanDiT image tokens, computed on the host and fed to the
 * DiT as `cos_cis_img` / `sin_cis_img` (positions as trained: docs/model-decisions.md).
 *
 * @module
 */

import { roundHalfEven } from "./_round.ts";

/** Options of {@linkcode ropeTables}; the defaults describe the 1.5B HunyuanDiT checkpoints. */
export interface RopeOptions {
  /** Attention head dimension; must be a multiple of 4. @default {88} */
  headDim?: number;
  /** Transformer patch size in latent pixels. @default {2} */
  patchSize?: number;
  /** VAE down-sampling factor (image pixels per latent pixel). @default {8} */
  vaeScaleFactor?: number;
  /** Side of the square base grid the crop region lives on (Tencent "base512": 512 / 8 / 2). @default {32} */
  baseSize?: number;
  /** RoPE theta. @default {10000} */
  theta?: number;
  /** Look up and store the result in the per-size cache; false always builds fresh, caller-owned tables. @default {true} */
  cache?: boolean;
}

/** RoPE tables for one image size. Shared from a cache unless built with `cache: false`: do not mutate. */
export interface RopeTables {
  /** cos table, row-major [gridH * gridW, headDim], fp32. */
  cos: Float32Array;
  /** sin table, row-major [gridH * gridW, headDim], fp32. */
  sin: Float32Array;
  /** Tokens per column (image height / vaeScaleFactor / patchSize, floored). */
  gridH: number;
  /** Tokens per row (image width / vaeScaleFactor / patchSize, floored). */
  gridW: number;
  /** Crop region on the base grid: [[top, left], [bottom, right]]. */
  crop: [[number, number], [number, number]];
}

/** Bytes of tables the per-size cache keeps (least recently used sizes go first). */
export const ROPE_CACHE_BYTES = 64 * 2 ** 20;

// Insertion order is recency order: a hit is moved to the end, eviction takes from the front.
const cache = new Map<string, RopeTables>();
let cachedBytes = 0;

function remember(key: string, tables: RopeTables): void {
  cache.set(key, tables);
  cachedBytes += tables.cos.byteLength + tables.sin.byteLength;
  for (const [oldKey, old] of cache) {
    if (cachedBytes <= ROPE_CACHE_BYTES || oldKey === key) break;
    cache.delete(oldKey);
    cachedBytes -= old.cos.byteLength + old.sin.byteLength;
  }
}

/**
 * Returns the RoPE cos/sin tables [N, headDim] for an image of `height` x `width` pixels, N = gridH * gridW
 * tokens in row-major patch order.
 *
 * Layout (the one the model was trained with): dims 0..headDim/2-1 encode the W (column) coordinate, dims
 * headDim/2.. the H (row) coordinate; each frequency appears twice in a row (repeat-interleaved pairs);
 * f_k = 1 / theta^(2k / (headDim/2)).
 *
 * Positions follow Tencent's training code and diffusers' numpy path `_get_2d_rotary_pos_embed_np`:
 * `np.linspace(start, stop, n, endpoint=False, dtype=float32)` over the crop region. diffusers' current torch
 * path (`get_2d_rotary_pos_embed(output_type="pt")`, used by its pipeline) instead uses
 * `torch.linspace(start, stop * (n - 1) / n, n)`, which equals this only when start == 0: for non-square sizes
 * with a non-zero crop offset its positions drift by up to 0.125 (16:9). Square sizes are identical.
 *
 * Precision: every step repeats the fp32 computation order of the reference (float64 linspace rounded to fp32,
 * fp32 exponent / pow / reciprocal / outer product); cos and sin are correctly rounded from the fp32 angle,
 * while torch's vectorised CPU cos/sin are accurate to 1 ulp, so entries match the reference within 1 ulp.
 *
 * The result is cached per (size, options), up to {@linkcode ROPE_CACHE_BYTES} of tables with the least
 * recently used sizes evicted first, and returned as the same object while cached: do not mutate it (pass
 * `cache: false` for a private copy).
 *
 * @param height image height in pixels
 * @param width image width in pixels
 * @param opts model geometry (defaults: the 1.5B model)
 * @returns the tables, grid size and crop region
 */
export function ropeTables(height: number, width: number, opts: RopeOptions = {}): RopeTables {
  const headDim = opts.headDim ?? 88;
  const patchSize = opts.patchSize ?? 2;
  const vaeScaleFactor = opts.vaeScaleFactor ?? 8;
  const baseSize = opts.baseSize ?? 32;
  const theta = opts.theta ?? 10000;
  checkPositiveInteger("height", height);
  checkPositiveInteger("width", width);
  checkPositiveInteger("headDim", headDim);
  checkPositiveInteger("patchSize", patchSize);
  checkPositiveInteger("vaeScaleFactor", vaeScaleFactor);
  checkPositiveInteger("baseSize", baseSize);
  if (headDim % 4 !== 0) {
    throw new RangeError(
      `Cannot build RoPE tables: headDim must be a multiple of 4, got ${headDim}`,
    );
  }
  if (!(theta > 0)) {
    throw new RangeError(`Cannot build RoPE tables: theta must be > 0, got ${theta}`);
  }
  const key = `${height}x${width}/${headDim}/${patchSize}/${vaeScaleFactor}/${baseSize}/${theta}`;
  const useCache = opts.cache ?? true;
  const hit = useCache ? cache.get(key) : undefined;
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }

  const gridH = Math.floor(Math.floor(height / vaeScaleFactor) / patchSize);
  const gridW = Math.floor(Math.floor(width / vaeScaleFactor) / patchSize);
  if (gridH < 1 || gridW < 1) {
    throw new RangeError(
      `Cannot build RoPE tables: ${height}x${width} is smaller than one ${
        vaeScaleFactor * patchSize
      }-pixel patch`,
    );
  }
  const crop = cropRegion(gridH, gridW, baseSize);
  const posH = linspaceEndpointFalse(crop[0][0], crop[1][0], gridH);
  const posW = linspaceEndpointFalse(crop[0][1], crop[1][1], gridW);
  const half = headDim / 2;
  const freqs = frequencies(half, theta);
  const colCos = axisTable(posW, freqs, Math.cos);
  const colSin = axisTable(posW, freqs, Math.sin);
  const rowCos = axisTable(posH, freqs, Math.cos);
  const rowSin = axisTable(posH, freqs, Math.sin);

  const n = gridH * gridW;
  const cos = new Float32Array(n * headDim);
  const sin = new Float32Array(n * headDim);
  const nf = freqs.length;
  for (let r = 0; r < gridH; r++) {
    for (let c = 0; c < gridW; c++) {
      const base = (r * gridW + c) * headDim;
      for (let k = 0; k < nf; k++) {
        const w = c * nf + k;
        const h = r * nf + k;
        cos[base + 2 * k] = cos[base + 2 * k + 1] = colCos[w];
        sin[base + 2 * k] = sin[base + 2 * k + 1] = colSin[w];
        cos[base + half + 2 * k] = cos[base + half + 2 * k + 1] = rowCos[h];
        sin[base + half + 2 * k] = sin[base + half + 2 * k + 1] = rowSin[h];
      }
    }
  }
  const tables: RopeTables = { cos, sin, gridH, gridW, crop };
  if (useCache) remember(key, tables);
  return tables;
}

/**
 * Crop region of a `gridH` x `gridW` token grid fitted into the square base grid, as diffusers'
 * `get_resize_crop_region_for_grid` / Tencent's `get_fill_resize_and_crop` (Python round-half-to-even).
 *
 * @param gridH tokens per column
 * @param gridW tokens per row
 * @param baseSize side of the base grid
 * @returns [[top, left], [bottom, right]]
 */
export function cropRegion(
  gridH: number,
  gridW: number,
  baseSize = 32,
): [[number, number], [number, number]] {
  let resizeH: number;
  let resizeW: number;
  if (gridH / gridW > 1) {
    resizeH = baseSize;
    resizeW = roundHalfEven((baseSize / gridH) * gridW);
  } else {
    resizeW = baseSize;
    resizeH = roundHalfEven((baseSize / gridW) * gridH);
  }
  const top = roundHalfEven((baseSize - resizeH) / 2);
  const left = roundHalfEven((baseSize - resizeW) / 2);
  return [[top, left], [top + resizeH, left + resizeW]];
}

/** np.linspace(start, stop, n, endpoint=False, dtype=float32): float64 `i * step + start`, rounded once to fp32. */
function linspaceEndpointFalse(start: number, stop: number, n: number): Float32Array {
  const out = new Float32Array(n);
  const step = (stop - start) / n;
  for (let i = 0; i < n; i++) out[i] = i * step + start;
  return out;
}

/** 1 / theta^(arange(0, dim, 2) / dim) in fp32, op by op as torch computes it. */
function frequencies(dim: number, theta: number): Float32Array {
  const f = new Float32Array(dim / 2);
  for (let k = 0; k < f.length; k++) {
    const exponent = Math.fround((2 * k) / dim);
    f[k] = 1 / Math.fround(Math.pow(theta, exponent));
  }
  return f;
}

/** fn(fp32(pos[i] * f[k])) for every position and frequency, row-major [pos, freq]. */
function axisTable(
  pos: Float32Array,
  freqs: Float32Array,
  fn: (x: number) => number,
): Float32Array {
  const out = new Float32Array(pos.length * freqs.length);
  for (let i = 0; i < pos.length; i++) {
    for (let k = 0; k < freqs.length; k++) {
      out[i * freqs.length + k] = fn(Math.fround(pos[i] * freqs[k]));
    }
  }
  return out;
}

function checkPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(
      `Cannot build RoPE tables: ${name} must be a positive integer, got ${value}`,
    );
  }
}
