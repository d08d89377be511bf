/**
 * Slow and half-open connections against the real service (in-process, fake generator) with short
 * timeouts: raw TCP clients that send partial heads, stall bodies, or stay idle are answered 408
 * where a response is possible and disconnected; requests in flight are never cut.
 */
import assert from "node:assert/strict";
import { fakeGenerator } from "./_fake_generator.ts";
import { type InProcessServer, startInProcess } from "./_in_process.ts";
import { connect, parseResponse, readToEnd, send } from "./_raw.ts";

const ENV = {
  HYDIT_HEADER_TIMEOUT_MS: "300",
  HYDIT_BODY_TIMEOUT_MS: "300",
  HYDIT_IDLE_TIMEOUT_MS: "300",
};

function timeoutTest(name: string, fn: (server: InProcessServer, port: number) => Promise<void>) {
  Deno.test(name, async () => {
    const server = await startInProcess({ generator: fakeGenerator(5), env: ENV });
    try {
      await fn(server, Number(new URL(server.url).port));
    } finally {
      await server.stop();
    }
  });
}

timeoutTest(
  "a partial request head is answered 408 request_timeout and closed",
  async (_, port) => {
    for (const partial of ["GET /healthz HTTP/1.1\r\nHost: a\r\n", "POST /v1/jo", ""]) {
      const conn = await connect(port);
      if (partial) await send(conn, partial);
      const text = await readToEnd(conn);
      assert.notEqual(text, null, `connection with ${JSON.stringify(partial)} was not closed`);
      const res = parseResponse(text!);
      assert.equal(res?.status, 408);
      assert.equal(JSON.parse(res!.body).error.code, "request_timeout");
    }
  },
);

timeoutTest(
  "a stalled body is 408 from the app (logged, with a request id) and the connection closes",
  async (server, port) => {
    const conn = await connect(port);
    await send(
      conn,
      "POST /v1/jobs HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n" +
        'Content-Length: 200\r\n\r\n{"prompt": "a fox",',
    );
    const text = await readToEnd(conn);
    assert.notEqual(text, null, "connection with a stalled body was not closed");
    const res = parseResponse(text!)!;
    assert.equal(res.status, 408);
    assert.equal(JSON.parse(res.body).error.code, "request_timeout");
    assert.ok(res.headers.get("x-request-id"));
    assert.ok(server.records().some((r) => r.msg === "request" && r.status === 408));
    const ready = await (await fetch(`${server.url}/readyz`)).json();
    assert.equal(ready.queue_depth, 0, "nothing was queued");
  },
);

timeoutTest(
  "an idle keep-alive connection is closed after its response, without a 408",
  async (server, port) => {
    const conn = await connect(port);
    await send(conn, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    const text = await readToEnd(conn);
    assert.notEqual(text, null, "idle connection was not closed");
    assert.equal(parseResponse(text!)?.status, 200);
    assert.equal(text!.match(/HTTP\/1\.1 /g)?.length, 1, "only the one response");
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /hydit_connection_timeouts_total\{kind="idle"\} [1-9]/);
  },
);

timeoutTest("a request in flight longer than every timeout is never cut", async (_, port) => {
  // The synchronous route is silent until the job ends: 200 steps of 5 ms, over 1 s.
  const body = JSON.stringify({ prompt: "slow", size: "64x64", steps: 200 });
  const conn = await connect(port);
  await send(
    conn,
    "POST /v1/images/generations HTTP/1.1\r\nHost: a\r\nConnection: close\r\n" +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  const text = await readToEnd(conn);
  const res = parseResponse(text!)!;
  assert.equal(res.status, 200);
  assert.equal(JSON.parse(res.body).data.length, 1);
});

timeoutTest(
  "responses pass the relay unchanged: a fixed body keeps its Content-Length",
  async (_, port) => {
    const conn = await connect(port);
    await send(conn, "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    const res = parseResponse((await readToEnd(conn))!)!;
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("transfer-encoding"), undefined);
    assert.equal(Number(res.headers.get("content-length")), res.body.length);
  },
);
