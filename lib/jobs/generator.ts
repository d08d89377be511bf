/**
 * The contract between the job worker and whatever produces images. The diffusion pipeline
 * (`lib/diffusion/pipeline.ts`) satisfies it structurally; `main.ts` runs it on worker threads through
 * `threaded_generator.ts`, which satisfies it too.
 *
 * @module
 */

/** Samplers the pipeline knows. */
export type Sampler = "ddpm" | "ddim" | "dpmpp";

/** One image request, in the pipeline's own terms. */
export interface GeneratorRequest {
  prompt: string;
  negativePrompt?: string;
  height: number;
  width: number;
  steps: number;
  guidanceScale: number;
  guidanceRescale?: number;
  seed: number;
  sampler?: Sampler;
  resolutionBinning?: boolean;
}

/** Progress and cancellation hooks for one generation. */
export interface GeneratorOptions {
  /** Called after each denoising step, 1-based. */
  onStep?: (step: number, total: number) => void;
  /** Checked before each step; an aborted signal makes `generate` reject with an AbortError. */
  signal?: AbortSignal;
}

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
