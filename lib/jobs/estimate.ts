/**
 * Queue arithmetic from measured step time: a job's position, its ETA, and the `Retry-After` for a full
 * queue. Pure functions over plain numbers. A denoising step costs in proportion to the image's DiT
 * tokens (H*W/256), so step time is kept for a reference size (1024x1024) and scaled per job.
 *
 * @module
 */

/** Image tokens of the reference size (1024x1024) that step times are normalized to. */
export const REFERENCE_TOKENS = (1024 * 1024) / 256;

/** DiT image tokens of a `width` x `height` image: one per 16x16 patch, H*W/256. */
export function imageTokens(width: number, height: number): number {
  return (width * height) / 256;
}

/** A step time measured on an image of `tokens`, scaled to the reference size. */
export function toReferenceSeconds(seconds: number, tokens: number): number {
  return tokens > 0 ? (seconds * REFERENCE_TOKENS) / tokens : seconds;
}

/** The step time of an image of `tokens`, from the step time at the reference size. */
export function scaledStepSeconds(referenceSeconds: number, tokens: number): number {
  return (referenceSeconds * tokens) / REFERENCE_TOKENS;
}

/** Work left in one unfinished job: denoising steps, each over `tokens` image tokens. */
export interface PendingWork {
  id: string;
  running: boolean;
  stepsLeft: number;
  tokens: number;
}

/** Work left in `w`, in reference-size steps. */
function referenceSteps(w: PendingWork): number {
  return (w.stepsLeft * w.tokens) / REFERENCE_TOKENS;
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
 * workers at `stepSeconds` per step at the reference size (scaled by each job's tokens).
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
  const stepsAhead = self.running ? 0 : ahead.reduce((sum, w) => sum + referenceSteps(w), 0);
  const wait = stepsAhead / Math.max(1, options.concurrency);
  return { position, etaSeconds: (wait + referenceSteps(self)) * options.stepSeconds };
}

/**
 * Seconds a client should wait before retrying a refused submission: the time for `queue` to drop
 * one job's worth of work (its mean, sizes weighed), at least 1 s.
 */
export function retryAfterSeconds(
  queue: readonly PendingWork[],
  options: { stepSeconds: number; concurrency: number },
): number {
  if (options.stepSeconds <= 0 || queue.length === 0) return 1;
  const perJob = queue.reduce((sum, w) => sum + referenceSteps(w), 0) / queue.length;
  return Math.max(1, Math.ceil((perJob * options.stepSeconds) / Math.max(1, options.concurrency)));
}
