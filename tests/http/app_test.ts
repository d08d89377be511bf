/**
 * The HTTP layer in-process: every route through `app.request()` over a fake `Jobs`, checking what
 * it asks of the facade and how it renders each answer (status, headers, JSON, SSE).
 */
import assert from "node:assert/strict";
import type { ImageMeta } from "../../lib/jobs/job.ts";
import { testImageMeta } from "../service/_params.ts";
import { fakeJob, statusOf } from "./_fake_jobs.ts";
import { KEY_A, KEY_B, testApp } from "./_app.ts";

const BODY = { prompt: "a red fox", size: "96x64", steps: 3, seed: 1234 };

Deno.test("POST /v1/jobs submits for the caller with defaults filled and answers 202 with the job", async () => {
  const t = await testApp();
  const res = await t.call("POST", "/v1/jobs", { key: KEY_A, body: BODY });
  assert.equal(res.status, 202);
  const view = await res.json();
  assert.equal(view.status, "queued");
  assert.equal(view.queue_position, 0);
  assert.equal(res.headers.get("location"), `http://localhost/v1/jobs/${view.id}`);
  assert.equal(res.headers.get("idempotent-replayed"), null);
  const [[method, submission]] = t.jobs.calls;
  assert.equal(method, "submit");
  assert.deepEqual(submission, {
    owner: await t.owner(KEY_A),
    origin: "http://localhost",
    params: {
      prompt: "a red fox",
      negativePrompt: "",
      width: 96,
      height: 64,
      steps: 3,
      guidanceScale: 5,
      guidanceRescale: 0,
      seed: 1234,
      sampler: "ddpm",
      n: 1,
      outputFormat: "png",
      resolutionBinning: false,
    },
  });
  assert.deepEqual(view.request.size, "96x64");
  assert.ok(t.logs.some((r) => r.msg === "job queued" && r.job === view.id));
});

Deno.test("Idempotency-Key is scoped per endpoint with a key-order-free body hash; a replay says so", async () => {
  const t = await testApp();
  const headers = { "idempotency-key": "order-42" };
  await t.call("POST", "/v1/jobs", { key: KEY_A, body: BODY, headers });
  await t.call("POST", "/v1/jobs", {
    key: KEY_A,
    body: { seed: 1234, steps: 3, size: "96x64", prompt: "a red fox" },
    headers,
  });
  const [first, second] = t.jobs.calls.filter(([m]) => m === "submit")
    .map(([, s]) => (s as { idempotency: unknown }).idempotency);
  assert.deepEqual(first, second);
  assert.equal((first as { key: string }).key, "jobs:order-42");
  const job = fakeJob(await t.owner(KEY_A));
  t.jobs.statuses.set(job.id, statusOf(job));
  t.jobs.next.submit = { kind: "replayed", job };
  const replay = await t.call("POST", "/v1/jobs", { key: KEY_A, body: BODY, headers });
  assert.equal(replay.status, 202);
  assert.equal(replay.headers.get("idempotent-replayed"), "true");
  assert.equal((await replay.json()).id, job.id);
});

Deno.test("a reused Idempotency-Key with another body is 409, a full queue is 429 with Retry-After", async () => {
  const t = await testApp();
  t.jobs.next.submit = { kind: "conflict", jobId: "f".repeat(32) };
  const conflict = await t.call("POST", "/v1/jobs", {
    key: KEY_A,
    body: BODY,
    headers: { "idempotency-key": "k" },
  });
  assert.equal(conflict.status, 409);
  assert.equal((await conflict.json()).error.code, "idempotency_conflict");
  t.jobs.next.submit = { kind: "full", depth: 32, retryAfterSeconds: 17 };
  for (const path of ["/v1/jobs", "/v1/images/generations"]) {
    const full = await t.call("POST", path, { key: KEY_A, body: BODY });
    assert.equal(full.status, 429);
    assert.equal(full.headers.get("retry-after"), "17");
    const { error } = await full.json();
    assert.equal(error.code, "queue_full");
    assert.match(error.message, /Queue is full \(32 jobs\): retry after 17 s/);
  }
});

Deno.test("webhook_url without a signing secret is 400 and nothing is submitted", async () => {
  const t = await testApp();
  const res = await t.call("POST", "/v1/jobs", {
    key: KEY_A,
    body: { ...BODY, webhook_url: "https://example.com/hook" },
  });
  assert.equal(res.status, 400);
  const { error } = await res.json();
  assert.deepEqual([error.code, error.field], ["webhooks_disabled", "webhook_url"]);
  assert.deepEqual(t.jobs.calls, []);
  const secret = await testApp({ HYDIT_WEBHOOK_SECRET: "s", HYDIT_WEBHOOK_ALLOW: "example.com" });
  await secret.call("POST", "/v1/jobs", {
    key: KEY_A,
    body: { ...BODY, webhook_url: "https://example.com/hook" },
  });
  assert.equal(
    (secret.jobs.calls[0][1] as { webhookUrl: string }).webhookUrl,
    "https://example.com/hook",
  );
});

Deno.test("webhook_url with credentials in it is 400 naming the field, and the secret is not echoed", async () => {
  const t = await testApp({ HYDIT_WEBHOOK_SECRET: "s" });
  for (const url of ["https://user:hunter2@example.com/hook", "http://hunter2@example.com/hook"]) {
    const res = await t.call("POST", "/v1/jobs", {
      key: KEY_A,
      body: { ...BODY, webhook_url: url },
    });
    assert.equal(res.status, 400);
    const { error } = await res.json();
    assert.deepEqual([error.code, error.field], ["invalid_request", "webhook_url"]);
    assert.match(error.message, /must not carry credentials/);
    assert.doesNotMatch(error.message, /hunter2/);
  }
  assert.deepEqual(t.jobs.calls, []);
  assert.doesNotMatch(JSON.stringify(t.logs), /hunter2/);
});

Deno.test("model is accepted and ignored, user is accepted and written to the queue log line", async () => {
  const t = await testApp();
  const res = await t.call("POST", "/v1/jobs", {
    key: KEY_A,
    body: { ...BODY, model: "dall-e-3", user: "user-17" },
  });
  assert.equal(res.status, 202);
  const view = await res.json();
  assert.equal(t.logs.find((r) => r.msg === "job queued")?.user, "user-17");
  assert.ok(!("model" in view.request) && !("user" in view.request));
});

Deno.test("new work is refused with 503 while starting, draining or failed, and /readyz says why", async () => {
  const t = await testApp();
  for (const phase of ["starting", "draining", "failed"] as const) {
    t.state.phase = phase;
    t.state.error = phase === "failed" ? "engines: no manifest" : null;
    const res = await t.call("POST", "/v1/images/generations", { key: KEY_A, body: BODY });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("retry-after"), phase === "draining" ? "30" : "5");
    assert.equal((await res.json()).error.code, "not_ready");
    const ready = await t.call("GET", "/readyz");
    assert.equal(ready.status, 503);
    const body = await ready.json();
    assert.deepEqual([body.ready, body.status, body.error], [false, phase, t.state.error]);
  }
  assert.deepEqual(t.jobs.calls.filter(([m]) => m === "submit"), []);
});

Deno.test("POST /v1/images/generations answers with the images the wait delivered, reading nothing back", async () => {
  const t = await testApp();
  const bytes = new Uint8Array([137, 80, 78, 71, 1, 2, 3]);
  const owner = await t.owner(KEY_A);
  const image = { id: "a".repeat(32), seed: 1234, width: 96, height: 64, format: "png", bytes: 7 };
  const done = fakeJob(owner, {
    state: "succeeded",
    startedAt: Date.UTC(2026, 0, 1) + 40,
    finishedAt: Date.UTC(2026, 0, 1) + 540,
    generationMs: 480.4,
    stepSeconds: 0.1,
    images: [image as ImageMeta],
  });
  t.jobs.next.wait = { job: done, images: new Map([[image.id, bytes]]) };
  const res = await t.call("POST", "/v1/images/generations", { key: KEY_A, body: BODY });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.job_id, done.id);
  assert.deepEqual(body.timings, {
    queue_ms: 40,
    generation_ms: 480,
    total_ms: 540,
    step_seconds: 0.1,
  });
  assert.deepEqual(body.data, [{
    seed: 1234,
    width: 96,
    height: 64,
    b64_json: btoa(String.fromCharCode(...bytes)),
  }]);
  const [, , waitOptions] = t.jobs.calls.find(([m]) => m === "wait")!;
  assert.equal((waitOptions as { timeoutMs: number }).timeoutMs, 300_000);
  assert.ok(!t.jobs.calls.some(([m]) => m === "readImage"), "no image read back");

  t.jobs.next.wait = { job: done, images: new Map() };
  const url = await t.call("POST", "/v1/images/generations", {
    key: KEY_A,
    body: { ...BODY, response_format: "url" },
  });
  assert.match(
    (await url.json()).data[0].url,
    new RegExp(`^http://localhost/v1/images/${image.id}\\?expires=\\d+&sig=[0-9a-f]{64}$`),
  );
});

Deno.test("POST /v1/images/generations maps a failed job to 500, a cancelled one to 409, a slow one to 202", async () => {
  const t = await testApp();
  const owner = await t.owner(KEY_A);
  const failed = fakeJob(owner, {
    state: "failed",
    error: { code: "generation_failed", message: 'engine "dit" failed: out of memory' },
  });
  t.jobs.next.wait = { job: failed, images: new Map() };
  const res = await t.call("POST", "/v1/images/generations", { key: KEY_A, body: BODY });
  assert.equal(res.status, 500);
  assert.deepEqual((await res.json()).error, {
    code: "generation_failed",
    message: 'engine "dit" failed: out of memory',
  });
  t.jobs.next.wait = { job: fakeJob(owner, { state: "cancelled" }), images: new Map() };
  assert.equal(
    (await t.call("POST", "/v1/images/generations", { key: KEY_A, body: BODY })).status,
    409,
  );
  delete t.jobs.next.wait;
  const slow = await t.call("POST", "/v1/images/generations", { key: KEY_A, body: BODY });
  assert.equal(slow.status, 202);
  const view = await slow.json();
  assert.equal(slow.headers.get("location"), `http://localhost/v1/jobs/${view.id}`);
  assert.equal(view.status, "queued");
});

Deno.test("GET and DELETE /v1/jobs/{id} go through the facade; an unknown or foreign job is 404", async () => {
  const t = await testApp({ HYDIT_PUBLIC_URL: "https://hydit.example/" });
  const job = fakeJob(await t.owner(KEY_A), { state: "running", attempts: 1 });
  t.jobs.statuses.set(job.id, {
    job,
    progress: { image: 0, step: 4, steps: 10, stepSeconds: 0.25, updatedAt: 0 },
    estimate: { position: null, etaSeconds: 1.5 },
  });
  const got = await (await t.call("GET", `/v1/jobs/${job.id}`, { key: KEY_A })).json();
  assert.deepEqual(got.progress, { image: 0, images: 1, step: 4, steps: 10 });
  assert.equal(got.eta_seconds, 1.5);
  assert.equal(got.links.self, `https://hydit.example/v1/jobs/${job.id}`);
  assert.deepEqual(t.jobs.calls.at(-1), ["view", job.id, await t.owner(KEY_A), undefined]);

  const del = await t.call("DELETE", `/v1/jobs/${job.id}`, { key: KEY_A });
  assert.equal(del.status, 202);
  assert.ok(t.jobs.calls.some(([m, id]) => m === "cancel" && id === job.id));
  assert.ok(t.logs.some((r) => r.msg === "job cancel" && r.outcome === "cancelled"));

  const other = "e".repeat(32);
  for (const method of ["GET", "DELETE"]) {
    const res = await t.call(method, `/v1/jobs/${other}`, { key: KEY_B });
    assert.equal(res.status, 404);
    assert.deepEqual((await res.json()).error.field, "id");
  }
  const none = await t.call("GET", `/v1/jobs/${job.id}`);
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="hydit"');
  const wrong = await t.call("GET", `/v1/jobs/${job.id}`, { key: "not-a-key" });
  assert.equal(wrong.status, 401);
});

Deno.test("GET /v1/images/{id} serves bytes with type and cache headers, 304 on its ETag, 404 once gone", async () => {
  const t = await testApp();
  const id = "b".repeat(32);
  const meta = testImageMeta(id, await t.owner(KEY_A), { format: "webp" });
  t.jobs.images.set(id, { meta, bytes: new Uint8Array([1, 2, 3]) });
  const res = await t.call("GET", `/v1/images/${id}`, { key: KEY_A });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "image/webp");
  assert.equal(res.headers.get("etag"), `"${id}"`);
  assert.match(res.headers.get("cache-control")!, /^private, max-age=(3599|3600), immutable$/);
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), new Uint8Array([1, 2, 3]));
  const reads = t.jobs.calls.filter(([m]) => m === "read").length;
  const again = await t.call("GET", `/v1/images/${id}`, {
    key: KEY_A,
    headers: { "if-none-match": `"${id}"` },
  });
  assert.equal(again.status, 304);
  assert.equal(t.jobs.calls.filter(([m]) => m === "read").length, reads, "304 reads no bytes");
  t.jobs.images.set(id, { meta, bytes: null });
  const gone = await t.call("GET", `/v1/images/${id}`, { key: KEY_A });
  assert.equal(gone.status, 404);
  assert.match((await gone.json()).error.message, /has expired/);
  assert.equal((await t.call("GET", `/v1/images/${"d".repeat(32)}`, { key: KEY_A })).status, 404);
});

/** Reads an SSE response to its end; returns [event, data] pairs. */
async function readEvents(res: Response): Promise<(readonly [string, Record<string, unknown>])[]> {
  const text = await res.text();
  return text.split("\n\n").filter((b) => b.includes("event:")).map((block) => {
    const event = /event: (.*)/.exec(block)![1];
    return [event, JSON.parse(/data: (.*)/.exec(block)![1])] as const;
  });
}

Deno.test("GET /v1/jobs/{id}/events streams queued, started, steps in order, image, then the final view", async () => {
  const t = await testApp();
  const job = fakeJob(await t.owner(KEY_A));
  t.jobs.statuses.set(job.id, statusOf(job));
  const res = await t.call("GET", `/v1/jobs/${job.id}/events`, { key: KEY_A });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /text\/event-stream/);
  const reading = readEvents(res);
  while (!t.jobs.calls.some(([m]) => m === "subscribe")) await new Promise((r) => setTimeout(r, 5));
  const publish = t.jobs.events.publish;
  publish(job.id, { type: "started", attempt: 1 });
  for (const step of [1, 2, 2, 3]) {
    publish(job.id, { type: "step", image: 0, step, steps: 3, stepSeconds: 0.1 });
  }
  publish(job.id, { type: "image", index: 0, imageId: "f".repeat(32), bytes: new Uint8Array(1) });
  const done = { ...job, state: "succeeded" as const };
  t.jobs.statuses.set(job.id, statusOf(done));
  publish(job.id, { type: "succeeded", job: done });
  const events = await reading;
  assert.deepEqual(events.map(([e]) => e), [
    "queued",
    "started",
    "step",
    "step",
    "step",
    "image",
    "succeeded",
  ]);
  assert.deepEqual(events[0][1], { position: 0, eta_seconds: null });
  assert.deepEqual(events.filter(([e]) => e === "step").map(([, d]) => d.step), [1, 2, 3]);
  const { url, ...image } = events[5][1];
  assert.deepEqual(image, { index: 0, image_id: "f".repeat(32) });
  assert.match(
    String(url),
    new RegExp(`^http://localhost/v1/images/${"f".repeat(32)}\\?expires=\\d+&sig=`),
  );
  assert.equal(events[6][1].status, "succeeded");
  const unknown = await t.call("GET", `/v1/jobs/${"a".repeat(32)}/events`, { key: KEY_A });
  assert.equal(unknown.status, 404);
});

Deno.test("at the end of a drain an open SSE stream ends with draining and a sync wait answers 202", async () => {
  const t = await testApp();
  const job = fakeJob(await t.owner(KEY_A));
  t.jobs.statuses.set(job.id, statusOf(job));
  const res = await t.call("GET", `/v1/jobs/${job.id}/events`, { key: KEY_A });
  const reading = readEvents(res);
  while (!t.jobs.calls.some(([m]) => m === "subscribe")) await new Promise((r) => setTimeout(r, 5));
  t.closing.abort();
  const events = await reading;
  assert.deepEqual(events.map(([e]) => e), ["queued", "draining"]);
  assert.deepEqual(events[1][1], {
    job_id: job.id,
    status: "queued",
    status_url: `http://localhost/v1/jobs/${job.id}`,
  });
  const sync = await t.call("POST", "/v1/images/generations", { key: KEY_A, body: BODY });
  assert.equal(sync.status, 202);
  const [, , options] = t.jobs.calls.find(([m]) => m === "wait")!;
  assert.ok((options as { signal: AbortSignal }).signal.aborted, "the wait ends with the drain");
});

Deno.test("/readyz, /healthz, /metrics, /openapi.json and request ids", async () => {
  const t = await testApp();
  t.jobs.next.depth = 3;
  t.jobs.next.stepSeconds = 0.05;
  const ready = await t.call("GET", "/readyz");
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), {
    ready: true,
    status: "ready",
    backend: "onnx",
    model_version: "v1.2",
    precision: "fp32",
    sizes: { min: 64 },
    queue_depth: 3,
    queue_limit: 32,
    concurrency: 1,
    step_seconds: 0.05,
    error: null,
  });
  assert.deepEqual(await (await t.call("GET", "/healthz")).json(), { status: "ok" });
  const metrics = await t.call("GET", "/metrics", { headers: { "x-request-id": "trace-abc.1" } });
  assert.equal(metrics.headers.get("x-request-id"), "trace-abc.1");
  assert.match(metrics.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
  assert.match(
    await metrics.text(),
    /hydit_http_requests_total\{route="\/readyz",method="GET",status="200"\} 1/,
  );
  assert.equal(t.logs.find((r) => r.request_id === "trace-abc.1")?.route, "/metrics");
  const generated = await t.call("GET", "/healthz", { headers: { "x-request-id": "bad id!" } });
  assert.match(generated.headers.get("x-request-id")!, /^[0-9a-f-]{36}$/);
  const doc = await (await t.call("GET", "/openapi.json")).json();
  assert.ok(doc.paths["/v1/jobs"].post && doc.paths["/v1/images/generations"].post);
  assert.ok(doc.components.schemas.GenerationRequest);
});

Deno.test("GET /v1/schedules renders each schedule with its last and next run", async () => {
  const t = await testApp();
  const params = fakeJob("*").params;
  t.jobs.next.schedules = [{
    schedule: { name: "tick", cron: "* * * * *", spec: {} as never, params, fixedSeed: false },
    lastRun: {
      lastSlot: Date.UTC(2026, 0, 1, 6),
      lastRunAt: Date.UTC(2026, 0, 1, 6, 0, 5),
      status: "queue_full",
      tries: 2,
      lastJobId: null,
      error: "Queue full (1 jobs): retrying in 5000 ms",
    },
    nextRun: new Date(Date.UTC(2026, 0, 1, 6, 1)),
  }];
  const { data } = await (await t.call("GET", "/v1/schedules", { key: KEY_B })).json();
  assert.deepEqual(data[0].last_run, {
    slot: "2026-01-01T06:00:00.000Z",
    at: "2026-01-01T06:00:05.000Z",
    status: "queue_full",
    tries: 2,
    job_id: null,
    error: "Queue full (1 jobs): retrying in 5000 ms",
  });
  assert.equal(data[0].next_run, "2026-01-01T06:01:00.000Z");
  assert.equal(data[0].request.prompt, params.prompt);
  assert.equal(data[0].webhook, false);
});

Deno.test("an unexpected failure behind the facade is a 500 with the request id in the log", async () => {
  const t = await testApp();
  t.jobs.broken = new Error("KV is on fire");
  const res = await t.call("GET", `/v1/jobs/${"a".repeat(32)}`, { key: KEY_A });
  assert.equal(res.status, 500);
  assert.equal((await res.json()).error.code, "internal");
  const logged = t.logs.find((r) => r.msg === "unhandled error");
  assert.equal(logged?.request_id, res.headers.get("x-request-id"));
  assert.match(String(logged?.error), /KV is on fire/);
  const missing = await t.call("GET", "/v2/nothing");
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, "not_found");
});
