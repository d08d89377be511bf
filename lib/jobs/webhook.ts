/**
 * Signed webhook requests. Each attempt is a JSON POST with `webhook-id`, `webhook-timestamp` and
 * `webhook-signature: v1=<hex HMAC-SHA256 over "<timestamp>.<body>">`. Network errors, 408, 429 and
 * 5xx are worth retrying; the retry schedule is exponential. Redirects are not followed (a signed
 * payload goes only where the job said): a 3xx is a failed attempt. Durable retries live in
 * deliveries.ts.
 *
 * @module
 */

import { hex } from "../bytes.ts";

/** Options for {@linkcode sendWebhook}. */
export interface SendOptions {
  secret: string;
  /** Per-attempt timeout. @default 10000 */
  timeoutMs?: number;
}

/** Outcome of one attempt. */
export interface SendResult {
  ok: boolean;
  /** Whether a later attempt may succeed (network error, 408, 429, 5xx). */
  retryable: boolean;
  status?: number;
  error?: string;
}

/** Hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`. */
export async function signWebhook(
  secret: string,
  timestamp: number,
  body: string,
): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return hex(
    await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${timestamp}.${body}`)),
  );
}

/** Delay before the attempt after failed attempt number `attempt` (1-based): doubled each time. */
export function retryDelayMs(attempt: number, backoffMs: number): number {
  return backoffMs * 2 ** (attempt - 1);
}

/** POSTs `body` (JSON text) to `url` once, signed with a fresh timestamp. */
export async function sendWebhook(
  url: string,
  id: string,
  body: string,
  options: SendOptions,
): Promise<SendResult> {
  const timestamp = Math.floor(Date.now() / 1000);
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "webhook-id": id,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": `v1=${await signWebhook(options.secret, timestamp, body)}`,
      },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    await res.body?.cancel();
    if (res.status >= 300 && res.status < 400) {
      const error = `redirect (to ${res.headers.get("location") ?? "nowhere"}) not followed`;
      return { ok: false, retryable: false, status: res.status, error };
    }
    const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
    return { ok: res.ok, retryable: !res.ok && retryable, status: res.status };
  } catch (error) {
    return {
      ok: false,
      retryable: true,
      error: error instanceof Error ? error.message : String(error),
    };
  }
}
