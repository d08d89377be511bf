/** Records for tests that drive the job store directly (small, valid, deterministic). */
import type { GenerationParams, ImageMeta } from "../../lib/jobs/job.ts";

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

/** Metadata of a 2x2 PNG `id` owned by `owner`, expiring in an hour, with `overrides` applied. */
export function testImageMeta(
  id: string,
  owner: string,
  overrides: Partial<ImageMeta> = {},
): ImageMeta {
  return {
    id,
    seed: 1,
    width: 2,
    height: 2,
    format: "png",
    bytes: 3,
    jobId: "d".repeat(32),
    owner,
    createdAt: Date.now(),
    expiresAt: Date.now() + 3_600_000,
    etag: `"${id}"`,
    ...overrides,
  };
}
