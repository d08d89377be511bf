/**
 * The unfinished jobs with the steps each has left, for queue positions, ETAs and Retry-After. Read from
 * the queue index values alone, plus the live progress of the running jobs: no job records.
 *
 * @module
 */
import { type PendingWork, REFERENCE_TOKENS } from "./estimate.ts";
import { type JobProgress, keys, type QueueValue } from "./job.ts";
import { withKvRetry } from "./kv_retry.ts";
import { listQueue } from "./store.ts";

/** Steps left in a job given its queue value and, while it runs, its live progress. */
export function workOf(value: QueueValue, progress: JobProgress | null): PendingWork {
  const total = (value.n - value.images) * value.steps;
  // Progress of the image being generated; a stale one (of an image already stored) counts nothing.
  const done = value.running && progress?.image === value.images ? progress.step : 0;
  return {
    id: value.id,
    running: value.running,
    stepsLeft: Math.max(0, total - done),
    tokens: value.tokens ?? REFERENCE_TOKENS,
  };
}

/**
 * Unfinished jobs, oldest first, with their remaining denoising steps; with `before`, only those ahead
 * of that job.
 */
export async function pendingWork(
  kv: Deno.Kv,
  before?: { createdAt: number; id: string },
): Promise<PendingWork[]> {
  const queue = await listQueue(kv, undefined, before);
  const running = queue.filter((q) => q.running);
  const progress = new Map<string, JobProgress | null>();
  // getMany takes at most 10 keys.
  for (let i = 0; i < running.length; i += 10) {
    const batch = running.slice(i, i + 10);
    const entries = await withKvRetry(() =>
      kv.getMany<JobProgress[]>(batch.map((q) => keys.progress(q.id)))
    );
    batch.forEach((q, j) => progress.set(q.id, entries[j].value));
  }
  return queue.map((q) => workOf(q, progress.get(q.id) ?? null));
}
