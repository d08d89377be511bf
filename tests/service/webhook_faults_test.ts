/**
 * Webhooks against real server processes: a delivery pending at `kill -9` completes after a restart
 * exactly once and validly signed.
 */
import assert from "node:assert/strict";
import { assertWebhook, receiver } from "./_receiver.ts";
import { call, startServer, until } from "./_harness.ts";

const SECRET = "restart-secret";

Deno.test("kill -9 while a webhook retry is pending, restart: delivered exactly once, signed", async () => {
  const r = receiver([503, 503]);
  const env = {
    HYDIT_WEBHOOK_SECRET: SECRET,
    HYDIT_WEBHOOK_ALLOW: "127.0.0.1",
    HYDIT_WEBHOOK_BACKOFF_MS: "2000",
  };
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
    assert.deepEqual(Object.keys(pending).sort(), [
      "attempts",
      "delivered",
      "next_attempt_at",
      "status",
      "url",
    ]);
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
    });
    for (const got of r.received) {
      assert.equal(assertWebhook(got, SECRET, id, "succeeded").job.images.length, 1);
    }
    assert.ok(second.records().some((x) => x.msg === "webhook delivered" && x.job === id));
  } finally {
    await first.kill();
    await second?.stop();
    await r.server.shutdown();
  }
});
