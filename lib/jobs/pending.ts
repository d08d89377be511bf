/**
 * Reads the unfinished jobs with the steps each has left, for queue positions, ETAs and Retry-After.
 *
 * @module
 */
import type { PendingWork } from "./estimate.ts";
import { type JobProgress, type JobRecord, keys } from "./job.ts";
import { withKvRetry } from "./kv_retry.ts";
import { listQueue } from "./store.ts";

/** Unfinished jobs, oldest first, with their remaining denoising steps. */
export async function pendingWork(kv: Deno.Kv): Promise<PendingWork[]> {
  const queue = await listQueue(kv);
  const out: PendingWork[] = [];
  // getMany takes at most 10 keys: 5 jobs (record + progress) per call.
  for (let i = 0; i < queue.length; i += 5) {
    const batch = queue.slice(i, i + 5);
    const entries = await withKvRetry(() =>
      kv.getMany(batch.flatMap((q) => [keys.job(q.id), keys.progress(q.id)]))
    );
    batch.forEach((q, j) => {
      const job = entries[2 * j].value as JobRecord | null;
      const progress = entries[2 * j + 1].value as JobProgress | null;
      if (!job) return;
      const total = job.params.n * job.params.steps;
      const done = job.images.length * job.params.steps +
        (job.state === "running" && progress ? progress.step : 0);
      out.push({
        id: q.id,
        running: job.state === "running",
        stepsLeft: Math.max(0, total - done),
      });
    });
  }
  return out;
}
