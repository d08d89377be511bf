/** Generation parameters for tests that drive the job store directly (small, valid, deterministic). */
import type { GenerationParams } from "../../lib/jobs/job.ts";

/** A 64x64, 10-step DDPM request for one image, with `overrides` applied. */
export function testParams(overrides: Partial<GenerationParams> = {}): GenerationParams {
  return {
    prompt: "p",
    negativePrompt: "",
    width: 64,
    height: 64,
    steps: 10,
    guidanceScale: 5,
    guidanceRescale: 0,
    seed: 1,
    sampler: "ddpm",
    n: 1,
    outputFormat: "png",
    resolutionBinning: false,
    ...overrides,
  };
}
