/**
 * Classifier-free guidance on the batched DiT output, with diffusers' optional `rescale_noise_cfg`.
 *
 * @module
 */

import { add, compileKernel, input, mul, scalar, sub } from "./_f32x4.ts";

const f = Math.fround;

/** uncond + g * (cond - uncond); inputs 0 uncond, 1 cond; scalar 0 g. */
const CFG = compileKernel(2, 1, [add(input(0), mul(scalar(0), sub(input(1), input(0))))]);
/** phi * (cfg * ratio) + (1 - phi) * cfg; input 0 cfg; scalars 0 phi, 1 ratio, 2 1 - phi. */
const RESCALE = compileKernel(1, 3, [
  add(mul(scalar(0), mul(input(0), scalar(1))), mul(scalar(2), input(0))),
]);

/** Options of {@linkcode combineGuidance}. */
export interface GuidanceOptions {
  /** CFG scale g: uncond + g * (cond - uncond). The pipeline skips CFG altogether when g <= 1. */
  guidanceScale: number;
  /** diffusers' `guidance_rescale` phi in [0, 1]; 0 disables rescaling. @default {0} */
  guidanceRescale?: number;
  /** Leading channels kept from each half (the rest are the learned-sigma channels). @default {4} */
  keepChannels?: number;
  /** Destination [B, keepChannels, h, w]; a new array is allocated without it. */
  out?: Float32Array;
}

/**
 * Combines a [2B, C, h, w] model output (uncond half first, as the pipeline batches it) into the guided
 * prediction [B, keepChannels, h, w]: `uncond + g * (cond - uncond)` in fp32, op by op as diffusers (bit-exact),
 * then, if `guidanceRescale` > 0, diffusers' `rescale_noise_cfg`: `phi * cfg * std(cond) / std(cfg) +
 * (1 - phi) * cfg`, std per batch item over all kept values, unbiased (n - 1) like `torch.std`. The std is
 * accumulated in float64 here (torch: fp32 two-pass), so rescaled results agree to a few ulps.
 *
 * @param modelOutput the engine output, row-major [2B, C, h, w]
 * @param shape its shape [2B, C, h, w]
 * @param opts scale, rescale, kept channels, destination
 * @returns the guided prediction (the `out` buffer when given)
 */
export function combineGuidance(
  modelOutput: Float32Array,
  shape: readonly [number, number, number, number],
  opts: GuidanceOptions,
): Float32Array {
  const [batch2, channels, h, w] = shape;
  const keep = opts.keepChannels ?? 4;
  const rescale = opts.guidanceRescale ?? 0;
  if (shape.some((d) => !Number.isInteger(d) || d < 1) || batch2 % 2 !== 0) {
    throw new RangeError(
      `Cannot combine guidance: shape must be [2B, C, h, w], got [${shape.join(", ")}]`,
    );
  }
  if (modelOutput.length !== batch2 * channels * h * w) {
    throw new RangeError(
      `Cannot combine guidance: modelOutput has ${modelOutput.length} values, shape [${
        shape.join(", ")
      }] needs ${batch2 * channels * h * w}`,
    );
  }
  if (!Number.isInteger(keep) || keep < 1 || keep > channels) {
    throw new RangeError(
      `Cannot combine guidance: keepChannels must be in 1..${channels}, got ${keep}`,
    );
  }
  if (!Number.isFinite(opts.guidanceScale)) {
    throw new RangeError(
      `Cannot combine guidance: guidanceScale must be finite, got ${opts.guidanceScale}`,
    );
  }
  if (!(rescale >= 0 && rescale <= 1)) {
    throw new RangeError(
      `Cannot combine guidance: guidanceRescale must be in [0, 1], got ${rescale}`,
    );
  }
  const batch = batch2 / 2;
  const plane = h * w;
  const per = keep * plane; // kept values per batch item
  const out = opts.out ?? new Float32Array(batch * per);
  if (out.length !== batch * per) {
    throw new RangeError(
      `Cannot combine guidance: out has ${out.length} values, needs ${batch * per}`,
    );
  }
  const g = f(opts.guidanceScale);
  for (let b = 0; b < batch; b++) {
    const u0 = b * channels * plane; // uncond item b
    const c0 = (batch + b) * channels * plane; // cond item b
    const o0 = b * per;
    const guided = out.subarray(o0, o0 + per);
    // fp32 SIMD, each op rounded once (bit-identical to Math.fround after every op)
    CFG([modelOutput.subarray(u0, u0 + per), modelOutput.subarray(c0, c0 + per)], [g], [guided]);
    if (rescale > 0) {
      const ratio = f(unbiasedStd(modelOutput, c0, per) / unbiasedStd(out, o0, per));
      RESCALE([guided], [f(rescale), ratio, f(1 - rescale)], [guided]);
    }
  }
  return out;
}

/** Unbiased std of a[start .. start + n) with float64 sums, rounded to fp32 like torch's fp32 result. */
function unbiasedStd(a: Float32Array, start: number, n: number): number {
  let sum = 0;
  let sumSq = 0;
  for (let k = start; k < start + n; k++) {
    const v = a[k];
    sum += v;
    sumSq += v * v;
  }
  return f(Math.sqrt(Math.max(0, (sumSq - (sum * sum) / n) / (n - 1))));
}
