/**
 * Encodes generated RGB pixels: PNG with the generation parameters as text chunks (png.ts), JPEG
 * and WebP with sharp (libvips, prebuilt in its npm package).
 *
 * @module
 */
import sharp from "sharp";
import { type GenerationMetadata, metadataText } from "./metadata.ts";
import { encodePng } from "./png.ts";

/** The encodings the service produces. */
export const IMAGE_FORMATS = ["png", "jpeg", "webp"] as const;

/** One of {@linkcode IMAGE_FORMATS}. */
export type ImageFormat = typeof IMAGE_FORMATS[number];

/** Content type of each image format. */
export const CONTENT_TYPES: Record<ImageFormat, string> = {
  png: "image/png",
  jpeg: "image/jpeg",
  webp: "image/webp",
};

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
