/**
 * Orphaned image bytes (stored, but no image record points at them) are swept once older than the
 * safety age, from both stores, partial KV writes included; young ones and recorded ones stay. The
 * service sweeps them at start.
 */
import assert from "node:assert/strict";
import { keys } from "../../lib/jobs/job.ts";
import { openResultsStore, type ResultsStore } from "../../lib/jobs/results.ts";
import { openKvResultsStore } from "../../lib/jobs/results_kv.ts";
import { ORPHAN_AGE_MS, sweepOrphans } from "../../lib/jobs/sweeper.ts";
import { until } from "./_harness.ts";
import { startInProcess } from "./_in_process.ts";
import { testImageMeta } from "./_params.ts";

const ORPHAN = "a".repeat(32);
const RECORDED = "b".repeat(32);
const BYTES = new Uint8Array(70_000).fill(9);

for (const kind of ["kv", "dir"] as const) {
  Deno.test(`${kind} results store: orphans older than the safety age are swept, others kept`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "hydit-orphans-" });
    const kv = await Deno.openKv(`${dir}/hydit.kv`);
    try {
      const store: ResultsStore = kind === "kv"
        ? openKvResultsStore(kv)
        : await openResultsStore(`${dir}/results`);
      await store.write(ORPHAN, "png", BYTES);
      await store.write(RECORDED, "png", BYTES);
      await kv.set(keys.image(RECORDED), testImageMeta(RECORDED, "a"));
      // Young: nothing goes, the orphan may be a write whose record is on its way.
      assert.equal(await sweepOrphans(kv, store), 0);
      assert.ok(await store.read(ORPHAN, "png"));
      const later = Date.now() + ORPHAN_AGE_MS + 1000;
      assert.equal(await sweepOrphans(kv, store, later), 1);
      assert.equal(await store.read(ORPHAN, "png"), null);
      assert.deepEqual(await store.read(RECORDED, "png"), BYTES);
      if (kind === "kv") {
        const chunks = await Array.fromAsync(kv.list({ prefix: ["blob", ORPHAN] }));
        assert.deepEqual(chunks, []);
      }
    } finally {
      kv.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("kv results store: a write cut short (head never completed) is swept as an orphan", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hydit-orphans-" });
  const kv = await Deno.openKv(`${dir}/hydit.kv`);
  try {
    const store = openKvResultsStore(kv);
    const head = {
      format: "png",
      bytes: 100_000,
      chunks: 2,
      writtenAt: Date.now(),
      complete: false,
    };
    await kv.atomic().set(["blob_head", ORPHAN], head).set(
      ["blob", ORPHAN, 0],
      BYTES.slice(0, 61_440),
    )
      .commit();
    assert.equal(await store.read(ORPHAN, "png"), null, "a partial write is not readable");
    assert.equal(await sweepOrphans(kv, store, Date.now() + ORPHAN_AGE_MS + 1000), 1);
    assert.deepEqual(await Array.fromAsync(kv.list({ prefix: ["blob"] })), []);
    assert.deepEqual(await Array.fromAsync(kv.list({ prefix: ["blob_head"] })), []);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the service sweeps old orphan files at start and leaves young ones", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hydit-orphans-" });
  await Deno.mkdir(`${dir}/results`, { recursive: true });
  const old = `${dir}/results/${ORPHAN}.png`;
  const partial = `${dir}/results/${"c".repeat(32)}.png.tmp-1`;
  const young = `${dir}/results/${RECORDED}.png`;
  for (const file of [old, partial, young]) await Deno.writeFile(file, BYTES);
  const hourAgo = new Date(Date.now() - 3_600_000);
  await Deno.utime(old, hourAgo, hourAgo);
  await Deno.utime(partial, hourAgo, hourAgo);
  const server = await startInProcess({ dir, env: { HYDIT_RESULTS_STORE: "dir" } });
  try {
    await until(
      () => Promise.resolve(server.records().some((r) => r.msg === "orphan sweep done")),
      60_000,
      "the start-up orphan sweep",
    );
    const sweep = server.records().find((r) => r.msg === "orphan sweep done");
    assert.equal(sweep?.removed, 2);
    const left = (await Array.fromAsync(Deno.readDir(`${dir}/results`))).map((e) => e.name);
    assert.deepEqual(left, [`${RECORDED}.png`]);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
