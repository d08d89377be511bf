/** A loopback webhook receiver for tests, and the signature a receiver expects. */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";

/** One request the receiver got, with the status it answered. */
export interface Received {
  headers: Headers;
  body: string;
  status: number;
  /** `performance.now()` when it arrived. */
  at: number;
}

/** A loopback receiver answering the given statuses in turn, then `then` (200 unless given). */
export function receiver(statuses: number[], then = 200) {
  const received: Received[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const at = performance.now();
    const status = statuses.shift() ?? then;
    received.push({ headers: req.headers, body: await req.text(), status, at });
    return new Response(null, { status });
  });
  return { url: `http://127.0.0.1:${server.addr.port}/hook`, received, server };
}

/** The `webhook-signature` a receiver computes for a request (Node's HMAC, not ours). */
export function expectedSignature(secret: string, headers: Headers, body: string): string {
  const ts = headers.get("webhook-timestamp");
  return `v1=${createHmac("sha256", secret).update(`${ts}.${body}`).digest("hex")}`;
}

/**
 * Asserts that `got` is the signed webhook of job `id` ending in `state` (id header, signature under
 * `secret`, payload type); returns the payload.
 */
// deno-lint-ignore no-explicit-any
export function assertWebhook(got: Received, secret: string, id: string, state: string): any {
  assert.equal(got.headers.get("webhook-id"), `${id}.${state}`);
  assert.equal(
    got.headers.get("webhook-signature"),
    expectedSignature(secret, got.headers, got.body),
  );
  const payload = JSON.parse(got.body);
  assert.equal(payload.type, `job.${state}`);
  assert.equal(payload.job.id, id);
  return payload;
}
