/**
 * The worker loop: claims jobs under a KV lease up to its concurrency and runs each with
 * run_job.ts. Woken in-process on submit and by a poll timer (for jobs submitted by other processes
 * and for leases that expired); on drain it stops claiming, lets running jobs finish for a grace
 * period, then releases the rest to the queue.
 *
 * @module
 */
import type { Log } from "../log.ts";
import { toReferenceSeconds } from "./estimate.ts";
import type { JobEvents } from "./events.ts";
import type { ImageGenerator } from "./generator.ts";
import type { JobRecord } from "./job.ts";
import { type Claim, claimNext, releaseJob, type WorkerIdentity } from "./lease.ts";
import type { ResultsStore } from "./results.ts";
import {
  type RunContext,
  runJob,
  type RunningJob,
  type StopReason,
  type WorkerObserver,
} from "./run_job.ts";

export type { WorkerObserver } from "./run_job.ts";

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
  /** Mean measured seconds per denoising step at 1024x1024 (0 before any step was measured). */
  stepSeconds(): number;
  /** Records a step time measured on an image of `tokens` from outside the loop (warm-up). */
  observeStep(seconds: number, tokens: number): void;
  /** Stops claiming, waits up to `graceMs` for running jobs, then releases the rest to the queue. */
  drain(graceMs: number): Promise<void>;
}

/** Creates a worker loop; call `start()` to begin claiming. */
export function createWorker(options: WorkerOptions): Worker {
  const { kv, log } = options;
  const running = new Map<string, RunningJob & { done: Promise<void> }>();
  let stepEma = 0;
  let stopping = false;
  let claiming = false;
  let again = false;
  let timer: ReturnType<typeof setInterval> | undefined;

  function stop(run: RunningJob, reason: StopReason): void {
    if (run.reason !== null) return;
    run.reason = reason;
    log("info", `job stop requested: ${reason}`, { job: run.claim.job.id, step: run.step });
    run.controller.abort();
  }

  const context: RunContext = {
    kv,
    generator: options.generator,
    results: options.results,
    events: options.events,
    log,
    workerId: options.identity.id,
    leaseMs: options.leaseMs,
    retentionMs: options.retentionMs,
    observer: options.observer,
    onFinished: options.onFinished,
    observeStep(seconds, tokens) {
      const reference = toReferenceSeconds(seconds, tokens);
      stepEma = stepEma === 0 ? reference : 0.8 * stepEma + 0.2 * reference;
    },
    stepSeconds: () => stepEma,
    stop,
  };

  function launch(claim: Claim): void {
    const id = claim.job.id;
    const run: RunningJob & { done: Promise<void> } = {
      claim,
      controller: new AbortController(),
      reason: null,
      step: 0,
      done: Promise.resolve(),
    };
    running.set(id, run);
    run.done = runJob(run, context)
      .catch((error) => log("error", "job run crashed", { job: id, error: String(error) }))
      .finally(() => {
        running.delete(id);
        if (!stopping) fill();
      });
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

  return {
    start() {
      timer = setInterval(() => fill(), options.pollMs);
      fill();
    },
    wake() {
      if (!stopping) fill();
    },
    cancelLocal(jobId) {
      const run = running.get(jobId);
      if (!run) return false;
      stop(run, "cancel");
      return true;
    },
    runningIds: () => [...running.keys()],
    stepSeconds: () => stepEma,
    observeStep: context.observeStep,
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
        for (const run of running.values()) stop(run, "drain");
        await all();
      }
    },
  };
}
