/**
 * Both results stores on real storage (a KV file, a folder): the same contract (write, read, stream,
 * remove, list), KV chunks under the 64 KiB value limit, no partial image ever visible, retention
 * removing chunks, and checksummed reads that treat deleted, truncated or replaced bytes as gone.
 */
import assert from "node:assert/strict";
import { keys } from "../../lib/jobs/job.ts";
import { openResultsStore, readStream, type ResultsStore } from "../../lib/jobs/results.ts";
import { CHUNK_BYTES, openKvResultsStore } from "../../lib/jobs/results_kv.ts";
import { openVerified, readVerified, sha256Hex } from "../../lib/jobs/results_verify.ts";
import { sweepExpired } from "../../lib/jobs/sweeper.ts";
import { testImageMeta } from "./_params.ts";

const ID = "a".repeat(32);
const OTHER = "b".repeat(32);

/** Pseudo-random bytes (xorshift), so chunk order mistakes show. */
function bytesOf(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

interface Fixture {
  kv: Deno.Kv;
  dir: string;
  store: ResultsStore;
}

function storeTest(name: string, fn: (f: Fixture, kind: "kv" | "dir") => Promise<void>) {
  for (const kind of ["kv", "dir"] as const) {
    Deno.test(`${kind} results store: ${name}`, async () => {
      const dir = await Deno.makeTempDir({ prefix: "hydit-results-" });
      const kv = await Deno.openKv(`${dir}/hydit.kv`);
      const store = kind === "kv" ? openKvResultsStore(kv) : await openResultsStore(`${dir}/r`);
      try {
        await fn({ kv, dir, store }, kind);
      } finally {
        kv.close();
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
}

storeTest("writes, reads whole and as a stream, lists and removes", async ({ store }) => {
  const big = bytesOf(CHUNK_BYTES * 17 + 123); // several chunks, several commits
  await store.write(ID, "png", big);
  await store.write(OTHER, "webp", bytesOf(10, 7));
  assert.deepEqual(await store.read(ID, "png"), big);
  assert.deepEqual(await readStream((await store.open(ID, "png"))!), big);
  const listed = [];
  for await (const entry of store.entries()) listed.push(entry.id);
  assert.deepEqual(listed.sort(), [ID, OTHER]);
  await store.remove(ID, "png");
  assert.equal(await store.read(ID, "png"), null);
  assert.equal(await store.open(ID, "png"), null);
  await store.remove(ID, "png"); // removing twice is fine
  assert.deepEqual(await store.read(OTHER, "webp"), bytesOf(10, 7));
});

Deno.test("kv results store: no reader sees an image before its last chunk is in", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hydit-results-" });
  const kv = await Deno.openKv(`${dir}/hydit.kv`);
  try {
    const big = bytesOf(CHUNK_BYTES * 30 + 5, 3);
    const reader = openKvResultsStore(kv);
    // The writer's KV reports each chunk commit, and a reader looks right then.
    const seen: (number | null)[] = [];
    const spied = new Proxy(kv, {
      get(target, prop) {
        if (prop !== "atomic") {
          const value = Reflect.get(target, prop, target);
          return typeof value === "function" ? value.bind(target) : value;
        }
        return () => {
          const op = target.atomic();
          const commit = op.commit.bind(op);
          op.commit = async () => {
            const result = await commit();
            seen.push((await reader.read(ID, "png"))?.length ?? null);
            return result;
          };
          return op;
        };
      },
    });
    await openKvResultsStore(spied).write(ID, "png", big);
    assert.equal(seen.length, Math.ceil(31 / 8), "one look per chunk commit");
    assert.deepEqual(seen, seen.map(() => null), "nothing was visible before the head");
    assert.deepEqual(await reader.read(ID, "png"), big);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

storeTest(
  "checksummed reads treat deleted, truncated and replaced bytes as gone",
  async (f, kind) => {
    const bytes = bytesOf(CHUNK_BYTES * 2 + 9, 5);
    const sha = sha256Hex(bytes);
    await f.store.write(ID, "png", bytes);
    assert.deepEqual(await readVerified(f.store, ID, "png", sha), bytes);
    assert.deepEqual(await readStream((await openVerified(f.store, ID, "png", sha))!), bytes);
    // Replaced by other bytes of the same length.
    const replaced = bytesOf(bytes.length, 6);
    if (kind === "dir") await Deno.writeFile(`${f.dir}/r/${ID}.png`, replaced);
    else await f.kv.set(["blob", ID, 1], replaced.slice(CHUNK_BYTES, 2 * CHUNK_BYTES));
    assert.equal(await readVerified(f.store, ID, "png", sha), null);
    assert.equal(await openVerified(f.store, ID, "png", sha), null);
    // Truncated.
    await f.store.write(ID, "png", bytes);
    if (kind === "dir") await Deno.truncate(`${f.dir}/r/${ID}.png`, 100);
    else await f.kv.delete(["blob", ID, 2]);
    assert.equal(await readVerified(f.store, ID, "png", sha), null);
    assert.equal(await openVerified(f.store, ID, "png", sha), null);
    // Deleted.
    await f.store.write(ID, "png", bytes);
    await f.store.remove(ID, "png");
    assert.equal(await readVerified(f.store, ID, "png", sha), null);
    assert.equal(await openVerified(f.store, ID, "png", sha), null);
  },
);

storeTest("retention removes an expired image's bytes", async ({ kv, store }, kind) => {
  await store.write(ID, "png", bytesOf(CHUNK_BYTES * 3));
  const meta = testImageMeta(ID, "a", { expiresAt: 5000 });
  await kv.atomic().set(keys.image(ID), meta).set(keys.expiry(5000, "image", ID), ID).commit();
  assert.deepEqual(await sweepExpired(kv, store, 5000), { jobs: 0, images: 1 });
  assert.equal(await store.read(ID, "png"), null);
  if (kind === "kv") {
    const left = await Array.fromAsync(kv.list({ prefix: ["blob"] }));
    assert.deepEqual(left, [], "no chunk left behind");
  }
});

Deno.test("kv results store: every chunk value stays under KV's 64 KiB limit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hydit-results-" });
  const kv = await Deno.openKv(`${dir}/hydit.kv`);
  try {
    const bytes = bytesOf(1_000_000);
    await openKvResultsStore(kv).write(ID, "png", bytes);
    const chunks = await Array.fromAsync(kv.list<Uint8Array>({ prefix: ["blob", ID] }));
    assert.equal(chunks.length, Math.ceil(bytes.length / CHUNK_BYTES));
    assert.ok(chunks.every((c) => c.value.length <= CHUNK_BYTES && CHUNK_BYTES < 65_536));
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});
