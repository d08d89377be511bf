/**
 * The worker loop: claims jobs under a KV lease, renews it while generating, publishes progress, writes
 * images to the results store and finishes the job record. Woken in-process on submit and by a poll
 * timer (for jobs submitted by other processes and for leases that expired).
 *
 * @module
 */
import type { Log } from "../log.ts";
import { encodeImage } from "../image/encode.ts";
import type { JobEvents } from "./events.ts";
import { type ImageGenerator, isAbortError } from "./generator.ts";
import {
  type ImageMeta,
  type ImageRef,
  type JobError,
  type JobRecord,
  type JobState,
  keys,
  newId,
  queueValue,
} from "./job.ts";
import { withKvRetry } from "./kv_retry.ts";
import {
  type Claim,
  claimNext,
  commitUnderLease,
  LeaseLostError,
  releaseJob,
  renewLease,
  type WorkerIdentity,
} from "./lease.ts";
import type { ResultsStore } from "./results.ts";
import { finalizeJob } from "./store.ts";

/** Observations the worker reports (metrics). */
export interface WorkerObserver {
  step(seconds: number): void;
  generation(seconds: number): void;
  finished(state: JobState): void;
}

/** Everything a worker needs. */
export interface WorkerOptions {
  kv: Deno.Kv;
  generator: ImageGenerator;
  results: ResultsStore;
  events: JobEvents;
  log: Log;
  identity: WorkerIdentity;
  /** Jobs run at once by this process. */
  concurrency: number;
  leaseMs: number;
  pollMs: number;
  retentionMs: number;
  observer?: WorkerObserver;
  /** Called once a job reaches a terminal state here (wakes the webhook delivery loop). */
  onFinished?: (job: JobRecord) => void;
}

/** A running worker loop. */
export interface Worker {
  /** Starts claiming. */
  start(): void;
  /** Looks for work now (after a local submit). */
  wake(): void;
  /** Aborts a job running in this process at its next step; false when it is not running here. */
  cancelLocal(jobId: string): boolean;
  /** Ids of the jobs running in this process. */
  runningIds(): string[];
  /** Mean measured seconds per denoising step (0 before any step was measured). */
  stepSeconds(): number;
  /** Records a measured step time from outside the loop (warm-up). */
  observeStep(seconds: number): void;
  /** Stops claiming, waits up to `graceMs` for running jobs, then releases the rest to the queue. */
  drain(graceMs: number): Promise<void>;
}

type StopReason = "cancel" | "drain" | "lost";

interface Running {
  jobId: string;
  controller: AbortController;
  reason: StopReason | null;
  done: Promise<void>;
  /** Denoising steps completed in this run, over all images. */
  step: number;
}

const PROGRESS_WRITE_MS = 250;

/** Creates a worker loop; call `start()` to begin claiming. */
export function createWorker(options: WorkerOptions): Worker {
  const { kv, log } = options;
  const running = new Map<string, Running>();
  let stepEma = 0;
  let stopping = false;
  let claiming = false;
  let again = false;
  let timer: ReturnType<typeof setInterval> | undefined;

  function observeStep(seconds: number): void {
    stepEma = stepEma === 0 ? seconds : 0.8 * stepEma + 0.2 * seconds;
  }

  async function fill(): Promise<void> {
    if (claiming) {
      again = true;
      return;
    }
    claiming = true;
    try {
      do {
        again = false;
        while (!stopping && running.size < options.concurrency) {
          const claim = await claimNext(kv, options.identity, {
            leaseMs: options.leaseMs,
            retentionMs: options.retentionMs,
            skip: new Set(running.keys()),
          });
          if (!claim || stopping) {
            if (claim) await releaseJob(kv, claim);
            break;
          }
          launch(claim);
        }
      } while (again && !stopping);
    } catch (error) {
      log("error", "claim failed", { error: String(error) });
    } finally {
      claiming = false;
    }
  }

  function launch(claim: Claim): void {
    const entry: Running = {
      jobId: claim.job.id,
      controller: new AbortController(),
      reason: null,
      done: Promise.resolve(),
      step: 0,
    };
    running.set(claim.job.id, entry);
    entry.done = run(claim, entry)
      .catch((error) =>
        log("error", "job run crashed", { job: claim.job.id, error: String(error) })
      )
      .finally(() => {
        running.delete(claim.job.id);
        if (!stopping) fill();
      });
  }

  function stop(entry: Running, reason: StopReason): void {
    if (entry.reason !== null) return;
    entry.reason = reason;
    log("info", `job stop requested: ${reason}`, { job: entry.jobId, step: entry.step });
    entry.controller.abort();
  }

  async function run(claim: Claim, entry: Running): Promise<void> {
    const { job } = claim;
    const p = job.params;
    log("info", "job started", { job: job.id, attempt: job.attempts, worker: options.identity.id });
    options.events.publish(job.id, { type: "started", attempt: job.attempts });
    const beat = setInterval(async () => {
      try {
        await renewLease(kv, claim, options.leaseMs);
        const cancel = await withKvRetry(() => kv.get<boolean>(keys.cancel(job.id)));
        if (cancel.value) stop(entry, "cancel");
      } catch (error) {
        if (error instanceof LeaseLostError) stop(entry, "lost");
        else log("warn", "lease renewal failed", { job: job.id, error: String(error) });
      }
    }, Math.max(100, Math.floor(options.leaseMs / 3)));
    const started = performance.now();
    let stepTotal = 0;
    let stepCount = 0;
    try {
      for (let index = job.images.length; index < p.n; index++) {
        const seed = (p.seed + index) % Number.MAX_SAFE_INTEGER;
        let last = performance.now();
        let lastWrite = 0;
        let cancelCheck: Promise<void> | null = null;
        const result = await options.generator.generate({
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
          signal: entry.controller.signal,
          onStep: (step, steps) => {
            entry.step++;
            const now = performance.now();
            const seconds = (now - last) / 1000;
            last = now;
            // The first step also carries the text encoders; it is not a denoising step time.
            if (step > 1 || steps === 1) {
              observeStep(seconds);
              stepTotal += seconds;
              stepCount++;
              options.observer?.step(seconds);
            }
            options.events.publish(job.id, {
              type: "step",
              image: index,
              step,
              steps,
              stepSeconds: stepEma,
            });
            if (now - lastWrite >= PROGRESS_WRITE_MS || step === steps) {
              lastWrite = now;
              kv.set(keys.progress(job.id), {
                image: index,
                step,
                steps,
                stepSeconds: stepEma,
                updatedAt: Date.now(),
              }, { expireIn: options.leaseMs * 4 }).catch(() => {});
            }
            // Another process may have flagged a cancel: look it up without blocking the step.
            cancelCheck ??= kv.get<boolean>(keys.cancel(job.id)).then((v) => {
              if (v.value) stop(entry, "cancel");
            }).catch(() => {}).finally(() => cancelCheck = null);
          },
        });
        const bytes = await encodeImage(result.image, result.width, result.height, p.outputFormat, {
          prompt: p.prompt,
          negativePrompt: p.negativePrompt,
          seed,
          steps: p.steps,
          guidanceScale: p.guidanceScale,
          sampler: p.sampler,
          model: options.generator.describe().modelVersion,
        });
        const ref: ImageRef = {
          id: newId(),
          seed,
          width: result.width,
          height: result.height,
          format: p.outputFormat,
          bytes: bytes.length,
        };
        await options.results.write(ref.id, ref.format, bytes);
        const meta: ImageMeta = {
          ...ref,
          jobId: job.id,
          owner: job.owner,
          createdAt: Date.now(),
          expiresAt: Date.now() + options.retentionMs,
          etag: `"${ref.id}"`,
        };
        job.images = [...job.images, ref];
        await commitUnderLease(kv, claim, (op) =>
          op.set(keys.job(job.id), job)
            .set(keys.queue(job.createdAt, job.id), queueValue(job))
            .set(keys.image(ref.id), meta)
            .set(keys.expiry(meta.expiresAt, "image", ref.id), ref.id));
        options.events.publish(job.id, { type: "image", index, imageId: ref.id });
      }
      await finish(claim, "succeeded");
    } catch (error) {
      if (entry.reason === "lost" || error instanceof LeaseLostError) {
        log("warn", "job lease lost; another worker owns it now", { job: job.id });
      } else if (entry.reason === "drain" && isAbortError(error)) {
        await releaseJob(kv, claim);
        log("info", "job released for another worker", { job: job.id });
      } else if (entry.reason === "cancel" && isAbortError(error)) {
        const total = p.n * p.steps;
        await finish(claim, "cancelled", {
          code: "cancelled",
          message: `Job was cancelled after step ${entry.step} of ${total} in this run`,
        });
      } else {
        const message = error instanceof Error ? error.message : String(error);
        await finish(claim, "failed", { code: "generation_failed", message });
      }
    } finally {
      clearInterval(beat);
      options.observer?.generation((performance.now() - started) / 1000);
    }

    async function finish(
      claim: Claim,
      state: "succeeded" | "failed" | "cancelled",
      error?: JobError,
    ): Promise<void> {
      const done: JobRecord = {
        ...claim.job,
        state,
        finishedAt: Date.now(),
        generationMs: (claim.job.generationMs ?? 0) + (performance.now() - started),
        ...(stepCount > 0 ? { stepSeconds: stepTotal / stepCount } : {}),
        ...(error ? { error } : {}),
      };
      await commitUnderLease(kv, claim, (op) => finalizeJob(op, done, options.retentionMs));
      log("info", `job ${state}`, { job: done.id, images: done.images.length, step: entry.step });
      options.observer?.finished(state);
      options.events.publish(done.id, { type: state, job: done });
      options.onFinished?.(done);
    }
  }

  return {
    start() {
      timer = setInterval(() => fill(), options.pollMs);
      fill();
    },
    wake() {
      if (!stopping) fill();
    },
    cancelLocal(jobId) {
      const entry = running.get(jobId);
      if (!entry) return false;
      stop(entry, "cancel");
      return true;
    },
    runningIds: () => [...running.keys()],
    stepSeconds: () => stepEma,
    observeStep,
    async drain(graceMs) {
      stopping = true;
      clearInterval(timer);
      const all = () => Promise.all([...running.values()].map((r) => r.done));
      let timeout: ReturnType<typeof setTimeout> | undefined;
      const graceOver = new Promise<boolean>((resolve) => {
        timeout = setTimeout(() => resolve(false), graceMs);
      });
      const finished = await Promise.race([all().then(() => true), graceOver]);
      clearTimeout(timeout);
      if (!finished) {
        for (const entry of running.values()) stop(entry, "drain");
        await all();
      }
    },
  };
}
