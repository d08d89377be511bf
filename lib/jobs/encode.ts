/**
 * Encodes generated RGB pixels: PNG with the generation parameters as text chunks (lib/image/png.ts),
 * JPEG and WebP with sharp (libvips, prebuilt in its npm package).
 *
 * @module
 */
import sharp from "sharp";
import { type GenerationMetadata, metadataText } from "../image/metadata.ts";
import { encodePng } from "../image/png.ts";
import type { ImageFormat } from "./job.ts";

/** Encodes HWC RGB bytes; JPEG and WebP use quality 90 and carry no metadata. */
export async function encodeImage(
  rgb: Uint8Array,
  width: number,
  height: number,
  format: ImageFormat,
  meta: GenerationMetadata = {},
): Promise<Uint8Array> {
  if (format === "png") return await encodePng(rgb, width, height, { text: metadataText(meta) });
  if (rgb.length !== width * height * 3) {
    throw new RangeError(
      `Cannot encode image: expected ${
        width * height * 3
      } RGB bytes for ${width}x${height}, got ${rgb.length}`,
    );
  }
  const image = sharp(rgb, { raw: { width, height, channels: 3 } });
  const encoded = format === "jpeg" ? image.jpeg({ quality: 90 }) : image.webp({ quality: 90 });
  const buffer = await encoded.toBuffer();
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
