/**
 * Signed webhooks: signature format and one attempt's classification, then through the whole service
 * in-process: a signed, retried delivery; the "gave up after N lost workers" failure sends its
 * webhook; a scheduled run that finds the queue full is recorded, visible and retried in its slot.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import type { JobRecord } from "../../lib/jobs/job.ts";
import { claimNext, commitUnderLease } from "../../lib/jobs/lease.ts";
import { finalizeJob, submitJob } from "../../lib/jobs/store.ts";
import { retryDelayMs, sendWebhook, signWebhook } from "../../lib/jobs/webhook.ts";
import { call, stateDir, until, waitJob, writeSchedules } from "./_harness.ts";
import { fakeGenerator } from "./_fake_generator.ts";
import { startInProcess } from "./_in_process.ts";
import { testParams } from "./_params.ts";
import { assertWebhook, expectedSignature, receiver } from "./_receiver.ts";

const SECRET = "service-secret";

const PARAMS = testParams({ prompt: "made outside the server", steps: 2, seed: 5 });

Deno.test("signWebhook() is HMAC-SHA256 over timestamp.body", async () => {
  const ours = await signWebhook("s3cret", 1700000000, '{"a":1}');
  const theirs = createHmac("sha256", "s3cret").update('1700000000.{"a":1}').digest("hex");
  assert.equal(ours, theirs);
});

Deno.test("sendWebhook() signs one attempt and says whether a retry may help", async () => {
  const r = receiver([503, 404, 429]);
  try {
    const results = [];
    for (let i = 0; i < 4; i++) {
      results.push(await sendWebhook(r.url, "evt-1", '{"hello":"world"}', { secret: "k" }));
    }
    assert.deepEqual(results, [
      { ok: false, retryable: true, status: 503 },
      { ok: false, retryable: false, status: 404 },
      { ok: false, retryable: true, status: 429 },
      { ok: true, retryable: false, status: 200 },
    ]);
    for (const got of r.received) {
      assert.equal(got.headers.get("webhook-id"), "evt-1");
      assert.equal(got.headers.get("content-type"), "application/json");
      assert.equal(got.body, '{"hello":"world"}');
      assert.equal(
        got.headers.get("webhook-signature"),
        expectedSignature("k", got.headers, got.body),
      );
    }
    const dead = await sendWebhook("http://127.0.0.1:9/x", "evt-2", "{}", { secret: "k" });
    assert.deepEqual([dead.ok, dead.retryable, dead.status], [false, true, undefined]);
    assert.ok(dead.error);
    assert.deepEqual([1, 2, 3, 4].map((a) => retryDelayMs(a, 50)), [50, 100, 200, 400]);
  } finally {
    await r.server.shutdown();
  }
});

Deno.test("sendWebhook() does not follow a redirect: a 3xx is a failed, final attempt", async () => {
  const target = receiver([]);
  const redirector = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(null, { status: 307, headers: { location: target.url } }),
  );
  try {
    const url = `http://127.0.0.1:${redirector.addr.port}/hook`;
    const sent = await sendWebhook(url, "evt-3", '{"secret":"payload"}', { secret: "k" });
    assert.deepEqual(sent, {
      ok: false,
      retryable: false,
      status: 307,
      error: `redirect (to ${target.url}) not followed`,
    });
    assert.equal(target.received.length, 0);
  } finally {
    await redirector.shutdown();
    await target.server.shutdown();
  }
});

Deno.test("the service signs and retries a job's webhook and records the delivery", async () => {
  const r = receiver([502]);
  const server = await startInProcess({
    env: {
      HYDIT_WEBHOOK_SECRET: "hook-secret",
      HYDIT_WEBHOOK_ALLOW: "127.0.0.1",
      HYDIT_WEBHOOK_BACKOFF_MS: "100",
    },
  });
  try {
    const res = await fetch(`${server.url}/v1/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "ping me", size: "64x64", steps: 2, webhook_url: r.url }),
    });
    const { id } = await res.json();
    await waitJob(server, id);
    const deadline = Date.now() + 10_000;
    let job = await waitJob(server, id);
    while (!job.webhook?.delivered && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      job = await waitJob(server, id);
    }
    assert.deepEqual(job.webhook, {
      url: r.url,
      attempts: 2,
      delivered: true,
      status: "delivered",
      next_attempt_at: null,
    });
    assert.deepEqual(r.received.map((x) => x.status), [502, 200]);
    const payload = assertWebhook(r.received[1], "hook-secret", id, "succeeded");
    assert.equal(payload.job.images.length, 1);
  } finally {
    await server.stop();
    await r.server.shutdown();
  }
});

Deno.test("webhook links use the submitting request's origin, never localhost", async () => {
  const r = receiver([]);
  const server = await startInProcess({
    generator: fakeGenerator(1),
    env: { HYDIT_WEBHOOK_SECRET: SECRET, HYDIT_WEBHOOK_ALLOW: "127.0.0.1" },
  });
  // A client that reaches the service through a proxy under another name.
  const client = Deno.createHttpClient({ allowHost: true });
  try {
    const res = await fetch(`${server.url}/v1/jobs`, {
      client,
      method: "POST",
      headers: { "content-type": "application/json", host: "images.example.test:8443" },
      body: JSON.stringify({ prompt: "links", size: "64x64", steps: 2, webhook_url: r.url }),
    });
    assert.equal(res.status, 202);
    const { id } = await res.json();
    await until(() => Promise.resolve(r.received.length > 0), 10_000, "the webhook");
    const payload = assertWebhook(r.received[0], SECRET, id, "succeeded");
    const base = "http://images.example.test:8443";
    assert.equal(payload.job.links.self, `${base}/v1/jobs/${id}`);
    assert.equal(payload.job.images[0].url, `${base}/v1/images/${payload.job.images[0].id}`);
    assert.doesNotMatch(r.received[0].body, /localhost/);
  } finally {
    client.close();
    await server.stop();
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
  const server = await startInProcess({
    dir,
    env: { HYDIT_WEBHOOK_SECRET: SECRET, HYDIT_WEBHOOK_ALLOW: "127.0.0.1" },
  });
  try {
    await until(() => Promise.resolve(r.received.length > 0), 30_000, "the webhook");
    const payload = assertWebhook(r.received[0], SECRET, id, "failed");
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
    const schedules = await writeSchedules(dir, "tick");
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
    const server = await startInProcess({
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
