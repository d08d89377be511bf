/**
 * Claiming jobs with a KV lease. A claim is an atomic check-and-set of the job record and its lease; the
 * lease's versionstamp then fences every later write, so a worker whose lease was taken over cannot
 * overwrite the new owner's work. A lease that is not renewed expires and the job is claimed again.
 *
 * @module
 */
import { withKvRetry } from "./kv_retry.ts";
import { isTerminal, type JobRecord, keys, type Lease, queueValue } from "./job.ts";
import { finalizeJob, listQueue } from "./store.ts";

/** The identity a worker claims under. */
export interface WorkerIdentity {
  /** Stable id (e.g. host:port): a restart under the same id reclaims its own leases at once. */
  id: string;
  /** Random per process start. */
  boot: string;
}

/** A job held under a lease. */
export interface Claim {
  job: JobRecord;
  lease: Lease;
  /** Versionstamp of the lease entry; every write under the lease checks it. */
  versionstamp: string;
}

/** Options for {@linkcode claimNext}. */
export interface ClaimOptions {
  leaseMs: number;
  /** Claims after which a job that keeps dying is failed instead. @default 3 */
  maxAttempts?: number;
  retentionMs: number;
  /** Ids this process is already running (skipped). */
  skip?: ReadonlySet<string>;
  now?: number;
}

/** Thrown when a write under a lease finds that the lease is no longer ours. */
export class LeaseLostError extends Error {
  /** Creates the error for one job. */
  constructor(jobId: string) {
    super(`Cannot write job "${jobId}": its lease was taken over by another worker`);
    this.name = "LeaseLostError";
  }
}

function claimable(lease: Lease | null, worker: WorkerIdentity, now: number): boolean {
  if (lease === null || lease.until <= now) return true;
  return lease.worker === worker.id && lease.boot !== worker.boot;
}

/** Claims the oldest claimable job: queued, or running under an expired or stale lease. */
export async function claimNext(
  kv: Deno.Kv,
  worker: WorkerIdentity,
  options: ClaimOptions,
): Promise<Claim | null> {
  const maxAttempts = options.maxAttempts ?? 3;
  for (const entry of await listQueue(kv)) {
    if (options.skip?.has(entry.id)) continue;
    const now = options.now ?? Date.now();
    const [jobEntry, leaseEntry] = await withKvRetry(() =>
      kv.getMany<[JobRecord, Lease]>([keys.job(entry.id), keys.lease(entry.id)])
    );
    const job = jobEntry.value;
    if (job === null || isTerminal(job.state)) {
      // A queue entry without a live job is debris from an interrupted write: drop it.
      await withKvRetry(() => kv.delete(keys.queue(entry.createdAt, entry.id)));
      continue;
    }
    if (!claimable(leaseEntry.value, worker, now)) continue;
    if (job.attempts >= maxAttempts) {
      const failed: JobRecord = {
        ...job,
        state: "failed",
        finishedAt: now,
        error: {
          code: "worker_lost",
          message: `Job was abandoned by its worker ${job.attempts} times; giving up`,
        },
      };
      const op = finalizeJob(
        kv.atomic().check(jobEntry).check(leaseEntry),
        failed,
        options.retentionMs,
      );
      await withKvRetry(() => op.commit());
      continue;
    }
    const lease: Lease = { worker: worker.id, boot: worker.boot, until: now + options.leaseMs };
    const running: JobRecord = {
      ...job,
      state: "running",
      attempts: job.attempts + 1,
      startedAt: job.startedAt ?? now,
    };
    const res = await withKvRetry(() =>
      kv.atomic().check(jobEntry).check(leaseEntry)
        .set(keys.lease(job.id), lease)
        .set(keys.job(job.id), running)
        .set(keys.queue(job.createdAt, job.id), queueValue(running))
        .commit()
    );
    if (res.ok) return { job: running, lease, versionstamp: res.versionstamp };
  }
  return null;
}

/** The last lease operation queued per claim (see {@linkcode underLease}). */
const lastOp = new WeakMap<Claim, Promise<unknown>>();

/**
 * Runs one lease operation of `claim` after the ones before it. A renewal moves the lease's
 * versionstamp; a write that overlapped it would check the old one and drop its own job as lost.
 */
function underLease<T>(claim: Claim, op: () => Promise<T>): Promise<T> {
  const next = (lastOp.get(claim) ?? Promise.resolve()).then(op, op);
  lastOp.set(claim, next.catch(() => {}));
  return next;
}

/** Extends the lease; throws {@linkcode LeaseLostError} when it is no longer ours. */
export function renewLease(kv: Deno.Kv, claim: Claim, leaseMs: number): Promise<void> {
  return underLease(claim, async () => {
    const lease: Lease = { ...claim.lease, until: Date.now() + leaseMs };
    const res = await withKvRetry(() =>
      kv.atomic().check({ key: keys.lease(claim.job.id), versionstamp: claim.versionstamp })
        .set(keys.lease(claim.job.id), lease)
        .commit()
    );
    if (!res.ok) throw new LeaseLostError(claim.job.id);
    claim.lease = lease;
    claim.versionstamp = res.versionstamp;
  });
}

/** Commits `build(op)` only while the lease holds; throws {@linkcode LeaseLostError} otherwise. */
export function commitUnderLease(
  kv: Deno.Kv,
  claim: Claim,
  build: (op: Deno.AtomicOperation) => Deno.AtomicOperation,
): Promise<void> {
  return underLease(claim, async () => {
    const res = await withKvRetry(() =>
      build(kv.atomic().check({ key: keys.lease(claim.job.id), versionstamp: claim.versionstamp }))
        .commit()
    );
    if (!res.ok) throw new LeaseLostError(claim.job.id);
  });
}

/** Gives a job back to the queue (drain on shutdown): state queued, lease removed. */
export async function releaseJob(kv: Deno.Kv, claim: Claim): Promise<void> {
  // A drained run does not count against the job's attempt limit.
  const queued: JobRecord = { ...claim.job, state: "queued", attempts: claim.job.attempts - 1 };
  await commitUnderLease(kv, claim, (op) =>
    op.set(keys.job(claim.job.id), queued)
      .set(keys.queue(queued.createdAt, queued.id), queueValue(queued))
      .delete(keys.lease(claim.job.id))
      .delete(keys.progress(claim.job.id)));
}
