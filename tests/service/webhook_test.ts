/** Signed webhooks: signature format, one attempt's classification, and delivery from the live server. */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { retryDelayMs, sendWebhook, signWebhook } from "../../lib/jobs/webhook.ts";
import { expectedSignature, receiver } from "./_receiver.ts";
import { startServer, waitJob } from "./_harness.ts";

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
    assert.deepEqual(job.webhook, {
      url: r.url,
      attempts: 2,
      delivered: true,
      status: "delivered",
      next_attempt_at: null,
      last_status: 200,
      last_error: null,
    });
    assert.deepEqual(r.received.map((x) => x.status), [502, 200]);
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
