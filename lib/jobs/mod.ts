/**
 * Jobs in Deno KV: the `Jobs` facade callers use (submit, view, cancel, wait, images, schedules),
 * and what the composition root wires under it: the worker loop with its KV leases, the pipeline on
 * worker threads, in-process events, the results store, schedules, webhook deliveries and the
 * retention sweeper.
 *
 * @module
 */
export {
  createDeliveryLoop,
  type DeliveryLoop,
  type DeliveryLoopOptions,
} from "./delivery_loop.ts";
export { imageTokens } from "./estimate.ts";
export { createJobEvents, type JobEvent, type JobEvents, type JobListener } from "./events.ts";
export {
  type GeneratorInfo,
  type GeneratorOptions,
  type GeneratorRequest,
  type GeneratorResult,
  type ImageGenerator,
  isAbortError,
  type Sampler,
} from "./generator.ts";
export {
  type GenerationParams,
  ID_PATTERN,
  type ImageMeta,
  type ImageRef,
  isTerminal,
  type JobError,
  type JobProgress,
  type JobRecord,
  type JobState,
  type WebhookStatus,
} from "./job.ts";
export {
  createJobs,
  type ImageRead,
  type Jobs,
  type JobsOptions,
  type JobsPage,
  type JobsPolicy,
  type JobStatus,
  type ScheduleStatus,
  type Submission,
  type SubmitOutcome,
  type WorkerHandle,
} from "./jobs.ts";
export {
  estimatePeakMiB,
  MEMORY_CURVES,
  type MemoryCurve,
  memoryCurve,
  type MemoryPolicy,
  type MemoryRefusal,
  memoryRefusal,
  resolveBudgetMiB,
} from "./memory.ts";
export { pendingWork } from "./pending.ts";
export { type ThreadedOptions, threadedPipeline } from "./pipeline_threads.ts";
export { openResultsStore, type ResultsStore } from "./results.ts";
export {
  loadSchedules,
  type ParsedRequest,
  registerSchedules,
  type Schedule,
  type ScheduleState,
} from "./schedules.ts";
export type { CancelResult } from "./store.ts";
export { sweepExpired, type SweepResult } from "./sweeper.ts";
export type { WaitOptions, WaitResult } from "./wait.ts";
export { createWorker, type Worker, type WorkerObserver, type WorkerOptions } from "./worker.ts";
export {
  checkWebhookTarget,
  parseWebhookAllow,
  type TargetCheck,
  type WebhookAllow,
  webhookUrlProblem,
} from "./webhook_target.ts";
