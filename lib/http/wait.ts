/**
 * Waiting for a job to end: woken by in-process events, with a KV poll for jobs that another process
 * runs.
 *
 * @module
 */
import { isTerminal, type JobRecord } from "../jobs/job.ts";
import { getJob } from "../jobs/store.ts";
import type { AppDeps } from "./deps.ts";

const POLL_MS = 500;

/** Resolves with the job once terminal, or with its latest record after `timeoutMs` or an abort. */
export async function waitForJob(
  deps: AppDeps,
  id: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<JobRecord | null> {
  const deadline = Date.now() + timeoutMs;
  let wake: () => void = () => {};
  const unsubscribe = deps.events.subscribe(id, (event) => {
    if (event.type === "succeeded" || event.type === "failed" || event.type === "cancelled") wake();
  });
  const onAbort = () => wake();
  signal?.addEventListener("abort", onAbort);
  try {
    for (;;) {
      const job = await getJob(deps.kv, id);
      if (!job || isTerminal(job.state) || Date.now() >= deadline || signal?.aborted) return job;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    unsubscribe();
    signal?.removeEventListener("abort", onAbort);
  }
}
