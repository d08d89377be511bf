import assert from "node:assert/strict";
import sharp from "sharp";
import { CONTENT_TYPES, encodeImage, IMAGE_FORMATS } from "../../lib/image/encode.ts";

const WIDTH = 48;
const HEIGHT = 32;
const RGB = Uint8Array.from({ length: WIDTH * HEIGHT * 3 }, (_, i) => (i * 7) % 256);

Deno.test("encodeImage() writes each format at the given size, PNG with the generation metadata", async () => {
  for (const format of IMAGE_FORMATS) {
    const bytes = await encodeImage(RGB, WIDTH, HEIGHT, format, { prompt: "一只猫", seed: 7 });
    const meta = await sharp(bytes).metadata();
    assert.equal(meta.format, format);
    assert.deepEqual([meta.width, meta.height], [WIDTH, HEIGHT]);
    assert.equal(CONTENT_TYPES[format], `image/${format}`);
  }
  const png = new TextDecoder("latin1").decode(
    await encodeImage(RGB, WIDTH, HEIGHT, "png", { seed: 7 }),
  );
  assert.ok(png.includes("seed\x007"), "the seed is a tEXt chunk");
});

Deno.test("encodeImage() refuses pixels that do not fill the size", async () => {
  for (const format of IMAGE_FORMATS) {
    await assert.rejects(
      encodeImage(RGB.subarray(3), WIDTH, HEIGHT, format),
      (e: Error) => e instanceof RangeError && /4608 .*48x32.*, got 4605/.test(e.message),
    );
  }
});
