/** Signed webhooks: signature format, retry with backoff, and delivery from the live server. */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { deliverWebhook, signWebhook } from "../../lib/jobs/webhook.ts";
import { startServer, waitJob } from "./_harness.ts";

interface Received {
  headers: Headers;
  body: string;
}

/** A loopback receiver answering the given statuses in turn (then 200). */
function receiver(statuses: number[]) {
  const received: Received[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    received.push({ headers: req.headers, body: await req.text() });
    return new Response(null, { status: statuses.shift() ?? 200 });
  });
  return { url: `http://127.0.0.1:${server.addr.port}/hook`, received, server };
}

function expectedSignature(secret: string, headers: Headers, body: string): string {
  const ts = headers.get("webhook-timestamp");
  return `v1=${createHmac("sha256", secret).update(`${ts}.${body}`).digest("hex")}`;
}

Deno.test("signWebhook() is HMAC-SHA256 over timestamp.body", async () => {
  const ours = await signWebhook("s3cret", 1700000000, '{"a":1}');
  const theirs = createHmac("sha256", "s3cret").update('1700000000.{"a":1}').digest("hex");
  assert.equal(ours, theirs);
});

Deno.test("deliverWebhook() retries 5xx with backoff and stops at a 4xx", async () => {
  const r = receiver([503, 500]);
  try {
    const t0 = performance.now();
    const ok = await deliverWebhook(r.url, "evt-1", { hello: "world" }, {
      secret: "k",
      attempts: 5,
      backoffMs: 50,
    });
    assert.deepEqual({ ...ok }, { delivered: true, attempts: 3, lastStatus: 200 });
    assert.ok(performance.now() - t0 >= 150, "waited 50 + 100 ms between attempts");
    for (const got of r.received) {
      assert.equal(got.headers.get("webhook-id"), "evt-1");
      assert.equal(
        got.headers.get("webhook-signature"),
        expectedSignature("k", got.headers, got.body),
      );
    }
    const r2 = receiver([404]);
    const refused = await deliverWebhook(r2.url, "evt-2", {}, {
      secret: "k",
      attempts: 5,
      backoffMs: 10,
    });
    assert.deepEqual([refused.delivered, refused.attempts, refused.lastStatus], [false, 1, 404]);
    await r2.server.shutdown();
    const dead = await deliverWebhook("http://127.0.0.1:9/x", "evt-3", {}, {
      secret: "k",
      attempts: 2,
      backoffMs: 10,
    });
    assert.deepEqual([dead.delivered, dead.attempts], [false, 2]);
    assert.ok(dead.lastError);
  } finally {
    await r.server.shutdown();
  }
});

Deno.test("the server signs and retries a job's webhook and records the delivery", async () => {
  const r = receiver([502]);
  const server = await startServer({
    env: { HYDIT_WEBHOOK_SECRET: "hook-secret", HYDIT_WEBHOOK_BACKOFF_MS: "100" },
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
    assert.deepEqual(job.webhook, { url: r.url, attempts: 2, delivered: true });
    assert.equal(r.received.length, 2);
    const last = r.received[1];
    assert.equal(
      last.headers.get("webhook-signature"),
      expectedSignature("hook-secret", last.headers, last.body),
    );
    const payload = JSON.parse(last.body);
    assert.equal(payload.type, "job.succeeded");
    assert.equal(payload.job.id, id);
    assert.equal(payload.job.images.length, 1);
  } finally {
    await server.stop();
    await r.server.shutdown();
  }
});

Deno.test("webhook_url is refused with 400 when no secret is configured", async () => {
  const server = await startServer();
  try {
    const res = await fetch(`${server.url}/v1/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        prompt: "x",
        size: "64x64",
        steps: 1,
        webhook_url: "http://127.0.0.1:9/",
      }),
    });
    assert.equal(res.status, 400);
    assert.deepEqual((await res.json()).error.field, "webhook_url");
  } finally {
    await server.stop();
  }
});
