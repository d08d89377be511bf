/**
 * The contract between the job worker and whatever produces images. The diffusion pipeline
 * (lib/diffusion/pipeline.ts) satisfies it structurally; the service runs it on worker threads
 * through pipeline_threads.ts, which satisfies it too.
 *
 * @module
 */

import type { GenerateOptions, GenerationRequest } from "../diffusion/mod.ts";

/** Samplers the pipeline knows. */
export type Sampler = NonNullable<GenerationRequest["sampler"]>;

/** One image request, in the pipeline's own terms. */
export type GeneratorRequest = GenerationRequest;

/** Progress and cancellation hooks for one generation (after each step; abort before each step). */
export type GeneratorOptions = GenerateOptions;

/** One generated image: HWC RGB bytes. */
export interface GeneratorResult {
  image: Uint8Array;
  height: number;
  width: number;
}

/** What `/readyz` reports about the loaded model. */
export interface GeneratorInfo {
  backend: string;
  modelVersion: string;
  precision: string;
  sizes: unknown;
}

/** Anything that turns a request into RGB pixels, step by step. */
export interface ImageGenerator {
  generate(request: GeneratorRequest, options?: GeneratorOptions): Promise<GeneratorResult>;
  describe(): GeneratorInfo;
  close(): void | Promise<void>;
}

/** True when an error is the cancellation a generator throws for an aborted signal. */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === "AbortError";
}
