import assert from "node:assert/strict";
import sharp from "sharp";
import { encodePng } from "../../lib/image/png.ts";
import { metadataText } from "../../lib/image/metadata.ts";

/**
 * Deterministic RGB test image whose rows cycle through contents that each favour one PNG filter
 * (zeros -> None, linear ramps -> Sub, repeated row -> Up, left/up means -> Average, Paeth predictions -> Paeth),
 * mixed with xorshift noise rows, so that the round trip covers all five filters.
 */
function image(width: number, height: number, seed = 7): Uint8Array {
  const stride = width * 3;
  const px = new Uint8Array(height * stride);
  let s = seed;
  const noise = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s & 0xff;
  };
  for (let y = 0; y < height; y++) {
    const mode = y === 0 ? 5 : y % 6;
    for (let i = 0; i < stride; i++) {
      const a = i >= 3 ? px[y * stride + i - 3] : 0;
      const b = y > 0 ? px[(y - 1) * stride + i] : 0;
      const c = i >= 3 && y > 0 ? px[(y - 1) * stride + i - 3] : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
        ? a
        : Math.abs(p - b) <= Math.abs(p - c)
        ? b
        : c;
      const values = [0, (i * 5 + y) & 0xff, b, (a + b) >> 1, i < 3 ? noise() : paeth, noise()];
      px[y * stride + i] = values[mode];
    }
  }
  return px;
}

/** Chunk types in file order, read straight from the bytes. */
function chunkTypes(png: Uint8Array): string[] {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const types: string[] = [];
  for (let o = 8; o < png.length; o += 12 + view.getUint32(o)) {
    types.push(String.fromCharCode(...png.subarray(o + 4, o + 8)));
  }
  return types;
}

/** Filter type byte of every row, from the inflated IDAT data. */
async function filterTypes(png: Uint8Array, width: number, height: number): Promise<Set<number>> {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let o = 8;
  while (String.fromCharCode(...png.subarray(o + 4, o + 8)) !== "IDAT") o += 12 + view.getUint32(o);
  const idat = png.slice(o + 8, o + 8 + view.getUint32(o));
  const stream = new Blob([idat]).stream().pipeThrough(new DecompressionStream("deflate"));
  const raw = new Uint8Array(await new Response(stream).arrayBuffer());
  assert.equal(raw.length, height * (width * 3 + 1));
  return new Set(Array.from({ length: height }, (_, y) => raw[y * (width * 3 + 1)]));
}

async function decode(png: Uint8Array) {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { pixels: new Uint8Array(data), info, meta: await sharp(png).metadata() };
}

Deno.test("encodePng() round-trips pixels through libvips (sharp) for several sizes", async () => {
  for (const [w, h] of [[1, 1], [3, 2], [64, 48], [257, 129]]) {
    const px = image(w, h);
    const png = await encodePng(px, w, h);
    assert.deepEqual(png.subarray(0, 8), new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]));
    const { pixels, info } = await decode(png);
    assert.deepEqual([info.width, info.height, info.channels], [w, h, 3]);
    assert.deepEqual(pixels, px, `${w}x${h}`);
  }
  // the large case must exercise all five filter types for the round trip to cover them
  assert.deepEqual(
    await filterTypes(await encodePng(image(257, 129), 257, 129), 257, 129),
    new Set([0, 1, 2, 3, 4]),
  );
});

Deno.test("encodePng() writes metadata as tEXt, and UTF-8 prompts as iTXt that decode back", async () => {
  const meta = {
    prompt: "一只可爱的猫坐在窗台上, café 😀",
    negativePrompt: "错误的眼睛，糟糕的人脸",
    seed: 42,
    steps: 50,
    guidanceScale: 5,
    sampler: "ddpm",
    model: "HunyuanDiT-v1.2",
  };
  const png = await encodePng(image(16, 16), 16, 16, { text: metadataText(meta) });
  assert.deepEqual(chunkTypes(png), [
    "IHDR",
    "iTXt",
    "iTXt",
    "tEXt",
    "tEXt",
    "tEXt",
    "tEXt",
    "tEXt",
    "tEXt",
    "IDAT",
    "IEND",
  ]);
  const { meta: read } = await decode(png);
  assert.deepEqual(read.comments, [
    { keyword: "prompt", text: meta.prompt },
    { keyword: "negative_prompt", text: meta.negativePrompt },
    { keyword: "seed", text: "42" },
    { keyword: "steps", text: "50" },
    { keyword: "guidance_scale", text: "5" },
    { keyword: "sampler", text: "ddpm" },
    { keyword: "model", text: "HunyuanDiT-v1.2" },
    { keyword: "Software", text: "hunyuandit-deno" },
  ]);
});

Deno.test("encodePng() rejects bad sizes, buffers and keywords", async () => {
  await assert.rejects(() => encodePng(new Uint8Array(5), 2, 1), /expected 6 bytes of RGB/);
  await assert.rejects(
    () => encodePng(new Uint8Array(0), 0, 1),
    /width must be a positive integer/,
  );
  await assert.rejects(
    () => encodePng(new Uint8Array(3), 1, 1, { text: [["", "x"]] }),
    /text keyword must be 1-79 Latin-1 characters/,
  );
  await assert.rejects(
    () => encodePng(new Uint8Array(3), 1, 1, { text: [["提示", "x"]] }),
    /text keyword/,
  );
});
