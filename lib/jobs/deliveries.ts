/**
 * Durable webhook deliveries in Deno KV. A job with a webhook gets a delivery record
 * (`["webhook", jobId]`) and a due-index entry (`["webhook_due", at, jobId]`) in the same atomic commit
 * that ends it. Any process claims a due delivery with a lease: the claim moves the due time to the
 * lease's end, so a delivery whose claimer died is due again once the lease runs out. Each attempt is
 * settled under the versionstamp of the claim (a claimer whose lease was taken over writes nothing): a
 * retry moves the due time by the backoff, a final outcome deletes the record; both are written on the
 * job record too.
 *
 * @module
 */
import { type JobRecord, keys, type WebhookStatus } from "./job.ts";
import { withKvRetry } from "./kv_retry.ts";

/** A pending delivery (`["webhook", jobId]`). */
export interface WebhookDelivery {
  jobId: string;
  url: string;
  /** The `webhook-id` header, the same on every attempt. */
  eventId: string;
  /** Attempts made so far. */
  attempts: number;
  /** When the next attempt is due; while claimed, when the claim's lease ends. */
  dueAt: number;
  /** Worker holding the lease, while claimed. */
  claimedBy?: string;
}

/** A delivery held under a lease. */
export interface DeliveryClaim {
  delivery: WebhookDelivery;
  /** Versionstamp of the claimed record; settling checks it. */
  versionstamp: string;
}

/** What one attempt came to. */
export type AttemptOutcome =
  | { kind: "delivered"; status: number }
  | { kind: "retry"; at: number; status?: number; error?: string }
  | { kind: "failed"; status?: number; error?: string };

/**
 * Adds to `op` the delivery of a job that is ending now with a pending webhook, due at once, and sets
 * the job's webhook status to pending with that due time (before `op` writes the job). No-op for a job
 * without one.
 */
export function addDelivery(op: Deno.AtomicOperation, job: JobRecord): Deno.AtomicOperation {
  // (A record written before webhook states existed has no `state`: it is pending too.)
  if (!job.webhook || job.webhook.delivered || job.webhook.state === "failed") return op;
  const at = job.finishedAt ?? Date.now();
  const delivery: WebhookDelivery = {
    jobId: job.id,
    url: job.webhook.url,
    eventId: `${job.id}.${job.state}`,
    attempts: 0,
    dueAt: at,
  };
  job.webhook = { ...job.webhook, state: "pending", nextAttemptAt: at };
  return op.set(keys.delivery(job.id), delivery).set(keys.deliveryDue(at, job.id), job.id);
}

/** Options for {@linkcode claimDueDeliveries}. */
export interface DeliveryClaimOptions {
  /** How long a claim holds; it must outlast one attempt. */
  leaseMs: number;
  /** Most deliveries claimed in one call. */
  limit: number;
  now?: number;
}

/** Claims up to `limit` deliveries that are due (oldest first) for `worker`. */
export async function claimDueDeliveries(
  kv: Deno.Kv,
  worker: string,
  options: DeliveryClaimOptions,
): Promise<DeliveryClaim[]> {
  const now = options.now ?? Date.now();
  const due = await withKvRetry(async () => {
    const out: Deno.KvKey[] = [];
    const iter = kv.list<string>({
      start: [...keys.deliveryDuePrefix, 0],
      end: [...keys.deliveryDuePrefix, now + 1],
    }, { limit: options.limit });
    for await (const entry of iter) out.push(entry.key);
    return out;
  });
  const claims: DeliveryClaim[] = [];
  for (const dueKey of due) {
    const jobId = dueKey[2] as string;
    const entry = await withKvRetry(() => kv.get<WebhookDelivery>(keys.delivery(jobId)));
    if (!entry.value || entry.value.dueAt !== dueKey[1]) {
      // Another process claimed or settled it since the listing: its index entry moved already.
      continue;
    }
    const until = now + options.leaseMs;
    const claimed: WebhookDelivery = { ...entry.value, dueAt: until, claimedBy: worker };
    const res = await withKvRetry(() =>
      kv.atomic().check(entry)
        .delete(dueKey)
        .set(keys.delivery(jobId), claimed)
        .set(keys.deliveryDue(until, jobId), jobId)
        .commit()
    );
    if (res.ok) claims.push({ delivery: claimed, versionstamp: res.versionstamp });
  }
  return claims;
}

/** The job's webhook status after an attempt (coarse: the receiver's answer is only logged). */
function statusAfter(delivery: WebhookDelivery, outcome: AttemptOutcome): WebhookStatus {
  return {
    url: delivery.url,
    attempts: delivery.attempts + 1,
    delivered: outcome.kind === "delivered",
    state: outcome.kind === "retry" ? "pending" : outcome.kind,
    ...(outcome.kind === "retry" ? { nextAttemptAt: outcome.at } : {}),
  };
}

/**
 * Records one attempt: reschedules a retry or removes the finished delivery, and writes the status on
 * the job record (if it still exists). Returns false when the claim's lease was taken over meanwhile.
 */
export async function settleDelivery(
  kv: Deno.Kv,
  claim: DeliveryClaim,
  outcome: AttemptOutcome,
): Promise<boolean> {
  const d = claim.delivery;
  const key = keys.delivery(d.jobId);
  for (let attempt = 0; attempt < 20; attempt++) {
    const job = await withKvRetry(() => kv.get<JobRecord>(keys.job(d.jobId)));
    const op = kv.atomic()
      .check({ key, versionstamp: claim.versionstamp })
      .check(job)
      .delete(keys.deliveryDue(d.dueAt, d.jobId));
    if (outcome.kind === "retry") {
      const next: WebhookDelivery = {
        jobId: d.jobId,
        url: d.url,
        eventId: d.eventId,
        attempts: d.attempts + 1,
        dueAt: outcome.at,
      };
      op.set(key, next).set(keys.deliveryDue(outcome.at, d.jobId), d.jobId);
    } else {
      op.delete(key);
    }
    if (job.value) op.set(keys.job(d.jobId), { ...job.value, webhook: statusAfter(d, outcome) });
    if ((await withKvRetry(() => op.commit())).ok) return true;
    const current = await withKvRetry(() => kv.get(key));
    if (current.versionstamp !== claim.versionstamp) return false;
  }
  throw new Error(`Cannot record webhook attempt for job "${d.jobId}": job record kept changing`);
}

/** Milliseconds until the earliest due delivery (0 if one is due), or null when none is pending. */
export async function msUntilNextDelivery(kv: Deno.Kv, now = Date.now()): Promise<number | null> {
  const first = await withKvRetry(async () => {
    for await (const entry of kv.list({ prefix: keys.deliveryDuePrefix }, { limit: 1 })) {
      return entry.key[1] as number;
    }
    return null;
  });
  return first === null ? null : Math.max(0, first - now);
}
