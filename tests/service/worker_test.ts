/** The worker loop in-process on an in-memory KV with a timed fake generator (queue logic only). */
import assert from "node:assert/strict";
import sharp from "sharp";
import { createJobEvents, type JobEvent } from "../../lib/jobs/events.ts";
import type { GenerationParams, JobRecord, JobState } from "../../lib/jobs/job.ts";
import { openResultsStore } from "../../lib/jobs/results.ts";
import { getJob, submitJob } from "../../lib/jobs/store.ts";
import { testParams } from "./_params.ts";
import { testWorker } from "./_worker.ts";

const PARAMS = testParams({ width: 32, height: 48, steps: 4, seed: 10, n: 2 });

async function setup() {
  const kv = await Deno.openKv(":memory:");
  const dir = await Deno.makeTempDir();
  const results = await openResultsStore(dir);
  const events = createJobEvents();
  const finished: JobRecord[] = [];
  const states: JobState[] = [];
  const worker = testWorker({ kv, results, events }, {
    observer: { step: () => {}, generation: () => {}, finished: (s) => states.push(s) },
    onFinished: (job) => finished.push(job),
  });
  const submit = async (params: Partial<GenerationParams>) => {
    const r = await submitJob(kv, { owner: "o", params: { ...PARAMS, ...params } }, {
      maxDepth: 10,
      idempotencyTtlMs: 1000,
    });
    return (r as { job: JobRecord }).job;
  };
  const done = async (id: string) => {
    for (let i = 0; i < 400; i++) {
      const job = await getJob(kv, id);
      if (job && ["succeeded", "failed", "cancelled"].includes(job.state)) return job;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error("job did not finish");
  };
  const close = async () => {
    await worker.drain(1000);
    kv.close();
    await Deno.remove(dir, { recursive: true });
  };
  return { kv, results, events, worker, submit, done, close, finished, states };
}

Deno.test("worker runs a job: ordered step events, n images with seed + i, results written", async () => {
  const s = await setup();
  try {
    const job = await s.submit({});
    const seen: JobEvent[] = [];
    s.events.subscribe(job.id, (e) => seen.push(e));
    s.worker.start();
    const done = await s.done(job.id);
    assert.equal(done.state, "succeeded");
    assert.deepEqual(done.images.map((i) => i.seed), [10, 11]);
    assert.deepEqual(
      seen.filter((e) => e.type === "step").map((e) => e.type === "step" && `${e.image}:${e.step}`),
      ["0:1", "0:2", "0:3", "0:4", "1:1", "1:2", "1:3", "1:4"],
    );
    assert.deepEqual(seen.map((e) => e.type).filter((t) => t !== "step"), [
      "started",
      "image",
      "image",
      "succeeded",
    ]);
    const bytes = await s.results.read(done.images[1].id, "png");
    const meta = await sharp(bytes!).metadata();
    assert.deepEqual([meta.width, meta.height], [32, 48]);
    assert.ok(done.stepSeconds! > 0);
    assert.deepEqual(s.states, ["succeeded"]);
    assert.equal(s.finished[0].id, job.id);
  } finally {
    await s.close();
  }
});

Deno.test("worker echoes n distinct seeds near 2^53: (seed + i) mod 2^53, never 2^53-1 as 0", async () => {
  const s = await setup();
  try {
    const max = Number.MAX_SAFE_INTEGER;
    const top = await s.submit({ seed: max, n: 1, steps: 1 });
    const wrap = await s.submit({ seed: max - 1, n: 4, steps: 1 });
    s.worker.start();
    assert.deepEqual((await s.done(top.id)).images.map((i) => i.seed), [max]);
    assert.deepEqual((await s.done(wrap.id)).images.map((i) => i.seed), [max - 1, max, 0, 1]);
  } finally {
    await s.close();
  }
});

Deno.test("worker keeps step time at 1024x1024: a step measured on fewer tokens is scaled up", async () => {
  const s = await setup();
  try {
    s.worker.observeStep(0.25, (512 * 512) / 256);
    assert.equal(s.worker.stepSeconds(), 1);
    s.worker.observeStep(1, (1024 * 1024) / 256);
    assert.equal(s.worker.stepSeconds(), 1);
  } finally {
    await s.close();
  }
});

Deno.test("worker records a generator failure on the job with the engine's message", async () => {
  const s = await setup();
  try {
    const job = await s.submit({ prompt: "__fail__" });
    const next = await s.submit({ n: 1 });
    s.worker.start();
    const failed = await s.done(job.id);
    assert.equal(failed.state, "failed");
    assert.deepEqual(failed.error, {
      code: "generation_failed",
      message: 'engine "dit" failed: injected failure',
    });
    assert.equal((await s.done(next.id)).state, "succeeded", "the queue goes on after a failure");
  } finally {
    await s.close();
  }
});

Deno.test("worker cancelLocal() stops at the next step and keeps finished images", async () => {
  const s = await setup();
  try {
    const job = await s.submit({ steps: 50 });
    let steps = 0;
    s.events.subscribe(job.id, (e) => {
      if (e.type === "step" && e.image === 1 && ++steps === 3) s.worker.cancelLocal(job.id);
    });
    s.worker.start();
    const done = await s.done(job.id);
    assert.equal(done.state, "cancelled");
    assert.equal(done.images.length, 1, "the first image was kept");
    assert.match(done.error!.message, /after step 53 of 100/);
  } finally {
    await s.close();
  }
});
