/**
 * Waiting for a job to end. A job run by this process ends with an in-process event that carries
 * the final record, and its images arrive as events carrying their bytes, so a waiter here reads
 * nothing back from KV or the results store. A job run by another process is followed by polling
 * its KV record.
 *
 * @module
 */
import type { JobEvents } from "./events.ts";
import { isTerminal, type JobRecord } from "./job.ts";
import { getJob } from "./store.ts";

/** Options of {@linkcode waitForJob}. */
export interface WaitOptions {
  /** Longest wait. */
  timeoutMs: number;
  /** Ends the wait early (the client went away). */
  signal?: AbortSignal;
  /** Interval of the KV poll for jobs of other processes. @default 500 */
  pollMs?: number;
}

/** What a wait came to: the latest record (null when unknown) and the image bytes seen here. */
export interface WaitResult {
  job: JobRecord | null;
  /** Encoded images by id, for the images this process generated while waiting. */
  images: ReadonlyMap<string, Uint8Array>;
}

/** Resolves once the job is terminal, or with its latest record after the timeout or an abort. */
export async function waitForJob(
  kv: Deno.Kv,
  events: JobEvents,
  id: string,
  options: WaitOptions,
): Promise<WaitResult> {
  const deadline = Date.now() + options.timeoutMs;
  const images = new Map<string, Uint8Array>();
  let ended: JobRecord | null = null;
  let wake: () => void = () => {};
  const unsubscribe = events.subscribe(id, (event) => {
    if (event.type === "image") images.set(event.imageId, event.bytes);
    else if (event.type === "succeeded" || event.type === "failed" || event.type === "cancelled") {
      ended = event.job;
      wake();
    }
  });
  const { signal } = options;
  const onAbort = () => wake();
  signal?.addEventListener("abort", onAbort);
  try {
    let job = await getJob(kv, id);
    for (;;) {
      if (ended) return { job: ended, images };
      if (!job || isTerminal(job.state) || Date.now() >= deadline || signal?.aborted) {
        return { job, images };
      }
      await new Promise<void>((resolve) => {
        const left = Math.max(0, deadline - Date.now());
        const timer = setTimeout(resolve, Math.min(options.pollMs ?? 500, left));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (!ended) job = await getJob(kv, id);
    }
  } finally {
    unsubscribe();
    signal?.removeEventListener("abort", onAbort);
  }
}
