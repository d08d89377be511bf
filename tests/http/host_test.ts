/** The Host parser, and a malformed Host on a real loopback server: 400 JSON on every route. */
import assert from "node:assert/strict";
import { parseHost } from "../../lib/http/host.ts";
import { fakeGenerator } from "../service/_fake_generator.ts";
import { startInProcess } from "../service/_in_process.ts";
import { exchange } from "../service/_raw.ts";

Deno.test("parseHost accepts names, IPv4 and bracketed IPv6 with an optional port 1-65535", () => {
  assert.deepEqual(parseHost("example.com"), { ok: true, hostname: "example.com", port: null });
  assert.deepEqual(parseHost("Example.COM:8080"), {
    ok: true,
    hostname: "Example.COM",
    port: 8080,
  });
  assert.deepEqual(parseHost("127.0.0.1:1"), { ok: true, hostname: "127.0.0.1", port: 1 });
  assert.deepEqual(parseHost("[::1]"), { ok: true, hostname: "[::1]", port: null });
  assert.deepEqual(parseHost("[::1]:65535"), { ok: true, hostname: "[::1]", port: 65535 });
  assert.deepEqual(parseHost("my_service.local"), {
    ok: true,
    hostname: "my_service.local",
    port: null,
  });
});

Deno.test("parseHost refuses malformed hosts and ports, saying what is wrong", () => {
  for (
    const bad of [
      "evil.com:99999",
      "evil.com:0",
      "evil.com:",
      "evil.com:8o",
      "[::1",
      "::1",
      "[::1]x",
      "[::g]",
      "[]",
      "a b",
      "x/y",
      "a@b",
      "a?b",
      "a#b",
      "a\\b",
      "é.com",
      "",
      ":80",
      "a".repeat(254),
    ]
  ) {
    const result = parseHost(bad);
    assert.equal(result.ok, false, JSON.stringify(bad));
    assert.ok(!result.ok && result.reason.length > 0);
  }
});

Deno.test("a malformed Host is 400 invalid_host on every route, creates nothing, and is logged and counted", async () => {
  const server = await startInProcess({ generator: fakeGenerator(5) });
  try {
    const port = Number(new URL(server.url).port);
    const body = JSON.stringify({ prompt: "a fox", size: "64x64", steps: 1 });
    const routes = [
      "GET /healthz",
      "GET /readyz",
      "GET /metrics",
      "GET /openapi.json",
      "GET /v1/models",
      `GET /v1/jobs/${"a".repeat(32)}`,
      "POST /v1/jobs",
      "POST /v1/images/generations",
      "PUT /v1/jobs",
      "GET /nowhere",
    ];
    for (const host of ["evil.com:99999", "[::1", "a b", "x/y", "a@b"]) {
      for (const route of routes) {
        const post = route.startsWith("POST");
        const res = await exchange(
          port,
          `${route} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n` +
            (post ? `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n` : "") +
            `\r\n${post ? body : ""}`,
        );
        assert.equal(res?.status, 400, `${host} ${route}`);
        assert.match(res!.headers.get("content-type")!, /application\/json/);
        const error = JSON.parse(res!.body).error;
        assert.equal(error.code, "invalid_host", `${host} ${route}`);
        assert.equal(error.field, "Host");
      }
    }
    const ready = await (await fetch(`${server.url}/readyz`)).json();
    assert.equal(ready.queue_depth, 0, "no job was created");
    const logged = server.records().filter((r) => r.msg === "request" && r.status === 400);
    assert.equal(logged.length, 5 * routes.length);
    assert.equal(server.records().filter((r) => r.msg === "unhandled error").length, 0);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(
      metrics,
      /hydit_http_requests_total\{route="unmatched",method="POST",status="400"\} 10/,
    );
    // A valid Host is used for links.
    const ok = await exchange(
      port,
      `POST /v1/jobs HTTP/1.1\r\nHost: api.example:8443\r\nConnection: close\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    assert.equal(ok?.status, 202);
    assert.match(JSON.parse(ok!.body).links.self, /^http:\/\/api\.example:8443\/v1\/jobs\//);
  } finally {
    await server.stop();
  }
});
