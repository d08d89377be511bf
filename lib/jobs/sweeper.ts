/**
 * Retention: deletes finished jobs and their images once they expire. Expiry entries
 * (`["expiry", at, kind, id]`) are ordered by time, so a sweep reads only what is due. And orphans:
 * stored image bytes that no image record points at (a process that died between writing an
 * image and recording it), removed once older than a safety age so writes in flight are left alone.
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

/** Stored bytes with no image record are orphans once they are this old (10 minutes). */
export const ORPHAN_AGE_MS = 10 * 60_000;

/** Removes stored images older than `minAgeMs` that have no image record; returns how many. */
export async function sweepOrphans(
  kv: Deno.Kv,
  results: ResultsStore,
  now = Date.now(),
  minAgeMs = ORPHAN_AGE_MS,
): Promise<number> {
  let removed = 0;
  for await (const entry of results.entries()) {
    if (now - entry.writtenAt < minAgeMs) continue;
    if ((await withKvRetry(() => kv.get(keys.image(entry.id)))).value) continue;
    await entry.remove();
    removed++;
  }
  return removed;
}
