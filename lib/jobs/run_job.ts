/**
 * One claimed job run to its end in this process: renews the lease and looks for a cancel flag on a
 * heartbeat, generates each missing image (progress to KV a few times a second, events every step),
 * encodes and stores it with its metadata under the lease, and finishes the record: succeeded,
 * failed with the generator's message, cancelled, released on drain, or left alone when the lease
 * was lost. Every KV access goes through the store with its one retry policy.
 *
 * @module
 */
import type { Log } from "../log.ts";
import { encodeImage, encodePngSync } from "../image/mod.ts";
import { scaledStepSeconds } from "./estimate.ts";
import type { JobEvents } from "./events.ts";
import { type ImageGenerator, isAbortError } from "./generator.ts";
import {
  denoisedTokens,
  type ImageMeta,
  type ImageRef,
  type JobError,
  type JobRecord,
  type JobState,
  keys,
  newId,
  queueValue,
} from "./job.ts";
import { type Claim, commitUnderLease, LeaseLostError, releaseJob, renewLease } from "./lease.ts";
import type { ResultsStore } from "./results.ts";
import { sha256Hex } from "./results_verify.ts";
import { imageSeed } from "./seeds.ts";
import { cancelRequested, finalizeJob, writeProgress } from "./store.ts";

/** Observations the worker reports (metrics). */
export interface WorkerObserver {
  step(seconds: number): void;
  generation(seconds: number): void;
  finished(state: JobState): void;
}

/** Why a run is asked to stop before it ends on its own. */
export type StopReason = "cancel" | "drain" | "lost";

/** A job running in this process. */
export interface RunningJob {
  claim: Claim;
  controller: AbortController;
  /** Set once a stop was requested. */
  reason: StopReason | null;
  /** Denoising steps completed in this run, over all images. */
  step: number;
}

/** What a run needs from its worker. */
export interface RunContext {
  kv: Deno.Kv;
  generator: ImageGenerator;
  results: ResultsStore;
  events: JobEvents;
  log: Log;
  workerId: string;
  leaseMs: number;
  /** How long finished jobs and images are kept. */
  retentionMs: number;
  observer?: WorkerObserver;
  /** Called once the job reaches a terminal state here. */
  onFinished?: (job: JobRecord) => void;
  /** Records a step time measured on an image of `tokens` in the worker's running mean. */
  observeStep(seconds: number, tokens: number): void;
  /** The worker's running mean of seconds per step at 1024x1024 (0 before any was measured). */
  stepSeconds(): number;
  /** Asks `run` to stop at its next step. */
  stop(run: RunningJob, reason: StopReason): void;
}

const PROGRESS_WRITE_MS = 250;

/** Step timing of one run: the mean over the denoising steps measured in it. */
interface StepStats {
  total: number;
  count: number;
}

/** Encodes one generated image, writes its file, and commits its metadata under the lease. */
async function storeImage(
  run: RunningJob,
  ctx: RunContext,
  generated: { image: Uint8Array; width: number; height: number },
  image: { index: number; seed: number },
): Promise<ImageRef> {
  const { seed } = image;
  const { job } = run.claim;
  const p = job.params;
  const bytes = await encodeImage(
    generated.image,
    generated.width,
    generated.height,
    p.outputFormat,
    {
      prompt: p.prompt,
      negativePrompt: p.negativePrompt,
      seed,
      steps: p.steps,
      guidanceScale: p.guidanceScale,
      sampler: p.sampler,
      model: ctx.generator.describe().modelVersion,
    },
  );
  const ref: ImageRef = {
    id: newId(),
    seed,
    width: generated.width,
    height: generated.height,
    format: p.outputFormat,
    bytes: bytes.length,
  };
  const sha256 = sha256Hex(bytes);
  await ctx.results.write(ref.id, ref.format, bytes);
  const now = Date.now();
  const meta: ImageMeta = {
    ...ref,
    jobId: job.id,
    owner: job.owner,
    createdAt: now,
    expiresAt: now + ctx.retentionMs,
    etag: `"${ref.id}"`,
    sha256,
  };
  job.images = [...job.images, ref];
  await commitUnderLease(ctx.kv, run.claim, (op) =>
    op.set(keys.job(job.id), job)
      .set(keys.queue(job.createdAt, job.id), queueValue(job))
      .set(keys.image(ref.id), meta)
      .set(keys.expiry(meta.expiresAt, "image", ref.id), ref.id));
  ctx.events.publish(job.id, { type: "image", index: image.index, imageId: ref.id, bytes });
  return ref;
}

/** Generates image `index` of the job, reporting every step. */
async function generateImage(run: RunningJob, ctx: RunContext, index: number, stats: StepStats) {
  const { job } = run.claim;
  const p = job.params;
  const seed = imageSeed(p.seed, index);
  const tokens = denoisedTokens(p);
  let last = performance.now();
  let lastWrite = 0;
  let cancelCheck: Promise<void> | null = null;
  let preview: { step: number; png: Uint8Array } | null = null;
  const result = await ctx.generator.generate({
    prompt: p.prompt,
    negativePrompt: p.negativePrompt,
    width: p.width,
    height: p.height,
    steps: p.steps,
    guidanceScale: p.guidanceScale,
    guidanceRescale: p.guidanceRescale,
    seed,
    sampler: p.sampler,
    resolutionBinning: p.resolutionBinning,
  }, {
    signal: run.controller.signal,
    // The generator sends a step's preview just before the step itself.
    onPreview: (step, image) => {
      preview = { step, png: encodePngSync(image.rgb, image.width, image.height) };
    },
    onStep: (step, steps) => {
      run.step++;
      const now = performance.now();
      const seconds = (now - last) / 1000;
      last = now;
      // The first step also carries the text encoders; it is not a denoising step time.
      if (step > 1 || steps === 1) {
        ctx.observeStep(seconds, tokens);
        stats.total += seconds;
        stats.count++;
        ctx.observer?.step(seconds);
      }
      const stepSeconds = scaledStepSeconds(ctx.stepSeconds(), tokens);
      ctx.events.publish(job.id, {
        type: "step",
        image: index,
        step,
        steps,
        stepSeconds,
        ...(preview?.step === step ? { preview: preview.png } : {}),
      });
      if (now - lastWrite >= PROGRESS_WRITE_MS || step === steps) {
        lastWrite = now;
        const progress = { image: index, step, steps, stepSeconds, updatedAt: Date.now() };
        writeProgress(ctx.kv, job.id, progress, ctx.leaseMs * 4).catch((error) =>
          ctx.log("debug", "progress write failed", { job: job.id, error: String(error) })
        );
      }
      // Another process may have flagged a cancel: look it up without blocking the step.
      cancelCheck ??= cancelRequested(ctx.kv, job.id).then((requested) => {
        if (requested) ctx.stop(run, "cancel");
      }).catch(() => {}).finally(() => cancelCheck = null);
    },
  });
  return { result, seed };
}

/** Runs a claimed job to its end (see the module doc); never throws for a job failure. */
export async function runJob(run: RunningJob, ctx: RunContext): Promise<void> {
  const { claim } = run;
  const { job } = claim;
  const { kv, log } = ctx;
  log("info", "job started", { job: job.id, attempt: job.attempts, worker: ctx.workerId });
  ctx.events.publish(job.id, { type: "started", attempt: job.attempts });
  const beat = setInterval(async () => {
    try {
      await renewLease(kv, claim, ctx.leaseMs);
      if (await cancelRequested(kv, job.id)) ctx.stop(run, "cancel");
    } catch (error) {
      if (error instanceof LeaseLostError) ctx.stop(run, "lost");
      else log("warn", "lease renewal failed", { job: job.id, error: String(error) });
    }
  }, Math.max(100, Math.floor(ctx.leaseMs / 3)));
  const started = performance.now();
  const stats: StepStats = { total: 0, count: 0 };

  async function finish(state: "succeeded" | "failed" | "cancelled", error?: JobError) {
    const done: JobRecord = {
      ...claim.job,
      state,
      finishedAt: Date.now(),
      generationMs: (claim.job.generationMs ?? 0) + (performance.now() - started),
      ...(stats.count > 0 ? { stepSeconds: stats.total / stats.count } : {}),
      ...(error ? { error } : {}),
    };
    await commitUnderLease(kv, claim, (op) => finalizeJob(op, done, ctx.retentionMs));
    log("info", `job ${state}`, { job: done.id, images: done.images.length, step: run.step });
    ctx.observer?.finished(state);
    ctx.events.publish(done.id, { type: state, job: done });
    ctx.onFinished?.(done);
  }

  try {
    for (let index = job.images.length; index < job.params.n; index++) {
      const { result, seed } = await generateImage(run, ctx, index, stats);
      await storeImage(run, ctx, result, { index, seed });
    }
    await finish("succeeded");
  } catch (error) {
    if (run.reason === "lost" || error instanceof LeaseLostError) {
      log("warn", "job lease lost; another worker owns it now", { job: job.id });
    } else if (run.reason === "drain" && isAbortError(error)) {
      await releaseJob(kv, claim);
      log("info", "job released for another worker", { job: job.id });
    } else if (run.reason === "cancel" && isAbortError(error)) {
      await finish("cancelled", {
        code: "cancelled",
        message: `Job was cancelled after step ${run.step} of ${
          job.params.n * job.params.steps
        } in this run`,
      });
    } else {
      const message = error instanceof Error ? error.message : String(error);
      await finish("failed", { code: "generation_failed", message });
    }
  } finally {
    clearInterval(beat);
    ctx.observer?.generation((performance.now() - started) / 1000);
  }
}
