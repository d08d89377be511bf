/**
 * Webhooks and schedules against real server processes: a delivery pending at `kill -9` completes
 * after a restart exactly once and validly signed; the "gave up after N lost workers" failure sends its
 * webhook; a scheduled run that finds the queue full is recorded, visible and retried in its slot.
 */
import assert from "node:assert/strict";
import type { JobRecord } from "../../lib/jobs/job.ts";
import { claimNext, commitUnderLease } from "../../lib/jobs/lease.ts";
import { finalizeJob, submitJob } from "../../lib/jobs/store.ts";
import { expectedSignature, receiver } from "./_receiver.ts";
import { call, startServer, waitJob } from "./_harness.ts";
import { testParams } from "./_params.ts";

const SECRET = "restart-secret";

const PARAMS = testParams({ prompt: "made outside the server", steps: 2, seed: 5 });

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

/** A state folder whose KV file is opened here first (to prepare records before a server starts). */
async function stateDir(): Promise<{ dir: string; openKv: () => Promise<Deno.Kv> }> {
  const dir = await Deno.makeTempDir({ prefix: "hydit-hooks-" });
  await Deno.mkdir(`${dir}/kv`);
  return { dir, openKv: () => Deno.openKv(`${dir}/kv/hydit.kv`) };
}

Deno.test("kill -9 while a webhook retry is pending, restart: delivered exactly once, signed", async () => {
  const r = receiver([503, 503]);
  const env = { HYDIT_WEBHOOK_SECRET: SECRET, HYDIT_WEBHOOK_BACKOFF_MS: "2000" };
  const first = await startServer({ env });
  let second: Awaited<ReturnType<typeof startServer>> | null = null;
  try {
    const submitted = await call(first, "POST", "/v1/jobs", {
      body: { prompt: "tell me later", size: "64x64", steps: 2, webhook_url: r.url },
    });
    const id = submitted.body.id;
    await until(
      async () => (await call(first, "GET", `/v1/jobs/${id}`)).body.webhook.attempts === 1,
      30_000,
      "the first (failed) attempt to be recorded",
    );
    const pending = (await call(first, "GET", `/v1/jobs/${id}`)).body.webhook;
    assert.equal(pending.status, "pending");
    assert.equal(pending.last_status, 503);
    assert.ok(Date.parse(pending.next_attempt_at) > Date.now(), "the retry is still ahead");
    await first.kill();
    const killedAt = performance.now();
    assert.equal(r.received.length, 1);

    second = await startServer({ dir: first.dir, port: first.port, env });
    let job = (await call(second, "GET", `/v1/jobs/${id}`)).body;
    await until(
      async () => {
        job = (await call(second!, "GET", `/v1/jobs/${id}`)).body;
        return job.webhook.status !== "pending";
      },
      30_000,
      "the delivery to finish after the restart",
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.deepEqual(r.received.map((x) => x.status), [503, 503, 200], "one success, no repeat");
    assert.ok(r.received[1].at > killedAt, "the retries came from the restarted process");
    assert.deepEqual(job.webhook, {
      url: r.url,
      attempts: 3,
      delivered: true,
      status: "delivered",
      next_attempt_at: null,
      last_status: 200,
      last_error: null,
    });
    for (const got of r.received) {
      assert.equal(got.headers.get("webhook-id"), `${id}.succeeded`);
      assert.equal(
        got.headers.get("webhook-signature"),
        expectedSignature(SECRET, got.headers, got.body),
      );
      const payload = JSON.parse(got.body);
      assert.equal(payload.type, "job.succeeded");
      assert.equal(payload.job.id, id);
      assert.equal(payload.job.images.length, 1);
    }
    assert.ok(second.records().some((x) => x.msg === "webhook delivered" && x.job === id));
  } finally {
    await first.kill();
    await second?.stop();
    await r.server.shutdown();
  }
});

Deno.test("a job failed for losing its workers too often sends its webhook", async () => {
  const r = receiver([]);
  const { dir, openKv } = await stateDir();
  const kv = await openKv();
  const made = await submitJob(kv, { owner: "anonymous", params: PARAMS, webhookUrl: r.url }, {
    maxDepth: 10,
    idempotencyTtlMs: 60_000,
  });
  const id = (made as { job: JobRecord }).job.id;
  // Three workers claimed it and died (their leases ran out long ago).
  const past = Date.now() - 600_000;
  for (let i = 0; i < 3; i++) {
    const claim = await claimNext(kv, { id: `dead-${i}`, boot: "x" }, {
      leaseMs: 1000,
      retentionMs: 60_000,
      now: past + i * 2000,
    });
    assert.equal(claim?.job.attempts, i + 1);
  }
  kv.close();
  const server = await startServer({ dir, env: { HYDIT_WEBHOOK_SECRET: SECRET } });
  try {
    await until(() => Promise.resolve(r.received.length > 0), 30_000, "the webhook");
    const got = r.received[0];
    assert.equal(got.headers.get("webhook-id"), `${id}.failed`);
    assert.equal(
      got.headers.get("webhook-signature"),
      expectedSignature(SECRET, got.headers, got.body),
    );
    const payload = JSON.parse(got.body);
    assert.equal(payload.type, "job.failed");
    assert.equal(payload.job.error.code, "worker_lost");
    await until(
      async () => (await call(server, "GET", `/v1/jobs/${id}`)).body.webhook.delivered,
      5000,
      "the delivery to be recorded",
    );
    assert.equal(r.received.length, 1);
  } finally {
    await server.stop();
    await r.server.shutdown();
  }
});

Deno.test({
  name: "a scheduled run that finds the queue full is recorded, visible, and retried in its slot",
  async fn() {
    const { dir, openKv } = await stateDir();
    const schedules = `${dir}/schedules.json`;
    await Deno.writeTextFile(
      schedules,
      JSON.stringify({
        schedules: [{
          name: "tick",
          cron: "* * * * *",
          request: { prompt: "tick", size: "64x64", steps: 2 },
        }],
      }),
    );
    // Fill the queue (depth 1) with a job that another, live worker holds.
    let kv = await openKv();
    const blocker = await submitJob(kv, { owner: "elsewhere", params: PARAMS }, {
      maxDepth: 1,
      idempotencyTtlMs: 60_000,
    });
    assert.equal(blocker.kind, "created");
    const claim = (await claimNext(kv, { id: "elsewhere", boot: "x" }, {
      leaseMs: 600_000,
      retentionMs: 60_000,
    }))!;
    kv.close();
    const server = await startServer({
      dir,
      env: { HYDIT_SCHEDULES: schedules, HYDIT_QUEUE_DEPTH: "1" },
    });
    try {
      const lastRun = async () =>
        (await call(server, "GET", "/v1/schedules")).body.data[0].last_run;
      await until(async () => (await lastRun())?.status === "queue_full", 75_000, "a full slot");
      const full = await lastRun();
      assert.equal(full.job_id, null);
      assert.match(full.error, /^Queue full \(1 jobs\): retrying in 5000 ms$/);
      const metrics = (await call(server, "GET", "/metrics")).body as string;
      assert.match(
        metrics,
        /hydit_schedule_runs_total\{schedule="tick",result="queue_full"\} [1-9]/,
      );
      assert.ok(server.records().some((x) => x.msg === "schedule slot found the queue full"));

      // The blocker ends; the next try in the same slot queues the job.
      kv = await openKv();
      await commitUnderLease(
        kv,
        claim,
        (op) =>
          finalizeJob(op, { ...claim.job, state: "cancelled", finishedAt: Date.now() }, 60_000),
      );
      kv.close();
      await until(async () => (await lastRun())?.status === "queued", 15_000, "the retry");
      const ran = await lastRun();
      assert.equal(ran.slot, full.slot, "retried within the same slot");
      assert.ok(ran.tries >= 2);
      assert.equal(ran.error, null);
      assert.equal((await waitJob(server, ran.job_id)).status, "succeeded");
      const after = (await call(server, "GET", "/metrics")).body as string;
      assert.match(after, /hydit_schedule_runs_total\{schedule="tick",result="queued"\} 1/);
    } finally {
      await server.stop();
    }
  },
});
