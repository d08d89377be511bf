/** The KV job store, leases, cancellation, retention and queue arithmetic, on an in-memory KV. */
import assert from "node:assert/strict";
import {
  estimate,
  imageTokens,
  REFERENCE_TOKENS,
  retryAfterSeconds,
  scaledStepSeconds,
  toReferenceSeconds,
} from "../../lib/jobs/estimate.ts";
import { ID_PATTERN, type JobRecord, keys, newId } from "../../lib/jobs/job.ts";
import {
  claimNext,
  commitUnderLease,
  LeaseLostError,
  releaseJob,
  renewLease,
} from "../../lib/jobs/lease.ts";
import { openResultsStore } from "../../lib/jobs/results.ts";
import { cancelJob, finalizeJob, getJob, listQueue, submitJob } from "../../lib/jobs/store.ts";
import { sweepExpired } from "../../lib/jobs/sweeper.ts";
import { testParams } from "./_params.ts";

const PARAMS = testParams();
const LIMITS = { maxDepth: 10, idempotencyTtlMs: 60_000 };
const A = { id: "a", boot: "boot-a" };
const B = { id: "b", boot: "boot-b" };
const CLAIM = { leaseMs: 1000, retentionMs: 60_000 };

async function submit(kv: Deno.Kv, now: number): Promise<JobRecord> {
  const r = await submitJob(kv, { owner: "o", params: PARAMS }, { ...LIMITS, now });
  assert.equal(r.kind, "created");
  return (r as { job: JobRecord }).job;
}

Deno.test("claimNext() takes the oldest job and skips one whose lease has not expired", async () => {
  using kv = await Deno.openKv(":memory:");
  const first = await submit(kv, 1000);
  const second = await submit(kv, 2000);
  const claimA = await claimNext(kv, A, { ...CLAIM, now: 5000 });
  assert.equal(claimA?.job.id, first.id);
  assert.equal(claimA?.job.state, "running");
  assert.equal(claimA?.job.attempts, 1);
  const claimB = await claimNext(kv, B, { ...CLAIM, now: 5100 });
  assert.equal(claimB?.job.id, second.id);
  assert.equal(await claimNext(kv, B, { ...CLAIM, now: 5200, skip: new Set([second.id]) }), null);
});

Deno.test("claimNext() takes over an expired lease, and the old holder's writes are fenced off", async () => {
  using kv = await Deno.openKv(":memory:");
  const job = await submit(kv, 1000);
  const old = (await claimNext(kv, A, { ...CLAIM, now: Date.now() - 5000 }))!;
  const taken = (await claimNext(kv, B, CLAIM))!;
  assert.equal(taken.job.id, job.id);
  assert.equal(taken.job.attempts, 2);
  await assert.rejects(renewLease(kv, old, 1000), LeaseLostError);
  await assert.rejects(
    commitUnderLease(kv, old, (op) => op.set(keys.job(job.id), { ...old.job, state: "failed" })),
    LeaseLostError,
  );
  await renewLease(kv, taken, 1000);
  assert.equal((await getJob(kv, job.id))?.state, "running");
});

Deno.test("a renewal in flight never fences off the holder's own writes", async () => {
  using kv = await Deno.openKv(":memory:");
  const job = await submit(kv, 1000);
  const claim = (await claimNext(kv, A, CLAIM))!;
  // The heartbeat and the image/finish writes of one run overlap freely; each write must see the
  // versionstamp the renewal before it left, or the run would drop its own job as "lost".
  const writes = Array.from({ length: 20 }, (_, i) => [
    renewLease(kv, claim, 1000),
    commitUnderLease(kv, claim, (op) => op.set(keys.progress(job.id), { step: i })),
  ]).flat();
  await Promise.all(writes);
  await renewLease(kv, claim, 1000);
});

Deno.test("claimNext() reclaims at once a lease left by an earlier process with the same worker id", async () => {
  using kv = await Deno.openKv(":memory:");
  const job = await submit(kv, 1000);
  await claimNext(kv, A, { ...CLAIM, leaseMs: 60_000 });
  assert.equal(await claimNext(kv, B, CLAIM), null, "a live lease of another worker is respected");
  const restarted = await claimNext(kv, { id: "a", boot: "boot-a2" }, CLAIM);
  assert.equal(restarted?.job.id, job.id);
});

Deno.test("claimNext() fails a job that keeps losing its worker after maxAttempts", async () => {
  using kv = await Deno.openKv(":memory:");
  const job = await submit(kv, 1000);
  const base = Date.now() - 100_000;
  for (let i = 0; i < 3; i++) {
    const claim = await claimNext(kv, { id: `w${i}`, boot: "x" }, {
      ...CLAIM,
      now: base + i * 2000,
    });
    assert.equal(claim?.job.attempts, i + 1);
  }
  assert.equal(await claimNext(kv, B, CLAIM), null);
  const failed = await getJob(kv, job.id);
  assert.equal(failed?.state, "failed");
  assert.equal(failed?.error?.code, "worker_lost");
  assert.equal((await listQueue(kv)).length, 0);
});

Deno.test("releaseJob() requeues without counting the attempt", async () => {
  using kv = await Deno.openKv(":memory:");
  const job = await submit(kv, 1000);
  const claim = (await claimNext(kv, A, CLAIM))!;
  await releaseJob(kv, claim);
  const back = await getJob(kv, job.id);
  assert.deepEqual([back?.state, back?.attempts], ["queued", 0]);
  assert.equal((await claimNext(kv, B, CLAIM))?.job.id, job.id);
});

Deno.test("submitJob() replays an idempotency key, rejects a changed body and a full queue", async () => {
  using kv = await Deno.openKv(":memory:");
  const idem = { key: "k1", bodyHash: "h1" };
  const first = await submitJob(kv, { owner: "o", params: PARAMS, idempotency: idem }, LIMITS);
  const again = await submitJob(kv, { owner: "o", params: PARAMS, idempotency: idem }, LIMITS);
  assert.equal(again.kind, "replayed");
  assert.equal((again as { job: JobRecord }).job.id, (first as { job: JobRecord }).job.id);
  const changed = await submitJob(kv, {
    owner: "o",
    params: PARAMS,
    idempotency: { key: "k1", bodyHash: "h2" },
  }, LIMITS);
  assert.equal(changed.kind, "conflict");
  const otherOwner = await submitJob(kv, { owner: "p", params: PARAMS, idempotency: idem }, LIMITS);
  assert.equal(otherOwner.kind, "created");
  const full = await submitJob(kv, { owner: "o", params: PARAMS }, { ...LIMITS, maxDepth: 2 });
  assert.deepEqual(full, { kind: "full", depth: 2 });
});

Deno.test("cancelJob() ends a queued job at once and flags a running one", async () => {
  using kv = await Deno.openKv(":memory:");
  const queued = await submit(kv, 1000);
  const running = await submit(kv, 2000);
  await claimNext(kv, A, { ...CLAIM, skip: new Set([queued.id]) });
  assert.equal(await cancelJob(kv, queued.id, 60_000), "cancelled");
  assert.equal((await getJob(kv, queued.id))?.state, "cancelled");
  assert.equal(await cancelJob(kv, running.id, 60_000), "requested");
  assert.equal((await kv.get(keys.cancel(running.id))).value, true);
  assert.equal(await cancelJob(kv, queued.id, 60_000), "finished");
  assert.deepEqual((await listQueue(kv)).map((q) => q.id), [running.id]);
});

Deno.test("sweepExpired() deletes expired jobs and images, files included, and keeps the rest", async () => {
  using kv = await Deno.openKv(":memory:");
  const dir = await Deno.makeTempDir();
  const results = await openResultsStore(dir);
  const job = await submit(kv, 1000);
  const claim = (await claimNext(kv, A, CLAIM))!;
  const imageId = "0123456789abcdef0123456789abcdef";
  await results.write(imageId, "png", new Uint8Array([1, 2, 3]));
  await kv.set(keys.image(imageId), { id: imageId, format: "png" });
  await kv.set(keys.expiry(5000, "image", imageId), imageId);
  await commitUnderLease(
    kv,
    claim,
    (op) => finalizeJob(op, { ...claim.job, state: "succeeded", finishedAt: 1000 }, 9000),
  );
  assert.deepEqual(await sweepExpired(kv, results, 4999), { jobs: 0, images: 0 });
  assert.deepEqual(await sweepExpired(kv, results, 5000), { jobs: 0, images: 1 });
  assert.equal(await results.read(imageId, "png"), null);
  assert.ok(await getJob(kv, job.id));
  assert.deepEqual(await sweepExpired(kv, results, 10_000), { jobs: 1, images: 0 });
  assert.equal(await getJob(kv, job.id), null);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("estimate() gives queue position and ETA from step time; retryAfterSeconds() is at least 1", () => {
  const work = (id: string, running: boolean, stepsLeft: number) => ({
    id,
    running,
    stepsLeft,
    tokens: REFERENCE_TOKENS,
  });
  const queue = [work("r", true, 10), work("q1", false, 20), work("q2", false, 30)];
  assert.deepEqual(estimate(queue, "r", { stepSeconds: 0.5, concurrency: 1 }), {
    position: null,
    etaSeconds: 5,
  });
  assert.deepEqual(estimate(queue, "q2", { stepSeconds: 0.5, concurrency: 1 }), {
    position: 1,
    etaSeconds: 30,
  });
  assert.deepEqual(estimate(queue, "q2", { stepSeconds: 0.5, concurrency: 2 }), {
    position: 1,
    etaSeconds: 22.5,
  });
  assert.deepEqual(estimate(queue, "q1", { stepSeconds: 0, concurrency: 1 }), {
    position: 0,
    etaSeconds: null,
  });
  const three = [work("a", false, 20), work("b", false, 20), work("c", false, 20)];
  assert.equal(retryAfterSeconds(three, { stepSeconds: 0.5, concurrency: 1 }), 10);
  assert.equal(retryAfterSeconds(three, { stepSeconds: 0, concurrency: 1 }), 1);
  assert.equal(retryAfterSeconds([work("a", false, 1)], { stepSeconds: 0.01, concurrency: 1 }), 1);
});

Deno.test("ETA and Retry-After scale the reference step time with image tokens (H*W/256)", () => {
  const options = { stepSeconds: 0.8, concurrency: 1 };
  const at = (size: number) => imageTokens(size, size);
  assert.equal(at(1024), REFERENCE_TOKENS);
  assert.equal(at(512), REFERENCE_TOKENS / 4);
  // The same 10 steps: a 512x512 job takes a quarter of a 1024x1024 one.
  const big = [{ id: "j", running: false, stepsLeft: 10, tokens: at(1024) }];
  const small = [{ id: "j", running: false, stepsLeft: 10, tokens: at(512) }];
  assert.equal(estimate(big, "j", options).etaSeconds, 8);
  assert.equal(estimate(small, "j", options).etaSeconds, 2);
  // A small job behind a big one waits for the big one's full time.
  const mixed = [{ ...big[0], id: "b" }, { ...small[0], id: "s" }];
  assert.equal(estimate(mixed, "s", options).etaSeconds, 10);
  assert.equal(retryAfterSeconds(big, options), 8);
  assert.equal(retryAfterSeconds(small, options), 2);
  assert.equal(retryAfterSeconds(mixed, options), 5);
  // A step measured at 512x512 is a 4x longer step at the reference size, and back.
  assert.equal(toReferenceSeconds(0.2, at(512)), 0.8);
  assert.equal(scaledStepSeconds(0.8, at(512)), 0.2);
});

Deno.test("newId() sorts by creation, also within one millisecond and when the clock steps back", () => {
  const t = Date.now() + 1_000; // ahead of every id made so far in this process
  const ids = [newId(t), newId(t), newId(t), newId(t - 500), newId(t + 1), newId()];
  assert.equal(
    ids[0].slice(0, 12),
    t.toString(16).padStart(12, "0"),
    "48 bits of milliseconds first",
  );
  for (const id of ids) assert.match(id, ID_PATTERN);
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
});
