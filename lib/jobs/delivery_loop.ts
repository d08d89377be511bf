/**
 * The webhook delivery loop: claims due deliveries from KV (see deliveries.ts), checks the target
 * again (a host that now resolves to a non-public address is refused: a failed attempt), POSTs each
 * signed, and records the attempt: delivered, retried after an exponential backoff kept in KV, or
 * given up after the configured attempts (or at once on a non-retryable status). Any process on the KV runs one;
 * a restart resumes whatever is pending. Delivery is at least once: receivers dedupe on `webhook-id`.
 *
 * @module
 */
import {
  type AttemptOutcome,
  claimDueDeliveries,
  type DeliveryClaim,
  msUntilNextDelivery,
  settleDelivery,
} from "./deliveries.ts";
import type { Log } from "../log.ts";
import type { JobRecord } from "./job.ts";
import { getJob } from "./store.ts";
import { retryDelayMs, type SendResult, sendWebhook } from "./webhook.ts";
import { checkWebhookTarget, type WebhookAllow } from "./webhook_target.ts";

/** Everything the loop needs. */
export interface DeliveryLoopOptions {
  kv: Deno.Kv;
  log: Log;
  /** Worker id recorded on claims. */
  worker: string;
  secret: string;
  /** Non-public receivers allowed (every attempt checks its target again: DNS can change). */
  allow: WebhookAllow;
  /** Attempts in total per delivery. */
  attempts: number;
  /** Delay after the first failed attempt, doubled after each further one. */
  backoffMs: number;
  /** Longest wait between looks at the KV (deliveries queued by other processes). */
  pollMs: number;
  /** The JSON payload of a job's webhook (rendered at each attempt from the stored job). */
  render: (job: JobRecord) => unknown;
  /** Per-attempt timeout; a claim's lease is this plus 5 s. @default 10000 */
  timeoutMs?: number;
  /** Deliveries in flight at once. @default 8 */
  concurrency?: number;
  /** Called with each attempt's outcome (metrics). */
  observe?: (kind: AttemptOutcome["kind"]) => void;
}

/** A running delivery loop. */
export interface DeliveryLoop {
  /** Starts looking for due deliveries. */
  start(): void;
  /** Looks now (a job just ended here). */
  wake(): void;
  /** Stops claiming and waits up to `waitMs` for attempts in flight. */
  stop(waitMs: number): Promise<void>;
}

/** Creates the loop; call `start()` to begin. */
export function createDeliveryLoop(options: DeliveryLoopOptions): DeliveryLoop {
  const { kv, log } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const concurrency = options.concurrency ?? 8;
  const inflight = new Set<Promise<void>>();
  let stopped = true;
  let busy = false;
  let again = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  async function attempt(claim: DeliveryClaim): Promise<void> {
    const d = claim.delivery;
    const made = d.attempts + 1;
    const job = await getJob(kv, d.jobId);
    let outcome: AttemptOutcome;
    if (!job) {
      outcome = {
        kind: "failed",
        error: "The job record expired before its webhook was delivered",
      };
    } else {
      const body = JSON.stringify(options.render(job));
      const target = await checkWebhookTarget(d.url, options.allow);
      const sent: SendResult = target.ok
        ? await sendWebhook(d.url, d.eventId, body, { secret: options.secret, timeoutMs })
        : { ok: false, retryable: target.retryable, error: `not sent: ${target.reason}` };
      const detail = {
        ...(sent.status !== undefined ? { status: sent.status } : {}),
        ...(sent.error !== undefined ? { error: sent.error } : {}),
      };
      if (sent.ok) outcome = { kind: "delivered", status: sent.status! };
      else if (sent.retryable && made < options.attempts) {
        outcome = {
          kind: "retry",
          at: Date.now() + retryDelayMs(made, options.backoffMs),
          ...detail,
        };
      } else outcome = { kind: "failed", ...detail };
    }
    if (!(await settleDelivery(kv, claim, outcome))) {
      log("warn", "webhook claim was taken over; attempt not recorded", { job: d.jobId });
      return;
    }
    options.observe?.(outcome.kind);
    log(outcome.kind === "failed" ? "warn" : "info", `webhook ${outcome.kind}`, {
      job: d.jobId,
      url: d.url,
      attempt: made,
      ...outcome,
    });
  }

  function launch(claim: DeliveryClaim): void {
    const run: Promise<void> = attempt(claim)
      .catch((error) =>
        log("error", "webhook attempt failed", { job: claim.delivery.jobId, error: String(error) })
      )
      .finally(() => {
        inflight.delete(run);
        if (!stopped) pass();
      });
    inflight.add(run);
  }

  let passing: Promise<void> = Promise.resolve();

  function pass(): void {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    passing = claimDue().finally(() => busy = false);
  }

  async function claimDue(): Promise<void> {
    let waitMs = options.pollMs;
    try {
      do {
        again = false;
        const room = concurrency - inflight.size;
        if (stopped || room <= 0) break;
        const claims = await claimDueDeliveries(kv, options.worker, {
          leaseMs: timeoutMs + 5_000,
          limit: room,
        });
        for (const claim of claims) launch(claim);
        if (claims.length === room) again = true;
      } while (again && !stopped);
      const next = await msUntilNextDelivery(kv);
      if (next !== null && inflight.size < concurrency) waitMs = Math.min(waitMs, next);
    } catch (error) {
      log("error", "webhook claim failed", { error: String(error) });
    }
    if (stopped) return;
    // A wake that came after the last claim looks again soon.
    if (again) waitMs = 0;
    clearTimeout(timer);
    timer = setTimeout(pass, Math.max(25, waitMs));
  }

  return {
    start() {
      stopped = false;
      pass();
    },
    wake() {
      if (!stopped) pass();
    },
    async stop(waitMs) {
      stopped = true;
      clearTimeout(timer);
      let graceTimer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => graceTimer = setTimeout(resolve, waitMs));
      await Promise.race([passing.then(() => Promise.all(inflight)), grace]);
      clearTimeout(graceTimer);
    },
  };
}
