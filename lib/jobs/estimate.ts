/**
 * Queue arithmetic from measured step time: a job's position, its ETA, and the `Retry-After` for a full
 * queue. Pure functions over plain numbers.
 *
 * @module
 */

/** Work left in one unfinished job, in denoising steps. */
export interface PendingWork {
  id: string;
  running: boolean;
  stepsLeft: number;
}

/** Where a job stands in the queue. */
export interface QueueEstimate {
  /** Jobs ahead of it that have not started (0 = next); null once it runs. */
  position: number | null;
  /** Seconds until it is expected to finish; null without a step-time measurement. */
  etaSeconds: number | null;
}

/**
 * Estimates position and ETA of `jobId` in `queue` (oldest first), spreading work over `concurrency`
 * workers at `stepSeconds` each step.
 */
export function estimate(
  queue: readonly PendingWork[],
  jobId: string,
  options: { stepSeconds: number; concurrency: number },
): QueueEstimate {
  const index = queue.findIndex((w) => w.id === jobId);
  if (index < 0) return { position: null, etaSeconds: null };
  const self = queue[index];
  const ahead = queue.slice(0, index);
  const position = self.running ? null : ahead.filter((w) => !w.running).length;
  if (options.stepSeconds <= 0) return { position, etaSeconds: null };
  const stepsAhead = self.running ? 0 : ahead.reduce((sum, w) => sum + w.stepsLeft, 0);
  const wait = stepsAhead / Math.max(1, options.concurrency);
  return { position, etaSeconds: (wait + self.stepsLeft) * options.stepSeconds };
}

/**
 * Seconds a client should wait before retrying a refused submission: the time for the queue to drop
 * one job's worth of work, at least 1 s.
 */
export function retryAfterSeconds(
  queuedSteps: number,
  depth: number,
  options: { stepSeconds: number; concurrency: number },
): number {
  if (options.stepSeconds <= 0 || depth <= 0) return 1;
  const perJob = queuedSteps / depth;
  return Math.max(1, Math.ceil((perJob * options.stepSeconds) / Math.max(1, options.concurrency)));
}
