/**
 * End to end through the whole service in-process (lib/service.ts with the real ONNX pipeline on
 * worker threads, a real KV file, a real HTTP server on loopback): every endpoint, image decoding,
 * SSE order, cancellation, idempotency and per-key visibility, queue positions and ETAs, a full
 * queue, and two pipeline threads.
 */
import assert from "node:assert/strict";
import sharp from "sharp";
import { call, until, waitJob } from "./_harness.ts";
import { type InProcessOptions, type InProcessServer, startInProcess } from "./_in_process.ts";

const KEY_A = "test-key-alpha-0001";
const KEY_B = "test-key-bravo-0002";
/** A job that keeps the single worker busy for seconds. */
const LONG = { prompt: "a long job", size: "256x256", steps: 200, n: 4 };

async function decode(bytes: Uint8Array) {
  return await sharp(bytes).metadata();
}

function fromB64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
}

/** A test against a fresh in-process service started with `options`, stopped afterwards. */
function serviceTest(
  name: string,
  options: InProcessOptions,
  fn: (server: InProcessServer) => Promise<void>,
): void {
  Deno.test(name, async () => {
    const server = await startInProcess(options);
    try {
      await fn(server);
    } finally {
      await server.stop();
    }
  });
}

/** Reads an SSE stream to its end; returns [event, data] pairs. */
async function readEvents(server: InProcessServer, id: string, key: string) {
  const res = await fetch(`${server.url}/v1/jobs/${id}/events`, {
    headers: { authorization: `Bearer ${key}` },
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
  const text = await res.text();
  return text.split("\n\n").filter((b) => b.includes("event:")).map((block) => {
    const event = /event: (.*)/.exec(block)![1];
    const data = JSON.parse(/data: (.*)/.exec(block)![1]);
    return [event, data] as const;
  });
}

Deno.test("service API serves generations, jobs, SSE, cancel, idempotency and auth", async (t) => {
  const server = await startInProcess({ env: { HYDIT_API_KEYS: `${KEY_A},${KEY_B}` } });
  try {
    await t.step(
      "POST /v1/images/generations returns a decodable PNG of the requested size",
      async () => {
        const res = await call(server, "POST", "/v1/images/generations", {
          key: KEY_A,
          body: { prompt: "a red fox in snow", size: "96x64", steps: 3, seed: 1234 },
        });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.seed, 1234);
        assert.equal(res.body.data.length, 1);
        const meta = await decode(fromB64(res.body.data[0].b64_json));
        assert.equal(meta.format, "png");
        assert.equal(meta.width, 96);
        assert.equal(meta.height, 64);
        assert.ok(res.body.timings.total_ms >= res.body.timings.generation_ms * 0);
        assert.ok(res.headers.get("x-request-id"));
      },
    );

    await t.step("response_format url with jpeg and webp links to decodable images", async () => {
      for (const format of ["jpeg", "webp"]) {
        const res = await call(server, "POST", "/v1/images/generations", {
          key: KEY_A,
          body: {
            prompt: "a boat",
            size: "64x80",
            steps: 2,
            output_format: format,
            response_format: "url",
            n: 2,
          },
        });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.data.length, 2);
        assert.equal(res.body.data[1].seed, res.body.data[0].seed + 1);
        const img = await fetch(res.body.data[0].url, {
          headers: { authorization: `Bearer ${KEY_A}` },
        });
        assert.equal(img.status, 200);
        assert.equal(img.headers.get("content-type"), `image/${format}`);
        assert.match(img.headers.get("cache-control") ?? "", /private, max-age=\d+/);
        const meta = await decode(new Uint8Array(await img.arrayBuffer()));
        assert.equal(meta.format, format);
        assert.deepEqual([meta.width, meta.height], [64, 80]);
        const again = await fetch(res.body.data[0].url, {
          headers: { authorization: `Bearer ${KEY_A}`, "if-none-match": img.headers.get("etag")! },
        });
        assert.equal(again.status, 304);
        await again.body?.cancel();
      }
    });

    await t.step("POST /v1/jobs queues, GET reports progress and result links", async () => {
      const res = await call(server, "POST", "/v1/jobs", {
        key: KEY_A,
        body: { prompt: "mountains", size: "64x64", steps: 4, seed: 7 },
      });
      assert.equal(res.status, 202);
      assert.match(res.body.id, /^[0-9a-f]{32}$/);
      assert.equal(res.headers.get("location"), `${server.url}/v1/jobs/${res.body.id}`);
      const done = await waitJob(server, res.body.id, { key: KEY_A });
      assert.equal(done.status, "succeeded");
      assert.equal(done.images.length, 1);
      assert.ok(done.step_seconds > 0);
      const img = await fetch(done.images[0].url, {
        headers: { authorization: `Bearer ${KEY_A}` },
      });
      const meta = await decode(new Uint8Array(await img.arrayBuffer()));
      assert.deepEqual([meta.format, meta.width, meta.height], ["png", 64, 64]);
    });

    await t.step("SSE shows queued, started, every step in order, then succeeded", async () => {
      // Occupy the worker so the job under test is still queued when the stream opens.
      const blocker = await call(server, "POST", "/v1/jobs", { key: KEY_A, body: LONG });
      const res = await call(server, "POST", "/v1/jobs", {
        key: KEY_A,
        body: { prompt: "stream me", size: "64x64", steps: 6 },
      });
      assert.equal(res.body.status, "queued");
      const reading = readEvents(server, res.body.id, KEY_A);
      await new Promise((r) => setTimeout(r, 300));
      await call(server, "DELETE", `/v1/jobs/${blocker.body.id}`, { key: KEY_A });
      const events = await reading;
      const names = events.map(([e]) => e);
      assert.equal(names[0], "queued");
      assert.equal(names[1], "started");
      assert.deepEqual(events.filter(([e]) => e === "step").map(([, d]) => d.step), [
        1,
        2,
        3,
        4,
        5,
        6,
      ]);
      assert.equal(names.at(-2), "image");
      assert.equal(names.at(-1), "succeeded");
      assert.equal(events.at(-1)![1].status, "succeeded");
    });

    await t.step("DELETE cancels a running job at its next step", async () => {
      const res = await call(server, "POST", "/v1/jobs", { key: KEY_A, body: LONG });
      const id = res.body.id;
      const stream = await fetch(`${server.url}/v1/jobs/${id}/events`, {
        headers: { authorization: `Bearer ${KEY_A}` },
      });
      const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!/event: step/.test(text)) {
        const { value, done } = await reader.read();
        assert.ok(!done, `stream ended before any step: ${text}`);
        text += value;
      }
      const cancel = await call(server, "DELETE", `/v1/jobs/${id}`, { key: KEY_A });
      assert.equal(cancel.status, 202);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      assert.match(text, /event: cancelled/);
      const job = await waitJob(server, id, { key: KEY_A });
      assert.equal(job.status, "cancelled");
      assert.equal(job.images.length, 0);
      // The worker logs the step it had seen when the cancel arrived and the step it stopped at; the
      // pipeline thread stops before its next step, and its step messages may trail by one.
      const requested = server.records().find((r) =>
        r.msg === "job stop requested: cancel" && r.job === id
      );
      const stopped = server.records().find((r) => r.msg === "job cancelled" && r.job === id);
      assert.ok(requested && stopped, "cancel logs");
      assert.ok(
        (stopped.step as number) - (requested.step as number) <= 2,
        JSON.stringify([requested, stopped]),
      );
      assert.ok((stopped.step as number) < 200);
    });

    await t.step("DELETE of a queued job cancels it before it runs", async () => {
      const blocker = await call(server, "POST", "/v1/jobs", { key: KEY_A, body: LONG });
      const queued = await call(server, "POST", "/v1/jobs", {
        key: KEY_A,
        body: { prompt: "never", size: "64x64", steps: 3 },
      });
      assert.equal(queued.body.status, "queued");
      const res = await call(server, "DELETE", `/v1/jobs/${queued.body.id}`, { key: KEY_A });
      assert.equal(res.body.status, "cancelled");
      assert.equal(res.body.started_at, null);
      await call(server, "DELETE", `/v1/jobs/${blocker.body.id}`, { key: KEY_A });
      await waitJob(server, blocker.body.id, { key: KEY_A });
    });

    await t.step(
      "Idempotency-Key returns the same job for the same body and 409 for another",
      async () => {
        const body = { prompt: "same", size: "64x64", steps: 2, seed: 5 };
        const headers = { "idempotency-key": "order-42" };
        const first = await call(server, "POST", "/v1/jobs", { key: KEY_A, body, headers });
        const second = await call(server, "POST", "/v1/jobs", {
          key: KEY_A,
          body: { seed: 5, steps: 2, size: "64x64", prompt: "same" },
          headers,
        });
        assert.equal(first.status, 202);
        assert.equal(second.status, 202);
        assert.equal(second.body.id, first.body.id);
        assert.equal(second.headers.get("idempotent-replayed"), "true");
        const other = await call(server, "POST", "/v1/jobs", {
          key: KEY_A,
          body: { ...body, seed: 6 },
          headers,
        });
        assert.equal(other.status, 409);
        assert.equal(other.body.error.code, "idempotency_conflict");
        // Keys are per API key: B may use the same key for its own job.
        const b = await call(server, "POST", "/v1/jobs", { key: KEY_B, body, headers });
        assert.equal(b.status, 202);
        assert.notEqual(b.body.id, first.body.id);
        await waitJob(server, first.body.id, { key: KEY_A });
        await waitJob(server, b.body.id, { key: KEY_B });
      },
    );

    await t.step(
      "auth: no key is 401, another key sees neither the job nor its images",
      async () => {
        const res = await call(server, "POST", "/v1/images/generations", {
          key: KEY_A,
          body: { prompt: "private", size: "64x64", steps: 1, response_format: "url" },
        });
        const none = await call(server, "GET", `/v1/jobs/${res.body.job_id}`);
        assert.equal(none.status, 401);
        assert.equal(none.body.error.code, "unauthorized");
        const wrong = await call(server, "GET", `/v1/jobs/${res.body.job_id}`, {
          key: "not-a-key",
        });
        assert.equal(wrong.status, 401);
        const other = await call(server, "GET", `/v1/jobs/${res.body.job_id}`, { key: KEY_B });
        assert.equal(other.status, 404);
        // The unsigned image path: key B may not read it (the signed link opens for anyone).
        const imageId = new URL(res.body.data[0].url).pathname.split("/").at(-1);
        const img = await call(server, "GET", `/v1/images/${imageId}`, { key: KEY_B });
        assert.equal(img.status, 404);
        const del = await call(server, "DELETE", `/v1/jobs/${res.body.job_id}`, { key: KEY_B });
        assert.equal(del.status, 404);
        const events = await call(server, "GET", `/v1/jobs/${res.body.job_id}/events`, {
          key: KEY_B,
        });
        assert.equal(events.status, 404);
      },
    );

    await t.step("healthz, readyz, metrics, openapi and request ids", async () => {
      assert.deepEqual((await call(server, "GET", "/healthz")).body, { status: "ok" });
      const ready = await call(server, "GET", "/readyz");
      assert.equal(ready.status, 200);
      assert.equal(ready.body.ready, true);
      assert.ok(ready.body.backend);
      const metrics = await call(server, "GET", "/metrics", {
        headers: { "x-request-id": "trace-abc.1" },
      });
      assert.equal(metrics.headers.get("x-request-id"), "trace-abc.1");
      assert.match(metrics.headers.get("content-type") ?? "", /^text\/plain; version=0.0.4/);
      for (
        const name of [
          'hydit_http_requests_total{route="/v1/jobs",method="POST",status="202"}',
          "hydit_queue_depth",
          'hydit_jobs_finished_total{state="succeeded"}',
          "hydit_step_seconds_bucket",
          "hydit_generation_seconds_count",
          "hydit_engine_load_seconds",
        ]
      ) assert.ok(metrics.body.includes(name), `metrics lack ${name}`);
      const doc = await call(server, "GET", "/openapi.json");
      assert.equal(doc.status, 200);
      assert.ok(doc.body.paths["/v1/jobs"].post);
      assert.ok(doc.body.paths["/v1/images/generations"].post);
      assert.ok(doc.body.components.schemas.GenerationRequest);
      const log = server.records().find((r) => r.request_id === "trace-abc.1");
      assert.equal(log?.route, "/metrics");
    });
  } finally {
    await server.stop();
  }
});

serviceTest("job views give queue positions and growing ETAs in order", {}, async (server) => {
  const long = { prompt: "hold the worker", size: "128x128", steps: 200, n: 2 };
  const first = await call(server, "POST", "/v1/jobs", { body: long });
  const deadline = Date.now() + 30_000;
  // ETAs need a measured step time: wait until the first job is a few steps in.
  while (!((await call(server, "GET", `/v1/jobs/${first.body.id}`)).body.progress?.step >= 3)) {
    if (Date.now() > deadline) throw new Error("the first job did not get going");
    await new Promise((r) => setTimeout(r, 25));
  }
  const queued = [];
  for (let i = 0; i < 3; i++) {
    const res = await call(server, "POST", "/v1/jobs", {
      body: { prompt: `wait ${i}`, size: "64x64", steps: 10 },
    });
    assert.equal(res.status, 202);
    assert.equal(res.body.queue_position, i, "the 202 view carries the position");
    queued.push(res.body.id);
  }
  const views = await Promise.all(
    queued.map(async (id) => (await call(server, "GET", `/v1/jobs/${id}`)).body),
  );
  assert.deepEqual(views.map((v) => v.queue_position), [0, 1, 2]);
  const etas = views.map((v) => v.eta_seconds);
  assert.ok(etas.every((e) => typeof e === "number" && e > 0), `ETAs ${etas}`);
  assert.ok(etas[0] < etas[1] && etas[1] < etas[2], `ETAs grow in queue order: ${etas}`);
  const running = (await call(server, "GET", `/v1/jobs/${first.body.id}`)).body;
  assert.equal(running.queue_position, null);
  for (const id of [first.body.id, ...queued]) await call(server, "DELETE", `/v1/jobs/${id}`);
  for (const id of [first.body.id, ...queued]) await waitJob(server, id);
});

serviceTest("a full queue answers 429 with Retry-After from measured step time", {
  env: { HYDIT_QUEUE_DEPTH: "2" },
}, async (server) => {
  const body = { prompt: "fill", size: "128x128", steps: 200 };
  const a = await call(server, "POST", "/v1/jobs", { body });
  const b = await call(server, "POST", "/v1/jobs", { body });
  assert.deepEqual([a.status, b.status], [202, 202]);
  const full = await call(server, "POST", "/v1/jobs", { body });
  assert.equal(full.status, 429);
  assert.equal(full.body.error.code, "queue_full");
  const retryAfter = Number(full.headers.get("retry-after"));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After ${retryAfter}`);
  const sync = await call(server, "POST", "/v1/images/generations", { body });
  assert.equal(sync.status, 429);
  await call(server, "DELETE", `/v1/jobs/${a.body.id}`);
  await call(server, "DELETE", `/v1/jobs/${b.body.id}`);
  await waitJob(server, a.body.id);
  const again = await call(server, "POST", "/v1/jobs", { body: { ...body, steps: 1 } });
  assert.equal(again.status, 202);
});

serviceTest("HYDIT_CONCURRENCY=2 runs two jobs at once, each on its own pipeline thread", {
  env: { HYDIT_CONCURRENCY: "2" },
}, async (server) => {
  const body = { prompt: "side by side", size: "128x128", steps: 200 };
  const a = await call(server, "POST", "/v1/jobs", { body });
  const b = await call(server, "POST", "/v1/jobs", { body });
  await until(
    async () => {
      const states = await Promise.all(
        [a, b].map(async (j) => (await call(server, "GET", `/v1/jobs/${j.body.id}`)).body.status),
      );
      return states.every((s) => s === "running");
    },
    30_000,
    "both jobs running",
  );
  const ready = await call(server, "GET", "/readyz");
  assert.equal(ready.body.concurrency, 2);
  await call(server, "DELETE", `/v1/jobs/${a.body.id}`);
  await call(server, "DELETE", `/v1/jobs/${b.body.id}`);
  assert.equal((await waitJob(server, a.body.id)).status, "cancelled");
  assert.equal((await waitJob(server, b.body.id)).status, "cancelled");
});
