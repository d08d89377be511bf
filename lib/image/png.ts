/**
 * PNG encoder for 8-bit RGB images with text metadata (tEXt for Latin-1 text, iTXt for anything else, so UTF-8
 * prompts survive). Compression is the runtime's native zlib through `CompressionStream("deflate")`.
 *
 * @module
 */

import { deflateSync } from "node:zlib";
import { concat } from "../bytes.ts";

/** A text chunk: keyword (1-79 Latin-1 characters) and its value. */
export type PngText = readonly [keyword: string, text: string];

/** Options of {@linkcode encodePng}. */
export interface PngOptions {
  /** Text chunks written before the image data, in order. @default {[]} */
  text?: readonly PngText[];
}

const SIGNATURE = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]);
const latin1 = /^[\x20-\x7e\xa1-\xff\n]*$/;
const keywordChars = /^[\x20-\x7e\xa1-\xff]{1,79}$/;

/**
 * Encodes an RGB image (row-major HWC, 3 bytes per pixel) as PNG: IHDR, text chunks, one IDAT with per-row
 * adaptive filtering (minimum sum of absolute differences, libpng's heuristic), IEND.
 *
 * @param pixels width * height * 3 bytes
 * @param width image width in pixels
 * @param height image height in pixels
 * @param opts text metadata
 * @returns the PNG file
 */
export async function encodePng(
  pixels: Uint8Array,
  width: number,
  height: number,
  opts: PngOptions = {},
): Promise<Uint8Array> {
  const chunks = [header(pixels, width, height), ...(opts.text ?? []).map(textChunk)];
  chunks.push(chunk("IDAT", await deflate(filterRows(pixels, width, height))));
  chunks.push(chunk("IEND", new Uint8Array(0)));
  return concat([SIGNATURE, ...chunks]);
}

/** Encodes a small RGB image as PNG synchronously, without text (live previews between steps). */
export function encodePngSync(pixels: Uint8Array, width: number, height: number): Uint8Array {
  const idat = new Uint8Array(deflateSync(filterRows(pixels, width, height)));
  return concat([
    SIGNATURE,
    header(pixels, width, height),
    chunk("IDAT", idat),
    chunk("IEND", new Uint8Array(0)),
  ]);
}

/** The IHDR chunk of an 8-bit RGB image, after checking the sizes. */
function header(pixels: Uint8Array, width: number, height: number): Uint8Array {
  for (const [name, v] of [["width", width], ["height", height]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 0x7fffffff) {
      throw new RangeError(`Cannot encode PNG: ${name} must be a positive integer, got ${v}`);
    }
  }
  if (pixels.length !== width * height * 3) {
    throw new RangeError(
      `Cannot encode PNG: expected ${
        width * height * 3
      } bytes of RGB (${width}x${height}x3), got ${pixels.length}`,
    );
  }
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace
  return chunk("IHDR", ihdr);
}

/** A tEXt chunk when the value is Latin-1, an uncompressed iTXt chunk (UTF-8) otherwise. */
function textChunk([keyword, text]: PngText): Uint8Array {
  if (!keywordChars.test(keyword) || keyword !== keyword.trim() || keyword.includes("  ")) {
    throw new RangeError(
      `Cannot encode PNG: text keyword must be 1-79 Latin-1 characters without leading, trailing or double spaces, got ${
        JSON.stringify(keyword)
      }`,
    );
  }
  const key = latin1Bytes(keyword);
  if (latin1.test(text)) {
    return chunk("tEXt", concat([key, new Uint8Array([0]), latin1Bytes(text)]));
  }
  // keyword NUL, compression flag 0, method 0, empty language tag NUL, empty translated keyword NUL, UTF-8 text
  const head = new Uint8Array([0, 0, 0, 0, 0]);
  return chunk("iTXt", concat([key, head, new TextEncoder().encode(text)]));
}

function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * Prefixes every row with the filter byte that minimises the sum of |filtered byte as int8| (None, Sub, Up,
 * Average, Paeth), the heuristic recommended by the PNG specification.
 */
function filterRows(px: Uint8Array, width: number, height: number): Uint8Array {
  const stride = width * 3;
  const out = new Uint8Array(height * (stride + 1));
  const candidates = Array.from({ length: 5 }, () => new Uint8Array(stride));
  const zero = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const row = px.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? px.subarray((y - 1) * stride, y * stride) : zero;
    let best = 0;
    let bestCost = Infinity;
    for (let type = 0; type < 5; type++) {
      const cost = FILTERS[type](row, up, candidates[type]);
      if (cost < bestCost) {
        bestCost = cost;
        best = type;
      }
    }
    const o = y * (stride + 1);
    out[o] = best;
    out.set(candidates[best], o + 1);
  }
  return out;
}

/** Cost of a filtered byte: its magnitude read as int8. */
function cost(v: number): number {
  return v < 128 ? v : 256 - v;
}

type Filter = (row: Uint8Array, up: Uint8Array, dst: Uint8Array) => number;

// One tight loop per filter type (PNG spec section 9.2), each returning the row's cost; bpp = 3.
const FILTERS: readonly Filter[] = [
  function none(row, _up, dst) {
    let c = 0;
    for (let i = 0; i < row.length; i++) c += cost(dst[i] = row[i]);
    return c;
  },
  function sub(row, _up, dst) {
    let c = 0;
    for (let i = 0; i < row.length; i++) {
      c += cost(dst[i] = (row[i] - (i >= 3 ? row[i - 3] : 0)) & 0xff);
    }
    return c;
  },
  function up(row, up, dst) {
    let c = 0;
    for (let i = 0; i < row.length; i++) c += cost(dst[i] = (row[i] - up[i]) & 0xff);
    return c;
  },
  function average(row, up, dst) {
    let c = 0;
    for (let i = 0; i < row.length; i++) {
      c += cost(dst[i] = (row[i] - (((i >= 3 ? row[i - 3] : 0) + up[i]) >> 1)) & 0xff);
    }
    return c;
  },
  function paeth(row, up, dst) {
    let c = 0;
    for (let i = 0; i < row.length; i++) {
      const a = i >= 3 ? row[i - 3] : 0;
      const b = up[i];
      const d = i >= 3 ? up[i - 3] : 0;
      const pa = Math.abs(b - d);
      const pb = Math.abs(a - d);
      const pc = Math.abs(a + b - 2 * d);
      const pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : d;
      c += cost(dst[i] = (row[i] - pred) & 0xff);
    }
    return c;
  },
];

/** zlib-wrapped deflate (RFC 1950), as PNG requires, via the runtime's native compressor. */
async function deflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("deflate"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO 3309) over chunk type and data, as PNG specifies. */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
