/**
 * Per-step and per-request conditioning inputs of the DiT besides the text: the timestep vector, and for
 * v1.0/v1.1 checkpoints `image_meta_size` and `style` (their order: docs/model-decisions.md).
 *
 * @module
 */

/**
 * The DiT's `t` input for one step: the raw integer timestep (not divided by T), repeated for the whole
 * CFG batch. Engines cast it to their dtype (fp16 holds every integer up to 2048 exactly).
 *
 * @param t the scheduler timestep
 * @param batch rows of the CFG batch (2 per image with guidance)
 * @param out optional destination of length `batch`, reused across steps
 * @returns [batch] fp32
 */
export function timestepInput(t: number, batch: number, out?: Float32Array): Float32Array {
  if (!Number.isInteger(t) || t < 0) {
    throw new RangeError(`Cannot build timestep input: t must be a non-negative integer, got ${t}`);
  }
  checkBatch("timestep input", batch);
  const v = out ?? new Float32Array(batch);
  if (v.length !== batch) {
    throw new RangeError(`Cannot build timestep input: out has ${v.length} values, needs ${batch}`);
  }
  return v.fill(t);
}

/** Order of the size values in `image_meta_size`. */
export type MetaSizeOrder = "width-first" | "height-first";

/** Options of {@linkcode imageMetaSize}. */
export interface ImageMetaSizeOptions {
  /**
   * "width-first" is what Tencent's v1.0/v1.1 checkpoints were trained with (PIL (W, H) sizes, crop (left, top))
   * and what Tencent's inference feeds: [origW, origH, W, H, left, top]. "height-first" is diffusers' (and
   * ComfyUI's) order [origH, origW, H, W, top, left]; the two agree for square sizes only.
   * @default {"width-first"}
   */
  order?: MetaSizeOrder;
  /** Original size condition (width, height). @default {{ width: 1024, height: 1024 }} */
  originalSize?: { width: number; height: number };
  /** Crop offset (left, top). @default {{ left: 0, top: 0 }} */
  cropTopLeft?: { left: number; top: number };
  /** Rows to fill (2 per image with guidance). @default {2} */
  batch?: number;
}

/**
 * The v1.0/v1.1 `image_meta_size` input [batch, 6] for a target image of `width` x `height` (v1.2 and later
 * checkpoints take no such input). Default: [1024, 1024, width, height, 0, 0] per row, the trained order.
 *
 * @param width target width in pixels
 * @param height target height in pixels
 * @param opts order, original size, crop and batch
 * @returns [batch * 6] fp32, row-major
 */
export function imageMetaSize(
  width: number,
  height: number,
  opts: ImageMetaSizeOptions = {},
): Float32Array {
  const order = opts.order ?? "width-first";
  const orig = opts.originalSize ?? { width: 1024, height: 1024 };
  const crop = opts.cropTopLeft ?? { left: 0, top: 0 };
  const batch = opts.batch ?? 2;
  checkBatch("image_meta_size", batch);
  let row: number[];
  if (order === "width-first") {
    row = [orig.width, orig.height, width, height, crop.left, crop.top];
  } else if (order === "height-first") {
    row = [orig.height, orig.width, height, width, crop.top, crop.left];
  } else {
    throw new RangeError(
      `Cannot build image_meta_size: order must be "width-first" or "height-first", got ${
        JSON.stringify(order)
      }`,
    );
  }
  if (row.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new RangeError(
      `Cannot build image_meta_size: sizes must be non-negative integers, got [${row.join(", ")}]`,
    );
  }
  const out = new Float32Array(batch * 6);
  for (let b = 0; b < batch; b++) out.set(row, b * 6);
  return out;
}

/**
 * The v1.0/v1.1 `style` input: style index 0 for every row (diffusers keeps only row 0 of the style table).
 *
 * @param batch rows (2 per image with guidance) @default {2}
 * @returns [batch] int64 zeros
 */
export function styleInput(batch = 2): BigInt64Array {
  checkBatch("style input", batch);
  return new BigInt64Array(batch);
}

function checkBatch(what: string, batch: number): void {
  if (!Number.isInteger(batch) || batch < 1) {
    throw new RangeError(`Cannot build ${what}: batch must be a positive integer, got ${batch}`);
  }
}
