/**
 * HunyuanDiT's text-to-image pipeline and the math under it, reproducing diffusers'
 * `HunyuanDiTPipeline`: `loadPipeline` over an engine folder, resolution binning, the samplers,
 * 2-D RoPE tables, classifier-free guidance, conditioning inputs and torch-exact seeded noise.
 *
 * @module
 */
export { imageMetaSize, type MetaSizeOrder, styleInput, timestepInput } from "./conditioning.ts";
export { combineGuidance, type GuidanceOptions } from "./guidance.ts";
export {
  deriveModelSpec,
  type ModelCard,
  modelCard,
  type ModelDefaults,
  toModelCard,
} from "./model_card.ts";
export { createGenerator, type NoiseGenerator, type NoiseOptions, randn } from "./noise.ts";
export {
  type GenerateOptions,
  type GenerationRequest,
  type GenerationResult,
  type GenerationTimings,
  loadPipeline,
  type Pipeline,
  type PipelineDescription,
  type PipelineOptions,
} from "./pipeline.ts";
export { type PreviewImage } from "./preview.ts";
export {
  binResolution,
  type ImageSize,
  SizeError,
  type SizeLimits,
  STANDARD_SIZES,
  validateSize,
} from "./resolution.ts";
export { type RopeOptions, type RopeTables, ropeTables } from "./rope.ts";
export {
  createScheduler,
  SAMPLERS,
  type Scheduler,
  type SchedulerKind,
  type StepOptions,
  type StepResult,
} from "./schedulers.ts";
