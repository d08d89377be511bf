/**
 * Job records as stored in Deno KV, their keys, and the pure helpers around them. Records stay far
 * below the 64 KiB value limit: prompts are bounded and image bytes live in the results store.
 *
 * @module
 */
import { hex } from "../bytes.ts";
import { binResolution } from "../diffusion/mod.ts";
import type { ImageFormat } from "../image/mod.ts";
import { imageTokens } from "./estimate.ts";
import type { Sampler } from "./generator.ts";

/** Lifecycle of a job; the last three are terminal. */
export type JobState = "queued" | "running" | "succeeded" | "failed" | "cancelled";

/** A validated generation request, with every default filled in. */
export interface GenerationParams {
  prompt: string;
  negativePrompt: string;
  width: number;
  height: number;
  steps: number;
  guidanceScale: number;
  guidanceRescale: number;
  /** Seed of the first image; image i uses (seed + i) mod 2^53 (seeds.ts). */
  seed: number;
  sampler: Sampler;
  n: number;
  outputFormat: ImageFormat;
  resolutionBinning: boolean;
}

/** One stored image of a job. */
export interface ImageRef {
  id: string;
  seed: number;
  width: number;
  height: number;
  format: ImageFormat;
  bytes: number;
}

/** Metadata of one stored image (`["images", id]`), used to authorize and serve it. */
export interface ImageMeta extends ImageRef {
  jobId: string;
  owner: string;
  createdAt: number;
  expiresAt: number;
  etag: string;
}

/** Why a job failed, captured when it happened. */
export interface JobError {
  code: string;
  message: string;
}

/** Where a job's webhook stands: pending until the job ends and a delivery succeeds or gives up. */
export type WebhookState = "pending" | "delivered" | "failed";

/**
 * Outcome of webhook delivery for a job, updated after every attempt: a coarse state only. What the
 * receiver answered (status, error) goes to the log, never to the record a client reads.
 */
export interface WebhookStatus {
  url: string;
  attempts: number;
  delivered: boolean;
  state: WebhookState;
  /** When the next attempt is due (while pending after a failed attempt). */
  nextAttemptAt?: number;
}

/** The job record (`["jobs", id]`). */
export interface JobRecord {
  id: string;
  owner: string;
  state: JobState;
  params: GenerationParams;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  /** Number of claims so far (1 on the first run; more after a crash or drain). */
  attempts: number;
  images: ImageRef[];
  error?: JobError;
  webhook?: WebhookStatus;
  /** Name of the schedule that created the job, if any. */
  schedule?: string;
  /** Origin (scheme://host[:port]) of the request that submitted it: the links of its webhook. */
  origin?: string;
  /** Mean measured seconds per denoising step of the last run. */
  stepSeconds?: number;
  /** Milliseconds spent generating, over all attempts. */
  generationMs?: number;
  expiresAt?: number;
}

/** Live progress of a running job (`["progress", id]`), written at most a few times a second. */
export interface JobProgress {
  /** 0-based index of the image being generated. */
  image: number;
  step: number;
  steps: number;
  stepSeconds: number;
  updatedAt: number;
}

/** A claim on a job (`["lease", id]`): who runs it and until when. */
export interface Lease {
  worker: string;
  /** Per-process nonce: a lease from an earlier incarnation of the same worker id is stale. */
  boot: string;
  until: number;
}

/**
 * Value of a queue index entry (`["queue", createdAt, id]`): enough to compute positions and ETAs
 * without reading the job records. Kept in step with the record by every write that changes it.
 */
export interface QueueValue {
  id: string;
  /** The job's owner, for the per-key limit (absent in entries written before it existed). */
  owner?: string;
  running: boolean;
  /** Images requested, images stored, and denoising steps per image. */
  n: number;
  images: number;
  steps: number;
  /** DiT image tokens per step (H*W/256 of the denoised size); absent in entries written before. */
  tokens?: number;
}

/** The queue index value of an unfinished job. */
export function queueValue(job: JobRecord): QueueValue {
  return {
    id: job.id,
    owner: job.owner,
    running: job.state === "running",
    n: job.params.n,
    images: job.images.length,
    steps: job.params.steps,
    tokens: denoisedTokens(job.params),
  };
}

/** Image tokens the DiT denoises per step for `params` (the binned size when binning is on). */
export function denoisedTokens(params: GenerationParams): number {
  const requested = { width: params.width, height: params.height };
  const { width, height } = params.resolutionBinning ? binResolution(requested) : requested;
  return imageTokens(width, height);
}

/** KV keys, in one place. */
export const keys = {
  job: (id: string): Deno.KvKey => ["jobs", id],
  lease: (id: string): Deno.KvKey => ["lease", id],
  progress: (id: string): Deno.KvKey => ["progress", id],
  cancel: (id: string): Deno.KvKey => ["cancel", id],
  queue: (createdAt: number, id: string): Deno.KvKey => ["queue", createdAt, id],
  queuePrefix: ["queue"] as Deno.KvKey,
  /** Rewritten by every submission: its versionstamp serializes admission (see store.ts). */
  admission: ["admission"] as Deno.KvKey,
  /** An owner's jobs by creation time (`GET /v1/jobs`), written with the job, removed by the sweeper. */
  ownerJob: (owner: string, createdAt: number, id: string): Deno.KvKey => [
    "owner_jobs",
    owner,
    createdAt,
    id,
  ],
  ownerJobsPrefix: (owner: string): Deno.KvKey => ["owner_jobs", owner],
  image: (id: string): Deno.KvKey => ["images", id],
  idempotency: (owner: string, key: string): Deno.KvKey => ["idem", owner, key],
  expiry: (at: number, kind: "job" | "image", id: string): Deno.KvKey => ["expiry", at, kind, id],
  expiryPrefix: ["expiry"] as Deno.KvKey,
  slot: (schedule: string, slot: string): Deno.KvKey => ["slot", schedule, slot],
  scheduleState: (schedule: string): Deno.KvKey => ["schedule", schedule],
  delivery: (jobId: string): Deno.KvKey => ["webhook", jobId],
  deliveryDue: (at: number, jobId: string): Deno.KvKey => ["webhook_due", at, jobId],
  deliveryDuePrefix: ["webhook_due"] as Deno.KvKey,
};

/** Shape of every job and image id: 32 lowercase hex digits. */
export const ID_PATTERN = /^[0-9a-f]{32}$/;

let lastMs = 0;
let sequence = 0;

/**
 * A fresh id (128 bits, hex) that sorts by creation within a process: 48 bits of milliseconds, a 16-bit
 * sequence within the millisecond, 64 random bits. Queue keys tie-break on it, so same-millisecond jobs
 * keep their submission order.
 */
export function newId(now: number = Date.now()): string {
  if (now > lastMs) [lastMs, sequence] = [now, 0];
  else sequence = (sequence + 1) & 0xffff;
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const view = new DataView(bytes.buffer);
  view.setUint16(0, Math.floor(lastMs / 2 ** 32) & 0xffff);
  view.setUint32(2, lastMs >>> 0);
  view.setUint16(6, sequence);
  return hex(bytes);
}

/** True for succeeded, failed and cancelled. */
export function isTerminal(state: JobState): boolean {
  return state === "succeeded" || state === "failed" || state === "cancelled";
}
