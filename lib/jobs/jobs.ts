/**
 * The `Jobs` facade: everything the HTTP layer and the schedules do with jobs, over the KV store,
 * the results store, the in-process events and the local worker. Job policy lives here: who sees a
 * job or an image (its owner; scheduled jobs belong to every key), how long finished jobs,
 * images and idempotency keys are kept, the queue bound and its `Retry-After`, and the queue
 * estimates from measured step time.
 *
 * @module
 */
import { estimate, type QueueEstimate, retryAfterSeconds } from "./estimate.ts";
import type { JobEvents, JobListener } from "./events.ts";
import {
  type GenerationParams,
  type ImageMeta,
  isTerminal,
  type JobProgress,
  type JobRecord,
  keys,
  queueValue,
} from "./job.ts";
import { withKvRetry } from "./kv_retry.ts";
import { pendingWork, workOf } from "./pending.ts";
import type { ResultsStore } from "./results.ts";
import { nextRunOf, type Schedule, type ScheduleState, scheduleStates } from "./schedules.ts";
import {
  cancelJob,
  type CancelResult,
  getJobSnapshot,
  listOwnerJobs,
  listQueue,
  submitJob,
} from "./store.ts";
import { waitForJob, type WaitOptions, type WaitResult } from "./wait.ts";

/** A new job as a client or a schedule asks for it. */
export interface Submission {
  /** The API key's owner id, or "*" for a scheduled job (visible to every key). */
  owner: string;
  params: GenerationParams;
  webhookUrl?: string;
  /** Name of the schedule that made it. */
  schedule?: string;
  /** Origin of the submitting request (links in webhook payloads). */
  origin?: string;
  /** Client key (scoped by endpoint) and a hash of the request body, for `Idempotency-Key`. */
  idempotency?: { key: string; bodyHash: string };
}

/** What a submission came to. */
export type SubmitOutcome =
  | { kind: "created"; job: JobRecord }
  | { kind: "replayed"; job: JobRecord }
  | { kind: "conflict"; jobId: string }
  | { kind: "full"; depth: number; retryAfterSeconds: number }
  | { kind: "owner_full"; queued: number; limit: number; retryAfterSeconds: number };

/** A job as its owner sees it: the record, live progress while it runs, and its queue estimate. */
export interface JobStatus {
  job: JobRecord;
  progress: JobProgress | null;
  estimate: QueueEstimate;
}

/** An image visible to the caller: its metadata, and its bytes on demand (null once the file is gone). */
export interface ImageRead {
  meta: ImageMeta;
  read(): Promise<Uint8Array<ArrayBuffer> | null>;
}

/** One page of `GET /v1/jobs`: the caller's jobs, newest first, and the next page's cursor. */
export interface JobsPage {
  jobs: JobStatus[];
  cursor: string | null;
}

/** A schedule with its last and next run. */
export interface ScheduleStatus {
  schedule: Schedule;
  lastRun: ScheduleState | null;
  nextRun: Date | null;
}

/** The parts of the local worker the facade drives. */
export interface WorkerHandle {
  /** Look for work now. */
  wake(): void;
  /** Stop a job running here at its next step; false when it does not run here. */
  cancelLocal(jobId: string): boolean;
  /** Mean measured seconds per denoising step at the reference size, 1024x1024 (0 before any). */
  stepSeconds(): number;
}

/** Job policy. */
export interface JobsPolicy {
  /** Queued plus running jobs beyond which submissions are refused. */
  queueDepth: number;
  /** Queued plus running jobs per API key beyond which its submissions are refused; 0: none. */
  queuePerKey?: number;
  /** How long finished jobs, their images and idempotency keys are kept, in ms. */
  retentionMs: number;
  /** Jobs run at once per process, for ETAs. */
  concurrency: number;
}

/** What the facade works over. */
export interface JobsOptions {
  kv: Deno.Kv;
  results: ResultsStore;
  events: JobEvents;
  worker: WorkerHandle;
  policy: JobsPolicy;
  schedules?: readonly Schedule[];
  /** Called when a job ends outside the worker (a queued job cancelled): wakes webhook delivery. */
  onFinished?: () => void;
}

/** Everything callers do with jobs. */
export interface Jobs {
  /**
   * Queues a job; replays or refuses a reused idempotency key; refuses when the queue, or the
   * key's share of it (scheduled jobs have no share limit), is full.
   */
  submit(submission: Submission): Promise<SubmitOutcome>;
  /** The job if `owner` may see it, with progress and (unless `estimate: false`) its estimate. */
  view(id: string, owner: string, options?: { estimate?: boolean }): Promise<JobStatus | null>;
  /** `owner`'s own jobs, newest first, `limit` per page; null for a cursor this listing did not give. */
  list(owner: string, page: { limit: number; cursor?: string }): Promise<JobsPage | null>;
  /** Cancels a job `owner` may see: a queued one at once, a running one at its next step. */
  cancel(id: string, owner: string): Promise<CancelResult | null>;
  /** Waits for a job to end, up to `timeoutMs` or an abort (see wait.ts). */
  wait(id: string, options: WaitOptions): Promise<WaitResult>;
  /** An image `owner` may see (any owner's for null: a signed link) that has not expired, or null. */
  readImage(id: string, owner: string | null): Promise<ImageRead | null>;
  /** Unfinished jobs (queued and running), counted up to the queue bound + 1. */
  queueDepth(): Promise<number>;
  /** Mean measured seconds per denoising step at 1024x1024 in this process (0 before any). */
  stepSeconds(): number;
  /** The configured schedules with their last and next run. */
  listSchedules(): Promise<ScheduleStatus[]>;
  /** Follows one job's events in this process; returns the unsubscribe function. */
  subscribe(id: string, listener: JobListener): () => void;
}

/** Whether `owner` may see a record owned by `recordOwner` (scheduled jobs are everyone's). */
function visibleTo(owner: string, recordOwner: string): boolean {
  return recordOwner === owner || recordOwner === "*";
}

/** Creates the facade. */
export function createJobs(options: JobsOptions): Jobs {
  const { kv, results, events, worker, policy } = options;
  const schedules = options.schedules ?? [];
  const estimateOptions = () => ({
    stepSeconds: worker.stepSeconds(),
    concurrency: policy.concurrency,
  });

  async function view(
    id: string,
    owner: string,
    opts: { estimate?: boolean } = {},
  ): Promise<JobStatus | null> {
    const snap = await getJobSnapshot(kv, id);
    if (!snap || !visibleTo(owner, snap.job.owner)) return null;
    const { job, progress } = snap;
    const none = { position: null, etaSeconds: null };
    if (isTerminal(job.state) || opts.estimate === false) return { job, progress, estimate: none };
    // Only the queue entries ahead of this job are read, not the whole queue.
    const ahead = await pendingWork(kv, job);
    const queue = [...ahead, workOf(queueValue(job), progress)];
    return { job, progress, estimate: estimate(queue, id, estimateOptions()) };
  }

  // Submissions from this process take turns: the KV check in submitJob keeps the bound across
  // processes, and taking turns here spares it retries.
  let admitting: Promise<unknown> = Promise.resolve();
  function admit(submission: Submission) {
    const run = admitting.then(() =>
      submitJob(kv, submission, {
        maxDepth: policy.queueDepth,
        maxPerOwner: submission.owner === "*" ? 0 : policy.queuePerKey ?? 0,
        idempotencyTtlMs: policy.retentionMs,
      })
    );
    admitting = run.catch(() => {});
    return run;
  }

  return {
    async submit(submission) {
      const result = await admit(submission);
      if (result.kind === "created") worker.wake();
      if (result.kind !== "full" && result.kind !== "owner_full") return result;
      const seconds = retryAfterSeconds(await pendingWork(kv), estimateOptions());
      return { ...result, retryAfterSeconds: seconds };
    },
    view,
    async list(owner, page) {
      const found = await listOwnerJobs(kv, owner, page);
      if (!found) return null;
      const none = { position: null, etaSeconds: null };
      const snaps = await Promise.all(found.ids.map((id) => getJobSnapshot(kv, id)));
      // A job swept since the index was read is left out.
      const jobs = snaps.filter((s) => s !== null && s.job.owner === owner)
        .map((s) => ({ job: s!.job, progress: s!.progress, estimate: none }));
      return { jobs, cursor: found.cursor };
    },
    async cancel(id, owner) {
      const snap = await getJobSnapshot(kv, id);
      if (!snap || !visibleTo(owner, snap.job.owner)) return null;
      const outcome = await cancelJob(kv, id, policy.retentionMs);
      if (outcome === "requested") worker.cancelLocal(id);
      if (outcome === "cancelled") options.onFinished?.();
      return outcome;
    },
    wait: (id, waitOptions) => waitForJob(kv, events, id, waitOptions),
    async readImage(id, owner) {
      const meta = (await withKvRetry(() => kv.get<ImageMeta>(keys.image(id)))).value;
      if (!meta || (owner !== null && !visibleTo(owner, meta.owner))) return null;
      if (meta.expiresAt <= Date.now()) return null;
      return { meta, read: () => results.read(id, meta.format) };
    },
    async queueDepth() {
      return (await listQueue(kv, policy.queueDepth + 1)).length;
    },
    stepSeconds: () => worker.stepSeconds(),
    async listSchedules() {
      const states = await scheduleStates(kv, schedules.map((s) => s.name));
      return schedules.map((schedule) => ({
        schedule,
        lastRun: states.get(schedule.name) ?? null,
        nextRun: nextRunOf(schedule),
      }));
    },
    subscribe: (id, listener) => events.subscribe(id, listener),
  };
}
