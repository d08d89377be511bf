/**
 * Image sizes: the 10 standard HunyuanDiT resolutions, diffusers' resolution binning and request validation
 * (its defaults: docs/model-decisions.md).
 *
 * @module
 */

/** An image size in pixels. */
export interface ImageSize {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/** The 10 standard sizes as (width, height), grouped as diffusers' STANDARD_SHAPE (1:1, 4:3, 3:4, 16:9, 9:16). */
export const STANDARD_SIZES: readonly ImageSize[] = Object.freeze([
  { width: 1024, height: 1024 },
  { width: 1280, height: 1280 },
  { width: 1024, height: 768 },
  { width: 1152, height: 864 },
  { width: 1280, height: 960 },
  { width: 768, height: 1024 },
  { width: 864, height: 1152 },
  { width: 960, height: 1280 },
  { width: 1280, height: 768 },
  { width: 768, height: 1280 },
].map((s) => Object.freeze(s)));

// STANDARD_RATIO and the per-ratio groups of STANDARD_SIZES (diffusers pipeline_hunyuandit.py).
const RATIOS = [1, 4 / 3, 3 / 4, 16 / 9, 9 / 16];
const GROUPS: readonly (readonly ImageSize[])[] = [
  STANDARD_SIZES.slice(0, 2),
  STANDARD_SIZES.slice(2, 5),
  STANDARD_SIZES.slice(5, 8),
  STANDARD_SIZES.slice(8, 9),
  STANDARD_SIZES.slice(9, 10),
];

/**
 * Whether `size` is one of the 10 standard sizes.
 *
 * @param size the size to test
 * @returns true for a standard size
 */
export function isStandardSize(size: ImageSize): boolean {
  return STANDARD_SIZES.some((s) => s.width === size.width && s.height === size.height);
}

/**
 * The standard size closest to `size`, as diffusers' `map_to_standard_shapes`: the nearest aspect ratio
 * (width / height) first, then the nearest area within that ratio (first one on ties, like `np.argmin`).
 *
 * @param size the requested size
 * @returns a standard size
 */
export function mapToStandardSize(size: ImageSize): ImageSize {
  const ratio = size.width / size.height;
  const group = GROUPS[argmin(RATIOS.map((r) => Math.abs(r - ratio)))];
  const area = size.width * size.height;
  return group[argmin(group.map((s) => Math.abs(s.width * s.height - area)))];
}

/**
 * What diffusers' HunyuanDiTPipeline does with a requested size: floor both sides to multiples of 16, then,
 * unless that is a standard size, map it to the nearest standard size.
 *
 * @param size the requested size
 * @returns the size that will be generated
 */
export function binResolution(size: ImageSize): ImageSize {
  const floored = {
    width: Math.floor(size.width / 16) * 16,
    height: Math.floor(size.height / 16) * 16,
  };
  return isStandardSize(floored) ? floored : mapToStandardSize(floored);
}

/** Limits of {@linkcode validateSize}. */
export interface SizeLimits {
  /** Smallest accepted side in pixels. @default {256} */
  min?: number;
  /** Largest accepted side in pixels. @default {2048} */
  max?: number;
  /** Every side must be a multiple of this (VAE factor 8 x patch size 2). @default {16} */
  multipleOf?: number;
}

/** A bad width or height; `field` names the offending field ("width" or "height"). */
export class SizeError extends RangeError {
  /** The field that failed validation. */
  readonly field: "width" | "height";

  /**
   * Creates the error.
   *
   * @param field the offending field
   * @param message what is wrong with it
   */
  constructor(field: "width" | "height", message: string) {
    super(message);
    this.name = "SizeError";
    this.field = field;
  }
}

/**
 * Checks a requested size: integer sides, multiples of `multipleOf`, within [min, max].
 * Throws a {@linkcode SizeError} naming the first bad field.
 *
 * @param size the requested size
 * @param limits bounds (defaults: 256..2048, multiples of 16)
 */
export function validateSize(size: ImageSize, limits: SizeLimits = {}): void {
  const min = limits.min ?? 256;
  const max = limits.max ?? 2048;
  const multipleOf = limits.multipleOf ?? 16;
  for (const field of ["width", "height"] as const) {
    const v = size[field];
    if (!Number.isInteger(v)) {
      throw new SizeError(field, `Invalid ${field}: must be an integer number of pixels, got ${v}`);
    }
    if (v < min || v > max) {
      throw new SizeError(field, `Invalid ${field}: must be between ${min} and ${max}, got ${v}`);
    }
    if (v % multipleOf !== 0) {
      throw new SizeError(
        field,
        `Invalid ${field}: must be a multiple of ${multipleOf}, got ${v} (nearest: ${
          Math.floor(v / multipleOf) * multipleOf
        })`,
      );
    }
  }
}

function argmin(values: number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] < values[best]) best = i;
  return best;
}
