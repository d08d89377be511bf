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

async function streamDigest(stream: ReadableStream<Uint8Array>): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of stream) hash.update(chunk);
  return hash.digest("hex");
}

/**
 * The image as a stream if its bytes hash to `sha256`, else null. The bytes are hashed once as a
 * stream before the answer and again while they stream out (an image replaced in between errors
 * the stream). Without a recorded hash (images stored before hashes were kept) it opens unchecked.
 */
export async function openVerified(
  store: ResultsStore,
  id: string,
  format: ImageFormat,
  sha256: string | undefined,
): Promise<ReadableStream<Uint8Array> | null> {
  if (sha256 === undefined) return await store.open(id, format);
  const first = await store.open(id, format);
  if (!first || await streamDigest(first) !== sha256) return null;
  const second = await store.open(id, format);
  if (!second) return null;
  const hash = createHash("sha256");
  return second.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        hash.update(chunk);
        controller.enqueue(chunk);
      },
      flush(controller) {
        if (hash.digest("hex") !== sha256) {
          controller.error(new Error(`Image ${id} changed while it was read`));
        }
      },
    }),
  );
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
