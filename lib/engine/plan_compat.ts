/**
 * The load-time check that refuses TensorRT plans built by another TensorRT release or for another
 * GPU: plans only deserialize on the version and GPU model that built them.
 *
 * @module
 */

import type { TrtManifest } from "./manifest.ts";

/** The TensorRT runtime and GPU a plan is about to be loaded on. */
export interface TrtRuntime {
  /** TensorRT version, "M.m.p" (a fourth build number is ignored). */
  version: string;
  /** GPU name as CUDA reports it. */
  gpu: string;
  /** Compute capability "major.minor". */
  sm: string;
}

/** Raised when a plan was built for another TensorRT version or GPU. */
export class PlanCompatibilityError extends Error {
  /** Creates the error with its message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PlanCompatibilityError";
  }
}

/**
 * Refuses plans built by another TensorRT release (major.minor.patch), for another compute
 * capability, or on another GPU model; throws {@linkcode PlanCompatibilityError} naming both sides.
 */
export function checkPlanCompatibility(
  built: Pick<TrtManifest, "version" | "gpu" | "sm">,
  runtime: TrtRuntime,
): void {
  const release = (v: string) => v.split(".").slice(0, 3).join(".");
  const rebuild = "rebuild them on this machine with `deno task engines:build ... --trt`";
  if (release(built.version) !== release(runtime.version)) {
    throw new PlanCompatibilityError(
      `Cannot load TensorRT plans: they were built by TensorRT ${built.version}, this runtime is ` +
        `TensorRT ${runtime.version}; ${rebuild}`,
    );
  }
  if (built.sm !== runtime.sm) {
    throw new PlanCompatibilityError(
      `Cannot load TensorRT plans: they were built for compute capability ${built.sm} ` +
        `("${built.gpu}"), this GPU is ${runtime.sm} ("${runtime.gpu}"); ${rebuild}`,
    );
  }
  if (built.gpu !== runtime.gpu) {
    throw new PlanCompatibilityError(
      `Cannot load TensorRT plans: they were built for "${built.gpu}", this GPU is ` +
        `"${runtime.gpu}" (same compute capability ${built.sm}); ${rebuild}`,
    );
  }
}
