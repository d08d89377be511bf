/**
 * A deterministic pixel checker for pictures of one flat-coloured shape on a plain background (the
 * hydit-tiny domain): background colour from the border, the shape as the largest connected region
 * that differs from it, its colour from the region's core, and its kind from two geometric features
 * of the region (fill ratio of its bounding box, share of its area in the box's top half).
 */

/** Colour name -> sRGB. */
export type Palette = Record<string, readonly [number, number, number]>;

/** What the checker saw. `shape` and `colour` are null when no region stands out. */
export interface Verdict {
  background: string;
  colour: string | null;
  shape: string | null;
  /** Area / bounding-box area, and the share of the area in the box's top half. */
  fill: number;
  top: number;
}

/**
 * Feature prototypes (fill, top) of upright shapes as engines/train/shapes.py draws them, measured
 * on its renders: a square fills its box, a circle pi/4 of it, an apex-up triangle 1/2 with 1/4 of
 * its area in the top half, a five-pointed star about 0.36.
 */
const PROTOTYPES: Record<string, readonly [number, number]> = {
  square: [1.0, 0.5],
  circle: [0.785, 0.5],
  triangle: [0.51, 0.26],
  star: [0.356, 0.455],
};
/** Regions smaller than this many pixels are noise, not a shape. */
const MIN_AREA = 24;
/** Colours closer than this (RGB distance) to the background are background. */
const MIN_CONTRAST = 40;

type Rgb = [number, number, number];

function distance(a: readonly number[], b: readonly number[]): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

function median(values: number[]): number {
  const s = values.toSorted((a, b) => a - b);
  return s[s.length >> 1];
}

function medianRgb(rgb: Uint8Array, pixels: Iterable<number>): Rgb {
  const ch: number[][] = [[], [], []];
  for (const p of pixels) for (let c = 0; c < 3; c++) ch[c].push(rgb[p * 3 + c]);
  return [median(ch[0]), median(ch[1]), median(ch[2])];
}

/** The palette entry nearest to `rgb`. */
export function nearestColour(rgb: readonly number[], palette: Palette): string {
  let best = "";
  let bestD = Infinity;
  for (const [name, ref] of Object.entries(palette)) {
    const d = distance(rgb, ref);
    if (d < bestD) [best, bestD] = [name, d];
  }
  return best;
}

/** Pixel indices of the largest 4-connected region of `mask`. */
function largestRegion(mask: Uint8Array, width: number): number[] {
  const seen = new Uint8Array(mask.length);
  let best: number[] = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || seen[start]) continue;
    const region = [start];
    seen[start] = 1;
    for (let k = 0; k < region.length; k++) {
      const p = region[k];
      const x = p % width;
      const next = [x > 0 ? p - 1 : -1, x < width - 1 ? p + 1 : -1, p - width, p + width];
      for (const q of next) {
        if (q >= 0 && q < mask.length && mask[q] && !seen[q]) {
          seen[q] = 1;
          region.push(q);
        }
      }
    }
    if (region.length > best.length) best = region;
  }
  return best;
}

/** Fill ratio and top-half share of a region (pixel indices) in a `width`-wide image. */
function features(region: number[], width: number): { fill: number; top: number } {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -1, -1];
  for (const p of region) {
    const x = p % width;
    const y = (p - x) / width;
    [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
  }
  const h = y1 - y0 + 1;
  const upper = region.filter((p) => Math.floor(p / width) < y0 + h / 2).length;
  return { fill: region.length / ((x1 - x0 + 1) * h), top: upper / region.length };
}

function nearestShape(fill: number, top: number): string {
  let best = "";
  let bestD = Infinity;
  for (const [name, [f, t]] of Object.entries(PROTOTYPES)) {
    const d = Math.hypot(fill - f, top - t);
    if (d < bestD) [best, bestD] = [name, d];
  }
  return best;
}

/** Inspects an HWC RGB picture of one shape on a plain background. */
export function inspectShape(
  rgb: Uint8Array,
  width: number,
  height: number,
  palette: Palette,
): Verdict {
  const border: number[] = [];
  for (let x = 0; x < width; x++) border.push(x, x + width, (height - 1) * width + x);
  for (let y = 0; y < height; y++) border.push(y * width, y * width + width - 1);
  const bg = medianRgb(rgb, border);
  const background = nearestColour(bg, palette);

  const n = width * height;
  const away = new Float32Array(n);
  for (let p = 0; p < n; p++) away[p] = distance([rgb[p * 3], rgb[p * 3 + 1], rgb[p * 3 + 2]], bg);
  // The shape's colour: the median of the clearly different pixels; the region boundary lies
  // half-way between it and the background (anti-aliased edges split evenly).
  const different = [...away.keys()].filter((p) => away[p] > MIN_CONTRAST);
  if (different.length < MIN_AREA) {
    return { background, colour: null, shape: null, fill: 0, top: 0 };
  }
  const fg = medianRgb(rgb, different);
  const cut = Math.max(MIN_CONTRAST, distance(fg, bg) / 2);
  const mask = Uint8Array.from(away, (d) => d > cut ? 1 : 0);
  const region = largestRegion(mask, width);
  if (region.length < MIN_AREA) return { background, colour: null, shape: null, fill: 0, top: 0 };
  const core = region.filter((p) => away[p] > 1.5 * cut);
  const colour = nearestColour(medianRgb(rgb, core.length >= MIN_AREA ? core : region), palette);
  const { fill, top } = features(region, width);
  return { background, colour, shape: nearestShape(fill, top), fill, top };
}
