/**
 * The results store in Deno KV: image bytes in 60 KiB chunks (`["blob", id, i]`, under the 64 KiB
 * value limit, a few per atomic commit) and a head record (`["blob_head", id]`) written before the
 * chunks as "writing" and again, last, as complete; a reader sees an image only once its head says
 * complete, so never a partial one. Every replica on a shared KV (KV Connect) reads what any of them
 * wrote. Removal deletes the head first, then the chunks.
 *
 * @module
 */
import type { ImageFormat } from "../image/mod.ts";
import { withKvRetry } from "./kv_retry.ts";
import type { ResultsStore, StoredEntry } from "./results.ts";
import { readStream } from "./results.ts";

/** Bytes per chunk value. */
export const CHUNK_BYTES = 60 * 1024;
/** Chunks written per atomic commit (KV allows 800 KiB of mutations per commit). */
const CHUNKS_PER_COMMIT = 8;

/** The head record of one stored image. */
interface BlobHead {
  format: ImageFormat;
  bytes: number;
  chunks: number;
  writtenAt: number;
  complete: boolean;
}

const headKey = (id: string): Deno.KvKey => ["blob_head", id];
const chunkKey = (id: string, index: number): Deno.KvKey => ["blob", id, index];
const chunkPrefix = (id: string): Deno.KvKey => ["blob", id];

async function removeBlob(kv: Deno.Kv, id: string): Promise<void> {
  await withKvRetry(() => kv.delete(headKey(id)));
  const keys: Deno.KvKey[] = [];
  for await (const entry of kv.list({ prefix: chunkPrefix(id) })) keys.push(entry.key);
  for (let i = 0; i < keys.length; i += CHUNKS_PER_COMMIT * 4) {
    const op = kv.atomic();
    for (const key of keys.slice(i, i + CHUNKS_PER_COMMIT * 4)) op.delete(key);
    await withKvRetry(() => op.commit());
  }
}

/** A results store over `kv`. */
export function openKvResultsStore(kv: Deno.Kv): ResultsStore {
  async function open(id: string): Promise<ReadableStream<Uint8Array> | null> {
    const head = (await withKvRetry(() => kv.get<BlobHead>(headKey(id)))).value;
    if (!head?.complete) return null;
    const chunks = kv.list<Uint8Array>({ prefix: chunkPrefix(id) }, { batchSize: 4 });
    return ReadableStream.from((async function* () {
      for await (const entry of chunks) yield entry.value;
    })());
  }
  return {
    async write(id, format, bytes) {
      const chunks = Math.ceil(bytes.length / CHUNK_BYTES);
      const head: BlobHead = {
        format,
        bytes: bytes.length,
        chunks,
        writtenAt: Date.now(),
        complete: false,
      };
      await withKvRetry(() => kv.set(headKey(id), head));
      for (let first = 0; first < chunks; first += CHUNKS_PER_COMMIT) {
        const op = kv.atomic();
        for (let i = first; i < Math.min(chunks, first + CHUNKS_PER_COMMIT); i++) {
          op.set(chunkKey(id, i), bytes.slice(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES));
        }
        await withKvRetry(() => op.commit());
      }
      await withKvRetry(() => kv.set(headKey(id), { ...head, complete: true }));
    },
    open: (id) => open(id),
    async read(id) {
      const stream = await open(id);
      return stream ? await readStream(stream) : null;
    },
    remove: (id) => removeBlob(kv, id),
    async *entries(): AsyncIterable<StoredEntry> {
      for await (const entry of kv.list<BlobHead>({ prefix: ["blob_head"] })) {
        const id = entry.key[1] as string;
        yield { id, writtenAt: entry.value.writtenAt, remove: () => removeBlob(kv, id) };
      }
    },
  };
}
