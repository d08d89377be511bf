/**
 * Job records rendered as API JSON: ISO times, links, progress and the queue estimate.
 *
 * @module
 */
import type { QueueEstimate } from "../jobs/estimate.ts";
import type { ImageRef, JobProgress, JobRecord } from "../jobs/job.ts";
import { requestEcho } from "./params.ts";

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** Absolute URL of an image. */
export function imageUrl(base: string, id: string): string {
  return `${base}/v1/images/${id}`;
}

/** The API view of one image. */
export function imageView(base: string, ref: ImageRef) {
  return { ...ref, url: imageUrl(base, ref.id) };
}

/** The API view of a job. */
export function jobView(
  base: string,
  job: JobRecord,
  progress: JobProgress | null,
  estimate: QueueEstimate,
) {
  const self = `${base}/v1/jobs/${job.id}`;
  return {
    id: job.id,
    object: "job" as const,
    status: job.state,
    created_at: iso(job.createdAt)!,
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    queue_position: job.state === "queued" ? estimate.position : null,
    progress: job.state === "running" && progress
      ? { image: progress.image, images: job.params.n, step: progress.step, steps: progress.steps }
      : null,
    eta_seconds: job.state === "queued" || job.state === "running" ? estimate.etaSeconds : null,
    step_seconds: progress?.stepSeconds || job.stepSeconds || null,
    attempts: job.attempts,
    seed: job.params.seed,
    request: requestEcho(job.params),
    images: job.images.map((ref) => imageView(base, ref)),
    error: job.error ?? null,
    schedule: job.schedule ?? null,
    webhook: job.webhook
      ? {
        url: job.webhook.url,
        attempts: job.webhook.attempts,
        delivered: job.webhook.delivered,
        status: job.webhook.state,
        next_attempt_at: job.webhook.state === "pending" ? iso(job.webhook.nextAttemptAt) : null,
        last_status: job.webhook.lastStatus ?? null,
        last_error: job.webhook.lastError ?? null,
      }
      : null,
    links: { self, events: `${self}/events`, cancel: self },
  };
}
