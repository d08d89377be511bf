/** One schedule slot on a real KV file: a full queue is retried within the slot, then skipped, and recorded. */
import assert from "node:assert/strict";
import { parseCron } from "../../lib/jobs/cron.ts";
import type { GenerationParams } from "../../lib/jobs/job.ts";
import {
  runSlot,
  type Schedule,
  type ScheduleState,
  scheduleStates,
  type SlotSubmission,
} from "../../lib/jobs/schedules.ts";

const SCHEDULE: Schedule = {
  name: "nightly",
  cron: "* * * * *",
  spec: parseCron("* * * * *"),
  params: { prompt: "p", seed: 7 } as GenerationParams,
  fixedSeed: true,
};

async function withKv(fn: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hydit-slot-" });
  const kv = await Deno.openKv(`${dir}/hydit.kv`);
  try {
    await fn(kv);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("runSlot() retries a full queue within the slot, then skips it and records why", async () => {
  await withKv(async (kv) => {
    const seen: string[] = [];
    const slot = Date.now();
    const jobId = await runSlot(SCHEDULE, slot, {
      kv,
      worker: "w",
      log: () => {},
      submit: () => Promise.resolve<SlotSubmission>({ kind: "full", depth: 3 }),
      observe: (_, result) => seen.push(result),
      retryMs: 40,
      slotWindowMs: 150,
    });
    assert.equal(jobId, null);
    assert.ok(seen.length >= 3, `tries ${seen}`);
    assert.deepEqual(seen, [...seen.slice(0, -1).map(() => "queue_full"), "skipped"]);
    const state = (await scheduleStates(kv, ["nightly"])).get("nightly")!;
    assert.deepEqual(
      { ...state, lastRunAt: 0 },
      {
        lastSlot: slot,
        lastRunAt: 0,
        status: "queue_full",
        tries: seen.length,
        lastJobId: null,
        error: "Queue full (3 jobs): slot skipped",
      } satisfies ScheduleState,
    );
  });
});

Deno.test("runSlot() records a queued job after a full try, and a failed submission", async () => {
  await withKv(async (kv) => {
    const answers: SlotSubmission[] = [{ kind: "full", depth: 1 }, {
      kind: "created",
      jobId: "j1",
    }];
    const options = {
      kv,
      worker: "w",
      log: () => {},
      submit: () => Promise.resolve(answers.shift()!),
      retryMs: 10,
    };
    const slot = Date.now();
    assert.equal(await runSlot(SCHEDULE, slot, options), "j1");
    const queued = (await scheduleStates(kv, ["nightly"])).get("nightly")!;
    assert.deepEqual([queued.status, queued.tries, queued.lastJobId, queued.error], [
      "queued",
      2,
      "j1",
      undefined,
    ]);
    assert.equal(await runSlot(SCHEDULE, slot, options), null, "the slot is taken already");
    const failing = { ...options, submit: () => Promise.reject(new Error("KV is gone")) };
    await assert.rejects(runSlot(SCHEDULE, slot + 60_000, failing), /KV is gone/);
    const failed = (await scheduleStates(kv, ["nightly"])).get("nightly")!;
    assert.deepEqual([failed.status, failed.lastJobId, failed.error], [
      "failed",
      null,
      "KV is gone",
    ]);
  });
});
