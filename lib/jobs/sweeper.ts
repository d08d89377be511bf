/**
 * Retention: deletes finished jobs and their images once they expire. Expiry entries
 * (`["expiry", at, kind, id]`) are ordered by time, so a sweep reads only what is due.
 *
 * @module
 */
import { type ImageMeta, isTerminal, type JobRecord, keys } from "./job.ts";
import { withKvRetry } from "./kv_retry.ts";
import type { ResultsStore } from "./results.ts";

/** Counts of what one sweep removed. */
export interface SweepResult {
  jobs: number;
  images: number;
}

/** Removes every job and image whose expiry is at or before `now`. */
export async function sweepExpired(
  kv: Deno.Kv,
  results: ResultsStore,
  now = Date.now(),
): Promise<SweepResult> {
  const out: SweepResult = { jobs: 0, images: 0 };
  const due = kv.list<string>({
    start: [...keys.expiryPrefix, 0],
    end: [...keys.expiryPrefix, now + 1],
  });
  for await (const entry of due) {
    const kind = entry.key[2] as "job" | "image";
    const id = entry.value;
    if (kind === "image") {
      const meta = await withKvRetry(() => kv.get<ImageMeta>(keys.image(id)));
      if (meta.value) await results.remove(id, meta.value.format);
      await withKvRetry(() => kv.atomic().delete(keys.image(id)).delete(entry.key).commit());
      out.images++;
    } else {
      const job = await withKvRetry(() => kv.get<JobRecord>(keys.job(id)));
      if (job.value && !isTerminal(job.value.state)) {
        await withKvRetry(() => kv.delete(entry.key));
        continue;
      }
      const op = kv.atomic().delete(keys.job(id)).delete(entry.key);
      if (job.value) op.delete(keys.ownerJob(job.value.owner, job.value.createdAt, id));
      await withKvRetry(() => op.commit());
      out.jobs++;
    }
  }
  return out;
}
