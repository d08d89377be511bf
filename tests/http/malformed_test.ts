/**
 * Hostile and malformed input against the app in-process: wrong types, out-of-range values, unknown
 * fields, broken bodies (invalid UTF-8, truncated JSON, huge and chunked bodies, wrong content types),
 * path traversal in ids and bad headers. Every request must get a 4xx JSON error, nothing may reach
 * the job facade, and the app must keep answering with no unhandled error logged.
 */
import assert from "node:assert/strict";
import { KEY_A as KEY, testApp } from "./_app.ts";

interface Case {
  name: string;
  method?: string;
  path?: string;
  /** Raw body (string or bytes) sent as is. */
  body?: string | Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array<ArrayBuffer>>;
  headers?: Record<string, string>;
  /** Skip the default bearer key. */
  noAuth?: boolean;
}

const VALID = { prompt: "a cat", size: "64x64", steps: 2 };
const FIELDS = [
  "prompt",
  "negative_prompt",
  "n",
  "size",
  "response_format",
  "output_format",
  "steps",
  "guidance_scale",
  "guidance_rescale",
  "seed",
  "sampler",
  "resolution_binning",
  "webhook_url",
  "model",
  "user",
];
/** Values of the wrong JSON type for each field (raw JSON text). */
const WRONG_TYPES: Record<string, string[]> = {
  string: ["null", "true", "12", "[]", "{}", '["a"]'],
  number: ["null", "true", '"5"', "[]", "{}", '"NaN"'],
  boolean: ["null", '"true"', "1", "[]", "{}", "0"],
};
const KIND: Record<string, keyof typeof WRONG_TYPES> = {
  prompt: "string",
  negative_prompt: "string",
  n: "number",
  size: "string",
  response_format: "string",
  output_format: "string",
  steps: "number",
  guidance_scale: "number",
  guidance_rescale: "number",
  seed: "number",
  sampler: "string",
  resolution_binning: "boolean",
  webhook_url: "string",
  model: "string",
  user: "string",
};

function withField(field: string, rawValue: string): string {
  const base = JSON.stringify({ ...VALID, [field]: undefined }).slice(0, -1);
  return `${base},${JSON.stringify(field)}:${rawValue}}`;
}

function cases(): Case[] {
  const out: Case[] = [];
  const post = (
    name: string,
    body: string | Uint8Array<ArrayBuffer>,
    extra: Partial<Case> = {},
  ) => {
    for (const path of ["/v1/jobs", "/v1/images/generations"]) {
      out.push({ name: `${path} ${name}`, path, body, ...extra });
    }
  };
  for (const field of FIELDS) {
    for (const raw of WRONG_TYPES[KIND[field]]) post(`${field}=${raw}`, withField(field, raw));
  }
  const outOfRange: [string, string][] = [
    ["steps", "0"],
    ["steps", "201"],
    ["steps", "-5"],
    ["steps", "1.5"],
    ["steps", "1e309"],
    ["steps", "-1e309"],
    ["guidance_scale", "-0.1"],
    ["guidance_scale", "30.5"],
    ["guidance_scale", "1e400"],
    ["guidance_rescale", "1.01"],
    ["n", "0"],
    ["n", "5"],
    ["n", "2.5"],
    ["seed", "-1"],
    ["seed", "9007199254740992"],
    ["seed", "1e20"],
    ["seed", "0.5"],
    ["size", '"0x0"'],
    ["size", '"-64x64"'],
    ["size", '"64x-64"'],
    ["size", '"65x64"'],
    ["size", '"64x64x64"'],
    ["size", '"4096x4096"'],
    ["size", '"1024x1024"'],
    ["size", '"48x48"'],
    ["size", '"abc"'],
    ["size", '"64 x 64"'],
    ["size", '"1e2x64"'],
    ["size", '""'],
    ["size", '"64X64"'],
    ["sampler", '"euler"'],
    ["output_format", '"gif"'],
    ["output_format", '"../png"'],
    ["response_format", '"file"'],
    ["prompt", '""'],
    ["prompt", JSON.stringify("x".repeat(1025))],
    ["negative_prompt", JSON.stringify("y".repeat(1025))],
    ["webhook_url", '"ftp://example.com/hook"'],
    ["webhook_url", '"javascript:alert(1)"'],
    ["webhook_url", '"not a url"'],
    ["webhook_url", JSON.stringify("http://x/" + "a".repeat(2100))],
    ["model", JSON.stringify("m".repeat(200))],
  ];
  for (const [field, raw] of outOfRange) {
    post(`${field}=${raw.slice(0, 40)}`, withField(field, raw));
  }
  post("unknown field", JSON.stringify({ ...VALID, foo: 1 }));
  post("__proto__ field", `{"prompt":"a","__proto__":{"admin":true}}`);
  post("constructor field", `{"prompt":"a","constructor":{"prototype":{}}}`);
  post("missing prompt", JSON.stringify({ size: "64x64" }));
  post("empty object", "{}");
  post("empty body", "");
  post("null", "null");
  post("array", "[]");
  post("number", "1");
  post("string", '"prompt"');
  post("truncated", '{"prompt":"a cat","steps":');
  post("trailing garbage", '{"prompt":"a"} xyz');
  post("NaN literal", '{"prompt":"a","steps":NaN}');
  post("Infinity literal", '{"prompt":"a","guidance_scale":Infinity}');
  post("single quotes", "{'prompt':'a'}");
  post("comment", '{"prompt":"a" /* c */}');
  post("deep nesting", "[".repeat(100_000) + "]".repeat(100_000));
  post(
    "invalid UTF-8",
    new Uint8Array([0x7b, 0x22, 0x70, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
  );
  post(
    "overlong UTF-8",
    new Uint8Array([...new TextEncoder().encode('{"prompt":"'), 0xc0, 0xaf, 0x22, 0x7d]),
  );
  post(
    "truncated UTF-8",
    new Uint8Array([...new TextEncoder().encode('{"prompt":"'), 0xe4, 0xb8, 0x22, 0x7d]),
  );
  post("UTF-16 body", new Uint8Array([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]));
  post("huge body", JSON.stringify({ prompt: "p".repeat(200_000) }));
  post("text/plain", JSON.stringify(VALID), { headers: { "content-type": "text/plain" } });
  post("form content type", "prompt=a", {
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  post("multipart", "--x\r\n\r\n", {
    headers: { "content-type": "multipart/form-data; boundary=x" },
  });
  post("no auth", JSON.stringify(VALID), { noAuth: true });
  post("wrong key", JSON.stringify(VALID), {
    noAuth: true,
    headers: { authorization: "Bearer nope" },
  });
  post("basic auth", JSON.stringify(VALID), {
    noAuth: true,
    headers: { authorization: "Basic YTpi" },
  });
  post("long idempotency key", JSON.stringify(VALID), {
    headers: { "idempotency-key": "k".repeat(300) },
  });
  post("idempotency key with space", JSON.stringify(VALID), {
    headers: { "idempotency-key": "a b" },
  });
  // A chunked body without Content-Length that grows past the limit.
  for (const path of ["/v1/jobs", "/v1/images/generations"]) {
    out.push({
      name: `${path} chunked huge body`,
      path,
      body: new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode('{"prompt":"'));
          for (let i = 0; i < 40; i++) c.enqueue(new Uint8Array(4096).fill(0x61));
          c.enqueue(new TextEncoder().encode('"}'));
          c.close();
        },
      }),
    });
  }
  const ids = [
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fkv",
    "..%5C..%5Cwindows",
    "0123456789ABCDEF0123456789ABCDEF",
    "0123456789abcdef0123456789abcde",
    "0123456789abcdef0123456789abcdef0",
    "0123456789abcdef0123456789abcde%00",
    "%00",
    "-1",
    "NaN",
    "null",
    "ffffffffffffffffffffffffffffffff",
    "00000000000000000000000000000000",
    "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
    "%F0%9F%98%80",
    "a".repeat(3000),
  ];
  for (const id of ids) {
    out.push({ name: `GET job ${id.slice(0, 20)}`, method: "GET", path: `/v1/jobs/${id}` });
    out.push({ name: `DELETE job ${id.slice(0, 20)}`, method: "DELETE", path: `/v1/jobs/${id}` });
    out.push({ name: `GET image ${id.slice(0, 20)}`, method: "GET", path: `/v1/images/${id}` });
    out.push({
      name: `GET events ${id.slice(0, 20)}`,
      method: "GET",
      path: `/v1/jobs/${id}/events`,
    });
  }
  for (
    const [method, path] of [
      ["PUT", "/v1/jobs"],
      ["PATCH", "/v1/jobs/0123456789abcdef0123456789abcdef"],
      ["GET", "/v1/images/generations"],
      ["POST", "/v1/schedules"],
      ["GET", "/v2/jobs"],
      ["GET", "/v1/../../etc/passwd"],
      ["GET", "/%2e%2e/%2e%2e/etc/passwd"],
      ["POST", "/healthz"],
      ["GET", "/v1/jobs/0123456789abcdef0123456789abcdef/events/x"],
    ]
  ) out.push({ name: `${method} ${path}`, method, path });
  return out;
}

Deno.test("at least 200 malformed or hostile requests each get a 4xx JSON error and the app stays up", async () => {
  const t = await testApp();
  const all = cases();
  assert.ok(all.length >= 200, `only ${all.length} cases`);
  const failures: string[] = [];
  for (const c of all) {
    const headers: Record<string, string> = {};
    if (!c.noAuth) headers.authorization = `Bearer ${KEY}`;
    if (c.body !== undefined) headers["content-type"] = "application/json";
    Object.assign(headers, c.headers);
    const res = await t.app.request(c.path ?? "/", {
      method: c.method ?? "POST",
      headers,
      body: c.body,
    });
    const text = await res.text();
    let code: unknown;
    try {
      code = JSON.parse(text).error?.code;
    } catch { /* not JSON */ }
    const okStatus = res.status >= 400 && res.status < 500;
    const json = /application\/json/.test(res.headers.get("content-type") ?? "");
    if (!okStatus || !json || typeof code !== "string") {
      failures.push(`${c.name}: ${res.status} ${text.slice(0, 120)}`);
    }
  }
  assert.deepEqual(failures, []);
  assert.equal((await t.app.request("/healthz")).status, 200);
  assert.equal(t.logs.filter((r) => r.msg === "unhandled error").length, 0);
  const submitted = t.jobs.calls.filter(([method]) => method === "submit");
  assert.deepEqual(submitted, [], "no malformed request reached the job facade");
});
