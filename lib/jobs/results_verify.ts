/**
 * Checksummed reads: an image is served only if its bytes still hash to the SHA-256 recorded when it
 * was stored; a deleted, truncated or replaced image reads as gone.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { ImageFormat } from "../image/mod.ts";
import type { ResultsStore } from "./results.ts";

/** Hex SHA-256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * The image as a stream if its bytes hash to `sha256`, else null. The bytes are read and hashed
 * once, and the stream serves exactly the bytes that were checked (an image is a few MB at most).
 * Without a recorded hash (images stored before hashes were kept) it opens unchecked.
 */
export async function openVerified(
  store: ResultsStore,
  id: string,
  format: ImageFormat,
  sha256: string | undefined,
): Promise<ReadableStream<Uint8Array> | null> {
  if (sha256 === undefined) return await store.open(id, format);
  const bytes = await readVerified(store, id, format, sha256);
  if (!bytes) return null;
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

/** All the image's bytes if they hash to `sha256` (or no hash was recorded), else null. */
export async function readVerified(
  store: ResultsStore,
  id: string,
  format: ImageFormat,
  sha256: string | undefined,
): Promise<Uint8Array<ArrayBuffer> | null> {
  const bytes = await store.read(id, format);
  if (!bytes || (sha256 !== undefined && sha256Hex(bytes) !== sha256)) return null;
  return bytes;
}
