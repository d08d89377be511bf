/**
 * Job records in Deno KV: submission (bounded, idempotent), reads, queue listing and cancellation.
 * Every multi-key change is one KV atomic operation.
 *
 * Admission is one decision: a submission counts the queue index after reading the admission key,
 * and commits the job only if that key is unchanged, rewriting it in the same commit. Two
 * submissions that counted the same queue cannot both commit (the loser counts again), so no number
 * of parallel submissions, from any number of processes, takes the queue past its bound. The count
 * is the queue index itself, which every commit that ends a job updates, so there is no separate
 * counter to drift on finish, cancel, expiry or crash.
 *
 * @module
 */
import { addDelivery } from "./deliveries.ts";
import { withKvRetry } from "./kv_retry.ts";
import {
  type GenerationParams,
  isTerminal,
  type JobProgress,
  type JobRecord,
  keys,
  type Lease,
  newId,
  type QueueValue,
  queueValue,
} from "./job.ts";

/** What a submission carries besides the parameters. */
export interface SubmitInput {
  owner: string;
  params: GenerationParams;
  webhookUrl?: string;
  schedule?: string;
  /** Origin of the submitting request, kept for the links in webhook payloads. */
  origin?: string;
  /** Client key and a hash of the request body, for `Idempotency-Key`. */
  idempotency?: { key: string; bodyHash: string };
}

/** Limits for {@linkcode submitJob}. */
export interface SubmitOptions {
  /** Queued plus running jobs beyond which the submission is refused. */
  maxDepth: number;
  /** Queued plus running jobs of the submitting owner beyond which it is refused; 0: no limit. */
  maxPerOwner?: number;
  /** How long the idempotency record lives, in ms. */
  idempotencyTtlMs: number;
  now?: number;
}

/** Result of a submission. */
export type SubmitResult =
  | { kind: "created"; job: JobRecord }
  | { kind: "replayed"; job: JobRecord }
  | { kind: "conflict"; jobId: string }
  | { kind: "full"; depth: number }
  | { kind: "owner_full"; queued: number; limit: number };

interface IdempotencyRecord {
  jobId: string;
  bodyHash: string;
}

/** One entry of the queue index: jobs not yet finished, oldest first. */
export interface QueueEntry extends QueueValue {
  createdAt: number;
}

/**
 * Lists unfinished jobs (queued and running) oldest first, at most `limit`; with `before`, only the
 * jobs ahead of that one (a read bounded by its position).
 */
export function listQueue(
  kv: Deno.Kv,
  limit = 10_000,
  before?: { createdAt: number; id: string },
): Promise<QueueEntry[]> {
  const selector = before
    ? { prefix: keys.queuePrefix, end: keys.queue(before.createdAt, before.id) }
    : { prefix: keys.queuePrefix };
  return withKvRetry(async () => {
    const out: QueueEntry[] = [];
    for await (const entry of kv.list<QueueValue | string>(selector, { limit })) {
      // Entries written before the index carried values hold just the id (no steps known).
      const value = typeof entry.value === "string"
        ? { id: entry.value, running: false, n: 0, images: 0, steps: 0 }
        : entry.value;
      out.push({ ...value, createdAt: entry.key[1] as number });
    }
    return out;
  });
}

/** One page of an owner's jobs, newest first, and the cursor of the next page (null at the end). */
export interface OwnerJobsPage {
  ids: string[];
  cursor: string | null;
}

/**
 * Lists the ids of `owner`'s jobs newest first from the owner index, `limit` per page; null when
 * `cursor` is not one this listing gave out.
 */
export async function listOwnerJobs(
  kv: Deno.Kv,
  owner: string,
  page: { limit: number; cursor?: string },
): Promise<OwnerJobsPage | null> {
  try {
    return await withKvRetry(async () => {
      const entries = kv.list<string>({ prefix: keys.ownerJobsPrefix(owner) }, {
        limit: page.limit,
        reverse: true,
        ...(page.cursor ? { cursor: page.cursor } : {}),
      });
      const ids: string[] = [];
      for await (const entry of entries) ids.push(entry.value);
      return { ids, cursor: ids.length === page.limit ? entries.cursor : null };
    });
  } catch (error) {
    if (error instanceof TypeError && /cursor/i.test(error.message)) return null;
    throw error;
  }
}

/** Reads a job record, or null. */
export async function getJob(kv: Deno.Kv, id: string): Promise<JobRecord | null> {
  return (await withKvRetry(() => kv.get<JobRecord>(keys.job(id)))).value;
}

/** Reads a job with its live progress and lease in one snapshot. */
export async function getJobSnapshot(
  kv: Deno.Kv,
  id: string,
): Promise<{ job: JobRecord; progress: JobProgress | null; lease: Lease | null } | null> {
  const [job, progress, lease] = await withKvRetry(() =>
    kv.getMany<[JobRecord, JobProgress, Lease]>([keys.job(id), keys.progress(id), keys.lease(id)])
  );
  if (!job.value) return null;
  return { job: job.value, progress: progress.value, lease: lease.value };
}

/** Submissions that lose the admission race before giving up (each waits a little longer). */
const ADMISSION_TRIES = 100;

/**
 * Submits a job: replays or rejects a reused idempotency key, refuses when the queue or the owner's
 * share of it is full. The bound holds under any concurrency (see the module note).
 */
export async function submitJob(
  kv: Deno.Kv,
  input: SubmitInput,
  options: SubmitOptions,
): Promise<SubmitResult> {
  for (let attempt = 0; attempt < ADMISSION_TRIES; attempt++) {
    if (attempt > 0) await sleep(Math.random() * Math.min(50, 2 * attempt));
    const idemKey = input.idempotency ? keys.idempotency(input.owner, input.idempotency.key) : null;
    const [admission, idem] = idemKey
      ? await withKvRetry(() => kv.getMany<[unknown, IdempotencyRecord]>([keys.admission, idemKey]))
      : [await withKvRetry(() => kv.get(keys.admission)), null];
    if (idem?.value) {
      if (idem.value.bodyHash !== input.idempotency!.bodyHash) {
        return { kind: "conflict", jobId: idem.value.jobId };
      }
      const existing = await getJob(kv, idem.value.jobId);
      if (existing) return { kind: "replayed", job: existing };
    }
    const queue = await listQueue(kv, options.maxDepth + 1);
    if (queue.length >= options.maxDepth) return { kind: "full", depth: queue.length };
    const limit = options.maxPerOwner ?? 0;
    const mine = queue.filter((q) => q.owner === input.owner).length;
    if (limit > 0 && mine >= limit) return { kind: "owner_full", queued: mine, limit };
    const now = options.now ?? Date.now();
    const job: JobRecord = {
      id: newId(),
      owner: input.owner,
      state: "queued",
      params: input.params,
      createdAt: now,
      attempts: 0,
      images: [],
      ...(input.webhookUrl
        ? { webhook: { url: input.webhookUrl, attempts: 0, delivered: false, state: "pending" } }
        : {}),
      ...(input.schedule ? { schedule: input.schedule } : {}),
      ...(input.origin ? { origin: input.origin } : {}),
    };
    const op = kv.atomic()
      .check(admission)
      .set(keys.admission, job.id)
      .set(keys.job(job.id), job)
      .set(keys.queue(now, job.id), queueValue(job))
      .set(keys.ownerJob(job.owner, now, job.id), job.id);
    if (idemKey && idem) {
      op.check(idem).set(
        idemKey,
        { jobId: job.id, bodyHash: input.idempotency!.bodyHash } satisfies IdempotencyRecord,
        { expireIn: options.idempotencyTtlMs },
      );
    }
    const res = await withKvRetry(() => op.commit());
    if (res.ok) return { kind: "created", job };
  }
  throw new Error("Cannot submit job: other submissions kept winning the admission race");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Writes a running job's live progress (best effort: it expires after `ttlMs`). */
export async function writeProgress(
  kv: Deno.Kv,
  id: string,
  progress: JobProgress,
  ttlMs: number,
): Promise<void> {
  await withKvRetry(() => kv.set(keys.progress(id), progress, { expireIn: ttlMs }));
}

/** True when a cancel was requested for a job running somewhere (see {@linkcode cancelJob}). */
export async function cancelRequested(kv: Deno.Kv, id: string): Promise<boolean> {
  return (await withKvRetry(() => kv.get<boolean>(keys.cancel(id)))).value === true;
}

/** Result of a cancellation request. */
export type CancelResult = "cancelled" | "requested" | "finished";

/**
 * Cancels a job. A queued job (or one whose worker's lease ran out) is cancelled at once; a running
 * job gets a cancel flag that its worker sees at the next denoising step.
 */
export async function cancelJob(
  kv: Deno.Kv,
  id: string,
  retentionMs: number,
  now = Date.now(),
): Promise<CancelResult> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const [jobEntry, leaseEntry] = await withKvRetry(() =>
      kv.getMany<[JobRecord, Lease]>([keys.job(id), keys.lease(id)])
    );
    const job = jobEntry.value;
    if (!job || isTerminal(job.state)) return "finished";
    const leaseLive = leaseEntry.value !== null && leaseEntry.value.until > now;
    if (leaseLive) {
      await withKvRetry(() => kv.set(keys.cancel(id), true, { expireIn: 3_600_000 }));
      return "requested";
    }
    const done: JobRecord = {
      ...job,
      state: "cancelled",
      finishedAt: now,
      error: { code: "cancelled", message: "Job was cancelled before it ran" },
    };
    const op = finalizeJob(kv.atomic().check(jobEntry).check(leaseEntry), done, retentionMs);
    const res = await withKvRetry(() => op.commit());
    if (res.ok) return "cancelled";
  }
  throw new Error(`Cannot cancel job "${id}": record kept changing`);
}

/**
 * Adds to `op` the writes that end a job: the terminal record with its expiry, the expiry index entry,
 * its pending webhook delivery (if it has a webhook), and removal of its queue entry, lease, progress
 * and cancel flag.
 */
export function finalizeJob(
  op: Deno.AtomicOperation,
  job: JobRecord,
  retentionMs: number,
): Deno.AtomicOperation {
  const expiresAt = (job.finishedAt ?? Date.now()) + retentionMs;
  job.expiresAt = expiresAt;
  return addDelivery(op, job)
    .set(keys.job(job.id), job)
    .set(keys.expiry(expiresAt, "job", job.id), job.id)
    .delete(keys.queue(job.createdAt, job.id))
    .delete(keys.lease(job.id))
    .delete(keys.progress(job.id))
    .delete(keys.cancel(job.id));
}
