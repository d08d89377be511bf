/**
 * Signed webhooks. Each delivery is a JSON POST with `webhook-id`, `webhook-timestamp` and
 * `webhook-signature: v1=<hex HMAC-SHA256 over "<timestamp>.<body>">`; it is retried with exponential
 * backoff on network errors, 408, 429 and 5xx.
 *
 * @module
 */

/** Options for {@linkcode deliverWebhook}. */
export interface DeliveryOptions {
  secret: string;
  /** Attempts in total. @default 5 */
  attempts?: number;
  /** Delay before the second attempt, doubled each time. @default 1000 */
  backoffMs?: number;
  /** Per-attempt timeout. @default 10000 */
  timeoutMs?: number;
}

/** Outcome of a delivery. */
export interface DeliveryResult {
  delivered: boolean;
  attempts: number;
  lastStatus?: number;
  lastError?: string;
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
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

function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** POSTs `payload` to `url`, signed, retrying with backoff until delivered or out of attempts. */
export async function deliverWebhook(
  url: string,
  id: string,
  payload: unknown,
  options: DeliveryOptions,
): Promise<DeliveryResult> {
  const attempts = options.attempts ?? 5;
  const backoffMs = options.backoffMs ?? 1000;
  const body = JSON.stringify(payload);
  const result: DeliveryResult = { delivered: false, attempts: 0 };
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, backoffMs * 2 ** (i - 1)));
    result.attempts = i + 1;
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
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      await res.body?.cancel();
      result.lastStatus = res.status;
      delete result.lastError;
      if (res.ok) {
        result.delivered = true;
        return result;
      }
      if (!retryable(res.status)) return result;
    } catch (error) {
      result.lastError = error instanceof Error ? error.message : String(error);
    }
  }
  return result;
}
