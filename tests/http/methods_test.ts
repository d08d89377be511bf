/** Unsupported methods get 405 with `Allow`; the Bearer scheme is matched case-insensitively. */
import assert from "node:assert/strict";
import { allowedMethods } from "../../lib/http/allow.ts";
import { KEY_A, testApp } from "./_app.ts";

const JOB = "0123456789abcdef0123456789abcdef";

Deno.test("a known path asked with another method is 405 with Allow and a JSON error", async () => {
  const t = await testApp();
  const cases: [string, string, string][] = [
    ["PUT", "/v1/jobs", "GET, HEAD, POST"],
    ["DELETE", "/v1/jobs", "GET, HEAD, POST"],
    ["PATCH", `/v1/jobs/${JOB}`, "DELETE, GET, HEAD"],
    ["POST", `/v1/jobs/${JOB}/events`, "GET, HEAD"],
    ["POST", "/v1/schedules", "GET, HEAD"],
    ["DELETE", "/healthz", "GET, HEAD"],
    ["OPTIONS", "/metrics", "GET, HEAD"],
  ];
  for (const [method, path, allow] of cases) {
    const res = await t.call(method, path, { key: KEY_A });
    const body = await res.json();
    assert.equal(res.status, 405, `${method} ${path}`);
    assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
    assert.equal(body.error.code, "method_not_allowed");
    assert.match(body.error.message, new RegExp(`${method} is not allowed`));
  }
  const unknown = await t.call("GET", "/v2/jobs", { key: KEY_A });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.headers.get("allow"), null);
  assert.ok(t.logs.some((r) => r.msg === "request" && r.status === 405 && r.method === "PUT"));
});

Deno.test("unauthenticated requests to API paths are still 401 before any 405", async () => {
  const t = await testApp();
  const res = await t.call("PUT", "/v1/jobs");
  assert.equal(res.status, 401);
});

Deno.test("the Bearer scheme is case-insensitive; the key itself is not", async () => {
  const t = await testApp();
  for (const scheme of ["Bearer", "bearer", "BEARER", "bEaReR"]) {
    const res = await t.app.request("/v1/schedules", {
      headers: { authorization: `${scheme} ${KEY_A}` },
    });
    assert.equal(res.status, 200, scheme);
  }
  for (const header of [`Bearer ${KEY_A.toUpperCase()}`, `Basic ${KEY_A}`, `Bearer${KEY_A}`]) {
    const res = await t.app.request("/v1/schedules", { headers: { authorization: header } });
    assert.equal(res.status, 401, header);
  }
});

Deno.test("allowedMethods matches parameter segments and ignores middleware", () => {
  const allowed = allowedMethods([
    { method: "ALL", path: "/v1/*" },
    { method: "GET", path: "/v1/jobs/:id" },
    { method: "DELETE", path: "/v1/jobs/:id" },
    { method: "POST", path: "/v1/jobs" },
  ]);
  assert.deepEqual(allowed("/v1/jobs/abc"), ["DELETE", "GET", "HEAD"]);
  assert.deepEqual(allowed("/v1/jobs"), ["POST"]);
  assert.deepEqual(allowed("/v1/jobs/abc/x"), []);
  assert.deepEqual(allowed("/v1/other"), []);
});
