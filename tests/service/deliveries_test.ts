/**
 * Durable webhook deliveries on a real Deno KV file: the delivery is committed with the job's end, the
 * loop retries with backoff kept in KV, gives up and records it, fences a claimer whose lease expired,
 * and two loops on one KV deliver each webhook once.
 */
import assert from "node:assert/strict";
import {
  claimDueDeliveries,
  settleDelivery,
  type WebhookDelivery,
} from "../../lib/jobs/deliveries.ts";
import { createDeliveryLoop, type DeliveryLoop } from "../../lib/jobs/delivery_loop.ts";
import { type JobRecord, keys } from "../../lib/jobs/job.ts";
import { claimNext } from "../../lib/jobs/lease.ts";
import { cancelJob, getJob, submitJob } from "../../lib/jobs/store.ts";
import { parseWebhookAllow } from "../../lib/jobs/webhook_target.ts";
import { expectedSignature, receiver } from "./_receiver.ts";
import { testParams } from "./_params.ts";

const PARAMS = testParams();
const SECRET = "durable-secret";
/** The test receivers listen on loopback. */
const LOOPBACK = parseWebhookAllow(["127.0.0.1"]);

async function openFileKv(): Promise<{ kv: Deno.Kv; path: string; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "hydit-deliveries-" });
  const path = `${dir}/hydit.kv`;
  return { kv: await Deno.openKv(path), path, dir };
}

/** Submits a job with a webhook and cancels it before it runs (one way to end a job). */
async function endedJob(kv: Deno.Kv, url: string | undefined): Promise<JobRecord> {
  const r = await submitJob(kv, { owner: "o", params: PARAMS, webhookUrl: url }, {
    maxDepth: 100,
    idempotencyTtlMs: 60_000,
  });
  const job = (r as { job: JobRecord }).job;
  assert.equal(await cancelJob(kv, job.id, 60_000), "cancelled");
  return (await getJob(kv, job.id))!;
}

function loop(
  kv: Deno.Kv,
  worker: string,
  attempts: number,
  backoffMs: number,
  logs: Record<string, unknown>[] = [],
): DeliveryLoop {
  return createDeliveryLoop({
    kv,
    log: (level, msg, fields) => void logs.push({ level, msg, ...fields }),
    worker,
    secret: SECRET,
    allow: LOOPBACK,
    attempts,
    backoffMs,
    pollMs: 50,
    render: (job) => ({ type: `job.${job.state}`, job: { id: job.id, error: job.error } }),
  });
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

async function dueKeys(kv: Deno.Kv): Promise<Deno.KvKey[]> {
  const out: Deno.KvKey[] = [];
  for await (const e of kv.list({ prefix: keys.deliveryDuePrefix })) out.push(e.key);
  return out;
}

Deno.test("a job that ends with a webhook commits a pending delivery with its terminal state", async () => {
  const { kv, dir } = await openFileKv();
  try {
    const cancelled = await endedJob(kv, "http://127.0.0.1:9/hook");
    const delivery = (await kv.get<WebhookDelivery>(keys.delivery(cancelled.id))).value;
    assert.deepEqual(delivery, {
      jobId: cancelled.id,
      url: "http://127.0.0.1:9/hook",
      eventId: `${cancelled.id}.cancelled`,
      attempts: 0,
      dueAt: cancelled.finishedAt,
    });
    assert.deepEqual(await dueKeys(kv), [keys.deliveryDue(cancelled.finishedAt!, cancelled.id)]);
    assert.deepEqual(cancelled.webhook, {
      url: "http://127.0.0.1:9/hook",
      attempts: 0,
      delivered: false,
      state: "pending",
      nextAttemptAt: cancelled.finishedAt,
    });
    const plain = await endedJob(kv, undefined);
    assert.equal((await kv.get(keys.delivery(plain.id))).value, null);

    // The "gave up after N lost workers" failure goes through the same commit.
    const r = await submitJob(kv, { owner: "o", params: PARAMS, webhookUrl: "http://h/x" }, {
      maxDepth: 100,
      idempotencyTtlMs: 60_000,
    });
    const lost = (r as { job: JobRecord }).job;
    const past = Date.now() - 100_000;
    for (let i = 0; i < 3; i++) {
      await claimNext(kv, { id: `w${i}`, boot: "x" }, {
        leaseMs: 1000,
        retentionMs: 60_000,
        now: past + i * 2000,
      });
    }
    assert.equal(
      await claimNext(kv, { id: "w", boot: "y" }, { leaseMs: 1000, retentionMs: 60_000 }),
      null,
    );
    const failed = (await getJob(kv, lost.id))!;
    assert.equal(failed.error?.code, "worker_lost");
    const pending = (await kv.get<WebhookDelivery>(keys.delivery(lost.id))).value;
    assert.equal(pending?.eventId, `${lost.id}.failed`);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the loop retries with backoff kept in KV, then records the delivery on the job", async () => {
  const { kv, dir } = await openFileKv();
  const r = receiver([503, 503]);
  const l = loop(kv, "w1", 5, 300);
  try {
    const job = await endedJob(kv, r.url);
    l.start();
    await until(async () => (await getJob(kv, job.id))!.webhook!.attempts === 1, 5000, "attempt 1");
    const afterFirst = (await getJob(kv, job.id))!.webhook!;
    const stored = (await kv.get<WebhookDelivery>(keys.delivery(job.id))).value!;
    assert.equal(stored.attempts, 1);
    assert.equal(stored.claimedBy, undefined, "released after the attempt");
    assert.equal(stored.dueAt, afterFirst.nextAttemptAt);
    assert.deepEqual(await dueKeys(kv), [keys.deliveryDue(stored.dueAt, job.id)]);
    assert.deepEqual(
      { ...afterFirst, nextAttemptAt: 0 },
      {
        url: r.url,
        attempts: 1,
        delivered: false,
        state: "pending",
        nextAttemptAt: 0,
      },
    );
    await until(async () => (await getJob(kv, job.id))!.webhook!.delivered, 5000, "delivery");
    const done = (await getJob(kv, job.id))!.webhook!;
    assert.deepEqual(done, {
      url: r.url,
      attempts: 3,
      delivered: true,
      state: "delivered",
    });
    assert.equal((await kv.get(keys.delivery(job.id))).value, null);
    assert.deepEqual(await dueKeys(kv), []);
    assert.deepEqual(r.received.map((x) => x.status), [503, 503, 200]);
    for (const got of r.received) {
      assert.equal(got.headers.get("webhook-id"), `${job.id}.cancelled`);
      assert.equal(
        got.headers.get("webhook-signature"),
        expectedSignature(SECRET, got.headers, got.body),
      );
      assert.deepEqual(JSON.parse(got.body).type, "job.cancelled");
    }
  } finally {
    await l.stop(1000);
    kv.close();
    await r.server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the loop waits the doubled backoff between attempts", async () => {
  const { kv, dir } = await openFileKv();
  const r = receiver([500, 500]);
  const l = loop(kv, "w1", 5, 200);
  try {
    const job = await endedJob(kv, r.url);
    l.start();
    await until(async () => (await getJob(kv, job.id))!.webhook!.delivered, 5000, "delivery");
    const times = r.received.map((x) => x.at);
    assert.equal(times.length, 3);
    assert.ok(times[1] - times[0] >= 195, `first gap ${times[1] - times[0]} ms`);
    assert.ok(times[2] - times[1] >= 395, `second gap ${times[2] - times[1]} ms`);
  } finally {
    await l.stop(1000);
    kv.close();
    await r.server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the loop gives up after the configured attempts, and at once on a 4xx; the receiver's answers are logged, not recorded", async () => {
  const { kv, dir } = await openFileKv();
  const down = receiver([], 500);
  const gone = receiver([], 410);
  const logs: Record<string, unknown>[] = [];
  const l = loop(kv, "w1", 3, 20, logs);
  try {
    const a = await endedJob(kv, down.url);
    const b = await endedJob(kv, gone.url);
    l.start();
    const final = async (id: string) => (await getJob(kv, id))!.webhook!.state !== "pending";
    await until(async () => await final(a.id) && await final(b.id), 5000, "final outcomes");
    assert.deepEqual((await getJob(kv, a.id))!.webhook, {
      url: down.url,
      attempts: 3,
      delivered: false,
      state: "failed",
    });
    assert.deepEqual((await getJob(kv, b.id))!.webhook, {
      url: gone.url,
      attempts: 1,
      delivered: false,
      state: "failed",
    });
    assert.deepEqual([down.received.length, gone.received.length], [3, 1]);
    const logged = (id: string) =>
      logs.filter((x) => x.job === id).map((x) => [x.msg, x.attempt, x.status]);
    assert.deepEqual(logged(a.id), [
      ["webhook retry", 1, 500],
      ["webhook retry", 2, 500],
      ["webhook failed", 3, 500],
    ]);
    assert.deepEqual(logged(b.id), [["webhook failed", 1, 410]]);
    assert.deepEqual(await dueKeys(kv), []);
  } finally {
    await l.stop(1000);
    kv.close();
    await Promise.all([down.server.shutdown(), gone.server.shutdown()]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a claim whose lease ran out is taken over, and the old claimer cannot record", async () => {
  const { kv, dir } = await openFileKv();
  try {
    const job = await endedJob(kv, "http://127.0.0.1:9/hook");
    const [dead] = await claimDueDeliveries(kv, "dead", { leaseMs: 100, limit: 10 });
    assert.equal(dead.delivery.claimedBy, "dead");
    assert.deepEqual(await claimDueDeliveries(kv, "alive", { leaseMs: 100, limit: 10 }), []);
    const later = Date.now() + 150;
    const [alive] = await claimDueDeliveries(kv, "alive", { leaseMs: 1000, limit: 10, now: later });
    assert.equal(alive.delivery.jobId, job.id);
    assert.equal(await settleDelivery(kv, dead, { kind: "delivered", status: 200 }), false);
    assert.equal((await getJob(kv, job.id))!.webhook!.state, "pending");
    assert.equal(await settleDelivery(kv, alive, { kind: "delivered", status: 200 }), true);
    assert.equal((await getJob(kv, job.id))!.webhook!.state, "delivered");
    assert.deepEqual(await dueKeys(kv), []);
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("two loops on one KV file deliver every webhook exactly once", async () => {
  const { kv, path, dir } = await openFileKv();
  const other = await Deno.openKv(path);
  const r = receiver([]);
  const loops = [loop(kv, "a", 3, 20), loop(other, "b", 3, 20)];
  try {
    const jobs: JobRecord[] = [];
    for (let i = 0; i < 12; i++) jobs.push(await endedJob(kv, r.url));
    for (const l of loops) l.start();
    await until(
      async () => {
        for (const job of jobs) if (!(await getJob(kv, job.id))!.webhook!.delivered) return false;
        return true;
      },
      10_000,
      "every delivery",
    );
    const ids = r.received.map((x) => x.headers.get("webhook-id")).sort();
    assert.deepEqual(ids, jobs.map((j) => `${j.id}.cancelled`).sort());
  } finally {
    await Promise.all(loops.map((l) => l.stop(1000)));
    kv.close();
    other.close();
    await r.server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
