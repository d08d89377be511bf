/**
 * Queue positions from the queue index: a job's estimate reads only the entries ahead of it (and the
 * progress of the running ones), never the whole queue or other job records.
 */
import assert from "node:assert/strict";
import { estimate, REFERENCE_TOKENS } from "../../lib/jobs/estimate.ts";
import { type JobRecord, keys } from "../../lib/jobs/job.ts";
import { claimNext, releaseJob } from "../../lib/jobs/lease.ts";
import { pendingWork } from "../../lib/jobs/pending.ts";
import { listQueue, submitJob } from "../../lib/jobs/store.ts";
import { testParams } from "./_params.ts";

// At the reference size (1024x1024), so step times apply unscaled.
const PARAMS = testParams({ n: 2, width: 1024, height: 1024 });
const CLAIM = { leaseMs: 60_000, retentionMs: 60_000 };

/** Wraps a KV so that every listed entry and every key read with getMany is recorded. */
function tracked(kv: Deno.Kv) {
  const listed: Deno.KvKey[] = [];
  const fetched: Deno.KvKey[] = [];
  const proxy = new Proxy(kv, {
    get(target, prop) {
      if (prop === "list") {
        return (...args: Parameters<Deno.Kv["list"]>) =>
          (async function* () {
            for await (const entry of target.list(...args)) {
              listed.push(entry.key);
              yield entry;
            }
          })();
      }
      if (prop === "getMany") {
        return (keys: Deno.KvKey[]) => {
          fetched.push(...keys);
          return target.getMany(keys);
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { kv: proxy, listed, fetched };
}

Deno.test("pendingWork() before a job reads only the entries ahead of it, no job records", async () => {
  using kv = await Deno.openKv(":memory:");
  const jobs: JobRecord[] = [];
  for (let i = 0; i < 40; i++) {
    const r = await submitJob(kv, { owner: "o", params: PARAMS }, {
      maxDepth: 100,
      idempotencyTtlMs: 1000,
      now: 1000 + i,
    });
    jobs.push((r as { job: JobRecord }).job);
  }
  const claim = (await claimNext(kv, { id: "w", boot: "b" }, CLAIM))!;
  assert.equal(claim.job.id, jobs[0].id);
  await kv.set(keys.progress(jobs[0].id), {
    image: 0,
    step: 4,
    steps: 10,
    stepSeconds: 0.5,
    updatedAt: Date.now(),
  });
  const t = tracked(kv);
  const ahead = await pendingWork(t.kv, jobs[5]);
  assert.deepEqual(ahead, [
    { id: jobs[0].id, running: true, stepsLeft: 16, tokens: REFERENCE_TOKENS },
    ...jobs.slice(1, 5).map((j) => ({
      id: j.id,
      running: false,
      stepsLeft: 20,
      tokens: REFERENCE_TOKENS,
    })),
  ]);
  assert.equal(t.listed.length, 5, "listed the 5 entries ahead, not all 40");
  assert.deepEqual(t.fetched, [keys.progress(jobs[0].id)], "read only the running job's progress");
  assert.deepEqual(ahead, (await pendingWork(kv)).slice(0, 5), "same as the whole-queue read");
  const self = { id: jobs[5].id, running: false, stepsLeft: 20, tokens: REFERENCE_TOKENS };
  assert.deepEqual(estimate([...ahead, self], jobs[5].id, { stepSeconds: 0.5, concurrency: 1 }), {
    position: 4,
    etaSeconds: (16 + 4 * 20 + 20) * 0.5,
  });

  // A progress record of an image already stored counts nothing; the queue value follows the job.
  await kv.set(keys.queue(claim.job.createdAt, claim.job.id), {
    ...(await listQueue(kv, 1))[0],
    images: 1,
  });
  await kv.set(keys.progress(jobs[0].id), {
    image: 0,
    step: 10,
    steps: 10,
    stepSeconds: 0.5,
    updatedAt: Date.now(),
  });
  assert.deepEqual((await pendingWork(kv, jobs[1]))[0].stepsLeft, 10);
  await releaseJob(kv, claim);
  assert.equal((await listQueue(kv, 1))[0].running, false, "a released job is queued again");
});

Deno.test("a queue entry from before index values (the id alone) is still claimed", async () => {
  using kv = await Deno.openKv(":memory:");
  const r = await submitJob(kv, { owner: "o", params: PARAMS }, {
    maxDepth: 10,
    idempotencyTtlMs: 1000,
  });
  const job = (r as { job: JobRecord }).job;
  await kv.set(keys.queue(job.createdAt, job.id), job.id);
  assert.deepEqual(await pendingWork(kv), [
    { id: job.id, running: false, stepsLeft: 0, tokens: REFERENCE_TOKENS },
  ]);
  const claim = await claimNext(kv, { id: "w", boot: "b" }, CLAIM);
  assert.equal(claim?.job.id, job.id);
  assert.deepEqual((await listQueue(kv))[0], {
    id: job.id,
    owner: "o",
    running: true,
    n: 2,
    images: 0,
    steps: 10,
    tokens: REFERENCE_TOKENS,
    createdAt: job.createdAt,
  });
});
