/**
 * Image encoding for results: PNG with the generation parameters as text chunks, JPEG and WebP
 * through sharp, and the formats' content types.
 *
 * @module
 */
export { CONTENT_TYPES, encodeImage, IMAGE_FORMATS, type ImageFormat } from "./encode.ts";
export { type GenerationMetadata, metadataText } from "./metadata.ts";
export { encodePng, encodePngSync, type PngOptions, type PngText } from "./png.ts";
