/**
 * Memory admission: the peak host memory of one generation estimated from the image size on a
 * measured curve per backend, against a budget shared by the jobs that run at once. Pure functions;
 * the HTTP layer refuses a request whose estimate does not fit before anything is created.
 *
 * @module
 */

/** Peak host memory of one generation above the model's weights: a line in image megapixels. */
export interface MemoryCurve {
  /** Runtime overhead independent of the size, in MiB. */
  fixedMiB: number;
  /** Growth per megapixel (10^6 pixels) of the image, in MiB. */
  perMegapixelMiB: number;
}

/**
 * The curves. onnx: measured with tests/bench/peak_rss.ts on the real-width slice (fused attention,
 * no CPU arena; 512^2 .. 1280^2, rounded up): the VAE decoder's full-resolution activations
 * dominate. tensorrt: derived, not measured: activations live on the GPU, the host holds the CUDA
 * context and the decoded image (fp32 RGB, then 8-bit and its encoding).
 */
export const MEMORY_CURVES: Readonly<Record<"onnx" | "tensorrt", MemoryCurve>> = {
  onnx: { fixedMiB: 512, perMegapixelMiB: 3200 },
  tensorrt: { fixedMiB: 512, perMegapixelMiB: 64 },
};

/** The curve of a backend name as engines report it; unknown backends get the CPU curve. */
export function memoryCurve(backend: string | null): MemoryCurve {
  return backend === "tensorrt" ? MEMORY_CURVES.tensorrt : MEMORY_CURVES.onnx;
}

/**
 * Estimated peak MiB of one image of `width` x `height`: weights held in host memory plus the
 * curve. Images of one job run one after another, so `n` does not raise the peak.
 */
export function estimatePeakMiB(
  curve: MemoryCurve,
  residentMiB: number,
  width: number,
  height: number,
): number {
  return Math.ceil(residentMiB + curve.fixedMiB + (curve.perMegapixelMiB * width * height) / 1e6);
}

/** What the admission check needs to know about this process. */
export interface MemoryPolicy {
  /** Host memory for generations, in MiB (`HYDIT_MEMORY_BUDGET_MB`; 0 = the machine's total). */
  budgetMiB: number;
  /** Jobs that may run at once; each gets an equal share of the budget. */
  concurrency: number;
  /** MiB of the ONNX graphs' weights, which ONNX Runtime keeps in host memory (TensorRT: device). */
  onnxWeightsMiB: number;
  /** The backend serving the model, once loaded. */
  backend: () => string | null;
}

/** Why a size does not fit: the estimate, the share it was held against, and a message. */
export interface MemoryRefusal {
  estimateMiB: number;
  shareMiB: number;
  message: string;
}

/** The budget a setting means: the value itself, or the machine's total memory for 0. */
export function resolveBudgetMiB(settingMiB: number): number {
  return settingMiB > 0 ? settingMiB : Math.floor(Deno.systemMemoryInfo().total / 2 ** 20);
}

/** Null when one image of `width` x `height` fits the policy's per-job share, else the refusal. */
export function memoryRefusal(
  policy: MemoryPolicy,
  width: number,
  height: number,
): MemoryRefusal | null {
  const backend = policy.backend();
  const resident = backend === "tensorrt" ? 0 : policy.onnxWeightsMiB;
  const estimateMiB = estimatePeakMiB(memoryCurve(backend), resident, width, height);
  const shareMiB = Math.floor(policy.budgetMiB / Math.max(1, policy.concurrency));
  if (estimateMiB <= shareMiB) return null;
  return {
    estimateMiB,
    shareMiB,
    message:
      `A ${width}x${height} image needs about ${estimateMiB} MiB on the ${
        backend ?? "onnx"
      } backend, more than the ${shareMiB} MiB each running job may use ` +
      `(HYDIT_MEMORY_BUDGET_MB / HYDIT_CONCURRENCY): ask for a smaller size`,
  };
}
