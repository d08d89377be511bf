/**
 * Turns a validated request body into the job's generation parameters, filling every default.
 *
 * @module
 */
import type { ModelDefaults } from "../diffusion/mod.ts";
import type { GenerationParams, ParsedRequest } from "../jobs/mod.ts";
import { defaultSize, type GenerationRequest, type Limits, parseSize } from "./schemas.ts";

/** Defaults that do not depend on the model (size, steps, guidance and sampler do: ModelDefaults). */
export const DEFAULTS = {
  guidanceRescale: 0,
  outputFormat: "png",
  n: 1,
} as const;

/** Fills defaults (the model's where it has them); a missing seed becomes a random 32-bit one. */
export function toParams(
  body: GenerationRequest,
  limits: Limits,
  model: ModelDefaults,
): ParsedRequest {
  const { width, height } = parseSize(body.size ?? defaultSize(limits, model));
  const params: GenerationParams = {
    prompt: body.prompt,
    negativePrompt: body.negative_prompt ?? "",
    width,
    height,
    steps: body.steps ?? model.steps,
    guidanceScale: body.guidance_scale ?? model.guidanceScale,
    guidanceRescale: body.guidance_rescale ?? DEFAULTS.guidanceRescale,
    seed: body.seed ?? crypto.getRandomValues(new Uint32Array(1))[0],
    sampler: body.sampler ?? model.sampler,
    n: body.n ?? DEFAULTS.n,
    outputFormat: body.output_format ?? DEFAULTS.outputFormat,
    resolutionBinning: body.resolution_binning ?? false,
  };
  return {
    params,
    fixedSeed: body.seed !== undefined,
    ...(body.webhook_url !== undefined ? { webhook: body.webhook_url } : {}),
  };
}

/** The request as echoed back in job views (API field names). */
export function requestEcho(p: GenerationParams): Record<string, unknown> {
  return {
    prompt: p.prompt,
    negative_prompt: p.negativePrompt,
    n: p.n,
    size: `${p.width}x${p.height}`,
    steps: p.steps,
    guidance_scale: p.guidanceScale,
    guidance_rescale: p.guidanceRescale,
    seed: p.seed,
    sampler: p.sampler,
    output_format: p.outputFormat,
    resolution_binning: p.resolutionBinning,
  };
}
