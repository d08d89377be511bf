/**
 * Queue admission under concurrency: parallel submissions, from one process or several KV handles on
 * one file, never take the queue past HYDIT_QUEUE_DEPTH nor a key past HYDIT_QUEUE_PER_KEY, and a
 * slot freed by a finished job is admitted again exactly once. Over the real HTTP server too.
 */
import assert from "node:assert/strict";
import { cancelJob, listQueue, submitJob, type SubmitResult } from "../../lib/jobs/store.ts";
import { call } from "./_harness.ts";
import { startInProcess } from "./_in_process.ts";
import { fakeGenerator } from "./_fake_generator.ts";
import { testParams } from "./_params.ts";

const PARAMS = testParams();
const KEY_A = "test-key-alpha-0001";
const KEY_B = "test-key-bravo-0002";
/** A job that keeps the single worker busy for the whole test (200 steps of 50 ms). */
const LONG = { prompt: "hold the worker", size: "64x64", steps: 200 };

/** Opens `handles` KV connections on one fresh file (as separate replicas would). */
async function sharedKv(handles: number): Promise<{ kvs: Deno.Kv[]; close(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "admission_" });
  const kvs = await Promise.all(
    Array.from({ length: handles }, () => Deno.openKv(`${dir}/hydit.kv`)),
  );
  return {
    kvs,
    async close() {
      for (const kv of kvs) kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function kinds(results: SubmitResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) out[r.kind] = (out[r.kind] ?? 0) + 1;
  return out;
}

Deno.test("60 parallel submissions over 5 KV handles admit exactly the queue depth", async () => {
  const { kvs, close } = await sharedKv(5);
  try {
    const limits = { maxDepth: 4, idempotencyTtlMs: 60_000 };
    const results = await Promise.all(
      Array.from(
        { length: 60 },
        (_, i) => submitJob(kvs[i % kvs.length], { owner: "o", params: PARAMS }, limits),
      ),
    );
    assert.deepEqual(kinds(results), { created: 4, full: 56 });
    const queue = await listQueue(kvs[0]);
    assert.equal(queue.length, 4);
    // Ending one job frees exactly one slot, however many ask for it.
    const created = results.find((r) => r.kind === "created") as { job: { id: string } };
    assert.equal(await cancelJob(kvs[0], created.job.id, 60_000), "cancelled");
    const again = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => submitJob(kvs[i % kvs.length], { owner: "o", params: PARAMS }, limits),
      ),
    );
    assert.deepEqual(kinds(again), { created: 1, full: 19 });
    assert.equal((await listQueue(kvs[0])).length, 4);
  } finally {
    await close();
  }
});

Deno.test("parallel submissions of two owners over 3 KV handles each stop at the per-owner limit", async () => {
  const { kvs, close } = await sharedKv(3);
  try {
    const limits = { maxDepth: 10, maxPerOwner: 3, idempotencyTtlMs: 60_000 };
    const results = await Promise.all(
      Array.from(
        { length: 40 },
        (_, i) =>
          submitJob(kvs[i % kvs.length], { owner: i % 2 ? "a" : "b", params: PARAMS }, limits),
      ),
    );
    assert.deepEqual(kinds(results), { created: 6, owner_full: 34 });
    const owners = (await listQueue(kvs[0])).map((q) => q.owner).sort();
    assert.deepEqual(owners, ["a", "a", "a", "b", "b", "b"]);
    for (const r of results) {
      if (r.kind === "owner_full") assert.deepEqual([r.queued, r.limit], [3, 3]);
    }
  } finally {
    await close();
  }
});

Deno.test("50 parallel POST /v1/jobs with HYDIT_QUEUE_DEPTH=4 admit 4 and answer 429 to the rest", async () => {
  const server = await startInProcess({
    generator: fakeGenerator(50),
    env: { HYDIT_QUEUE_DEPTH: "4", HYDIT_GRACE_MS: "100" },
  });
  try {
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => call(server, "POST", "/v1/jobs", { body: LONG })),
    );
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [...Array(4).fill(202), ...Array(46).fill(429)]);
    for (const a of answers.filter((a) => a.status === 429)) {
      assert.equal(a.body.error.code, "queue_full");
      assert.ok(Number(a.headers.get("retry-after")) >= 1);
    }
    assert.equal((await call(server, "GET", "/readyz")).body.queue_depth, 4);
  } finally {
    await server.stop();
  }
});

Deno.test("HYDIT_QUEUE_PER_KEY: 20 parallel POSTs of one key admit 2, with a 429 naming the setting", async () => {
  const server = await startInProcess({
    generator: fakeGenerator(50),
    env: {
      HYDIT_API_KEYS: `${KEY_A},${KEY_B}`,
      HYDIT_QUEUE_DEPTH: "10",
      HYDIT_QUEUE_PER_KEY: "2",
      HYDIT_GRACE_MS: "100",
    },
  });
  try {
    const answers = await Promise.all(
      Array.from(
        { length: 20 },
        () => call(server, "POST", "/v1/jobs", { key: KEY_A, body: LONG }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [...Array(2).fill(202), ...Array(18).fill(429)]);
    const refused = answers.find((a) => a.status === 429)!;
    assert.equal(refused.body.error.code, "key_queue_full");
    assert.match(refused.body.error.message, /HYDIT_QUEUE_PER_KEY=2/);
    assert.ok(Number(refused.headers.get("retry-after")) >= 1);
    // The other key still has its share of the queue.
    const other = await call(server, "POST", "/v1/jobs", { key: KEY_B, body: LONG });
    assert.equal(other.status, 202);
  } finally {
    await server.stop();
  }
});
