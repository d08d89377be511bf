/**
 * Jobs rendered as API JSON: ISO times, links, progress and the queue estimate.
 *
 * @module
 */
import type { ImageRef, JobRecord, JobStatus } from "../jobs/mod.ts";
import type { LinkSigner } from "./links.ts";
import { requestEcho } from "./params.ts";
import type { ImageView, JobView } from "./schemas.ts";

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** Absolute URL of an image; signed (opens without a key until it expires) when a signer is given. */
export function imageUrl(base: string, id: string, signer?: LinkSigner): string {
  return `${base}/v1/images/${id}${signer ? `?${signer.sign(id)}` : ""}`;
}

/** The API view of one image. */
export function imageView(base: string, ref: ImageRef, signer?: LinkSigner): ImageView {
  return { ...ref, url: imageUrl(base, ref.id, signer) };
}

/** The API view of a job (`GET /v1/jobs/{id}`, SSE and webhook payloads); signed image links with a signer. */
export function jobView(base: string, status: JobStatus, signer?: LinkSigner): JobView {
  const { job, progress, estimate } = status;
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
    images: job.images.map((ref) => imageView(base, ref, signer)),
    error: job.error ?? null,
    schedule: job.schedule ?? null,
    webhook: webhookView(job),
    links: { self, events: `${self}/events`, cancel: self },
  };
}

/** Where the webhook stands, coarsely: the receiver's status and errors are in the log only. */
function webhookView(job: JobRecord): JobView["webhook"] {
  if (!job.webhook) return null;
  const w = job.webhook;
  return {
    url: w.url,
    attempts: w.attempts,
    delivered: w.delivered,
    status: w.state,
    next_attempt_at: w.state === "pending" ? iso(w.nextAttemptAt) : null,
  };
}

/** A finished job's status for renderings that have no live state (webhooks). */
export function finishedStatus(job: JobRecord): JobStatus {
  return { job, progress: null, estimate: { position: null, etaSeconds: null } };
}

/**
 * The body of a finished job's webhook. Links use `publicUrl` when set, else the origin of the
 * request that submitted the job (a record from before origins were kept gets relative links).
 */
export function webhookBody(publicUrl: string, job: JobRecord): { type: string; job: JobView } {
  const base = publicUrl !== "" ? publicUrl.replace(/\/+$/, "") : job.origin ?? "";
  return { type: `job.${job.state}`, job: jobView(base, finishedStatus(job)) };
}
