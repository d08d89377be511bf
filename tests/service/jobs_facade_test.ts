/**
 * The `Jobs` facade on a real KV file and results folder: submission policy, visibility per API key,
 * queue estimates, cancellation, waiting (in-process events, or polling for another process's job),
 * images until they expire, and schedules.
 */
import assert from "node:assert/strict";
import { parseCron } from "../../lib/jobs/cron.ts";
import { createJobEvents } from "../../lib/jobs/events.ts";
import { keys } from "../../lib/jobs/job.ts";
import { createJobs, type JobsOptions, type Submission } from "../../lib/jobs/jobs.ts";
import { openResultsStore, type ResultsStore } from "../../lib/jobs/results.ts";
import { cancelJob } from "../../lib/jobs/store.ts";
import { testWorker } from "./_worker.ts";
import { testImageMeta, testParams } from "./_params.ts";

// At the reference size (1024x1024), so the stub step time applies unscaled.
const PARAMS = testParams({ steps: 4, n: 2, width: 1024, height: 1024 });

/** A facade over a fresh KV file, with a stub worker that records what it was asked. */
async function setup(policy: Partial<JobsOptions["policy"]> = {}) {
  const dir = await Deno.makeTempDir({ prefix: "jobs_facade_" });
  const kv = await Deno.openKv(`${dir}/hydit.kv`);
  const results = await openResultsStore(`${dir}/results`);
  const events = createJobEvents();
  const asked = { wake: 0, cancelLocal: [] as string[], finished: 0 };
  const worker = {
    wake: () => void asked.wake++,
    cancelLocal: (id: string) => (asked.cancelLocal.push(id), true),
    stepSeconds: () => 0.5,
  };
  const options: JobsOptions = {
    kv,
    results,
    events,
    worker,
    policy: { queueDepth: 3, retentionMs: 60_000, concurrency: 1, ...policy },
    onFinished: () => void asked.finished++,
  };
  const jobs = createJobs(options);
  const submit = async (s: Partial<Submission> = {}) => {
    const r = await jobs.submit({ owner: "a", params: PARAMS, ...s });
    assert.equal(r.kind, "created");
    return (r as { job: { id: string } }).job.id;
  };
  const close = async () => {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  };
  return { kv, results, events, jobs, options, asked, submit, close };
}

/** A test over a fresh facade, closed afterwards. */
function facadeTest(name: string, fn: (s: Awaited<ReturnType<typeof setup>>) => Promise<void>) {
  Deno.test(name, async () => {
    const s = await setup();
    try {
      await fn(s);
    } finally {
      await s.close();
    }
  });
}

facadeTest(
  "Jobs.submit() queues and wakes the worker, replays a key, refuses another body and a full queue",
  async (s) => {
    const idempotency = { key: "jobs:k1", bodyHash: "h1" };
    const first = await s.jobs.submit({ owner: "a", params: PARAMS, idempotency });
    assert.equal(first.kind, "created");
    assert.equal(s.asked.wake, 1);
    const replay = await s.jobs.submit({ owner: "a", params: PARAMS, idempotency });
    assert.equal(replay.kind, "replayed");
    assert.equal(s.asked.wake, 1, "a replay wakes nobody");
    const other = await s.jobs.submit({
      owner: "a",
      params: PARAMS,
      idempotency: { ...idempotency, bodyHash: "h2" },
    });
    assert.deepEqual(other, { kind: "conflict", jobId: (first as { job: { id: string } }).job.id });
    assert.equal(
      (await s.jobs.submit({ owner: "b", params: PARAMS, idempotency })).kind,
      "created",
    );
    await s.submit();
    assert.equal(await s.jobs.queueDepth(), 3);
    const full = await s.jobs.submit({ owner: "a", params: PARAMS });
    // Three queued jobs of 2 x 4 steps at 0.5 s per step: one job's worth is 4 s.
    assert.deepEqual(full, { kind: "full", depth: 3, retryAfterSeconds: 4 });
  },
);

facadeTest(
  "ETA and Retry-After scale with image size: a 512x512 step is a quarter of a 1024x1024 one",
  async (s) => {
    // Stub step time 0.5 s at 1024x1024; 2 images x 4 steps each job.
    // Queue order is creation time, then the random id: submit in distinct milliseconds.
    const tick = () => new Promise((r) => setTimeout(r, 2));
    const big = await s.submit();
    await tick();
    const small = await s.submit({ params: { ...PARAMS, width: 512, height: 512 } });
    await tick();
    assert.equal((await s.jobs.view(big, "a"))!.estimate.etaSeconds, 4);
    // Waits for the big job (4 s), then its own 8 steps at 0.125 s.
    assert.equal((await s.jobs.view(small, "a"))!.estimate.etaSeconds, 5);
    const binned = await s.submit({
      params: { ...PARAMS, width: 512, height: 512, resolutionBinning: true },
    });
    // Binning denoises 512x512 at 1024x1024: the full step time.
    assert.equal((await s.jobs.view(binned, "a"))!.estimate.etaSeconds, 4 + 1 + 4);
    // The queue (depth 3) is full: one job's worth is the mean, (4 + 1 + 4) / 3 s.
    const full = await s.jobs.submit({ owner: "a", params: PARAMS });
    assert.deepEqual(full, { kind: "full", depth: 3, retryAfterSeconds: 3 });
  },
);

facadeTest(
  "Jobs.view() shows a job only to its owner (scheduled jobs to every key) with its queue estimate",
  async (s) => {
    const first = await s.submit();
    const scheduled = await s.submit({ owner: "*", schedule: "tick" });
    const mine = await s.submit();
    assert.equal(await s.jobs.view(mine, "b"), null);
    const status = (await s.jobs.view(mine, "a"))!;
    assert.equal(status.job.id, mine);
    assert.equal(status.progress, null);
    // Two jobs ahead, 8 steps each, plus its own 8, at 0.5 s a step.
    assert.deepEqual(status.estimate, { position: 2, etaSeconds: 12 });
    assert.equal((await s.jobs.view(scheduled, "b"))?.job.schedule, "tick");
    assert.deepEqual((await s.jobs.view(first, "a", { estimate: false }))?.estimate, {
      position: null,
      etaSeconds: null,
    });
  },
);

facadeTest(
  "Jobs.cancel() ends a queued job at once, flags a running one and stops it here; others see nothing",
  async (s) => {
    const queued = await s.submit();
    assert.equal(await s.jobs.cancel(queued, "b"), null);
    assert.equal(await s.jobs.cancel(queued, "a"), "cancelled");
    assert.equal(s.asked.finished, 1, "webhook delivery woken");
    const view = (await s.jobs.view(queued, "a"))!;
    assert.equal(view.job.state, "cancelled");
    assert.ok(view.job.expiresAt! - view.job.finishedAt! === 60_000, "kept for the retention");

    const running = await s.submit();
    await s.kv.set(keys.lease(running), { worker: "w", boot: "b", until: Date.now() + 60_000 });
    assert.equal(await s.jobs.cancel(running, "a"), "requested");
    assert.deepEqual(s.asked.cancelLocal, [running]);
    assert.equal((await s.kv.get(keys.cancel(running))).value, true);
    assert.equal(await s.jobs.cancel(queued, "a"), "finished");
  },
);

/** Counts reads of each image file. */
function countingReads(results: ResultsStore) {
  const reads: string[] = [];
  const store: ResultsStore = {
    ...results,
    read: (id, format) => {
      reads.push(id);
      return results.read(id, format);
    },
  };
  return { store, reads };
}

facadeTest(
  "Jobs.wait() ends on the job's final event with the image bytes, reading no image back",
  async (s) => {
    const { store, reads } = countingReads(s.results);
    const jobs = createJobs({ ...s.options, results: store });
    const worker = testWorker(s);
    try {
      const id = await s.submit();
      const waiting = jobs.wait(id, { timeoutMs: 30_000, pollMs: 60_000 });
      worker.start();
      const { job, images } = await waiting;
      assert.equal(job?.state, "succeeded");
      assert.equal(job?.images.length, 2);
      assert.deepEqual([...images.keys()], job!.images.map((i) => i.id));
      for (const ref of job!.images) {
        assert.deepEqual(images.get(ref.id), await s.results.read(ref.id, ref.format));
      }
      assert.deepEqual(reads, [], "the wait read no image file");
    } finally {
      await worker.drain(1000);
    }
  },
);

facadeTest(
  "Jobs.wait() follows a job ended by another process by polling, and times out on a live one",
  async (s) => {
    const elsewhere = await s.submit();
    setTimeout(() => cancelJob(s.kv, elsewhere, 60_000), 50);
    const ended = await s.jobs.wait(elsewhere, { timeoutMs: 10_000, pollMs: 20 });
    assert.equal(ended.job?.state, "cancelled");
    assert.equal(ended.images.size, 0);
    const live = await s.submit();
    const timedOut = await s.jobs.wait(live, { timeoutMs: 100, pollMs: 20 });
    assert.equal(timedOut.job?.state, "queued");
    const controller = new AbortController();
    controller.abort();
    const aborted = await s.jobs.wait(live, { timeoutMs: 60_000, signal: controller.signal });
    assert.equal(aborted.job?.state, "queued");
  },
);

facadeTest(
  "Jobs.readImage() gives an image to its owner until it expires, bytes read on demand",
  async (s) => {
    const id = "c".repeat(32);
    const meta = testImageMeta(id, "a");
    await s.kv.set(keys.image(id), meta);
    await s.results.write(id, "png", new Uint8Array([1, 2, 3]));
    assert.equal(await s.jobs.readImage(id, "b"), null);
    const image = (await s.jobs.readImage(id, "a"))!;
    assert.deepEqual(image.meta, meta);
    assert.deepEqual(await image.read(), new Uint8Array([1, 2, 3]));
    await s.results.remove(id, "png");
    assert.equal(await image.read(), null);
    await s.kv.set(keys.image(id), { ...meta, expiresAt: Date.now() - 1 });
    assert.equal(await s.jobs.readImage(id, "a"), null);
  },
);

facadeTest(
  "Jobs.listSchedules() pairs each schedule with its last run in KV and its next run",
  async (s) => {
    const schedule = {
      name: "tick",
      cron: "0 6 * * *",
      spec: parseCron("0 6 * * *"),
      params: PARAMS,
      fixedSeed: false,
    };
    const jobs = createJobs({ ...s.options, schedules: [schedule] });
    assert.deepEqual((await jobs.listSchedules()).map((x) => x.lastRun), [null]);
    const state = {
      lastSlot: 1,
      lastRunAt: 2,
      status: "queued" as const,
      tries: 1,
      lastJobId: "j",
    };
    await s.kv.set(keys.scheduleState("tick"), state);
    const [listed] = await jobs.listSchedules();
    assert.deepEqual(listed.lastRun, state);
    assert.equal(listed.schedule.name, "tick");
    assert.equal(listed.nextRun?.getUTCHours(), 6);
    assert.ok(listed.nextRun!.getTime() > Date.now());
  },
);
