/**
 * DPM-Solver++ 2M sampler: diffusers DPMSolverMultistepScheduler as `from_config(ddpm_config)` builds it
 * (solver_order 2, algorithm_type "dpmsolver++", solver_type "midpoint", lower_order_final true,
 * euler_at_final false, final_sigmas_type "zero", lambda_min_clipped -inf).
 *
 * @module
 */

import { dpmTimesteps, type ScheduleConfig, type ScheduleTables } from "./betas.ts";
import { type Scheduler, stepBuffers, type StepOptions } from "./_sampler.ts";
import { compileKernel, div, input, type Kernel, mul, output, scalar, sub } from "./_f32x4.ts";

const f = Math.fround;

// Kernel inputs: 0 sample, 1 model output, 2 previous x0. Scalars: 0 alpha_s0, 1 sigma_s0,
// 2 sigma_t / sigma_s0, 3 alpha_t * (exp(-h) - 1), 4 half of 3, 5 1 / r0. Outputs: 0 x0, 1 x_t.
const [S, M, X0_PREV, X0] = [input(0), input(1), input(2), output(0)];
const [ALPHA, SIGMA, C_S, C_D0, C_D1, INV_R0] = [0, 1, 2, 3, 4, 5].map(scalar);
const FIRST_ORDER = sub(mul(C_S, S), mul(C_D0, X0));
const X0_OF = {
  epsilon: div(sub(S, mul(SIGMA, M)), ALPHA), // (sample - sigma * eps) / alpha
  v: sub(mul(ALPHA, S), mul(SIGMA, M)), // alpha * sample - sigma * v
};
const X_T = {
  first: FIRST_ORDER,
  // midpoint: the first-order update - 0.5 * c_D0 * ((1 / r0) * (x0 - x0_prev))
  second: sub(FIRST_ORDER, mul(C_D1, mul(INV_R0, sub(X0, X0_PREV)))),
};
const stepKernel = (prediction: "epsilon" | "v", order: "first" | "second"): Kernel =>
  compileKernel(order === "first" ? 2 : 3, order === "first" ? 4 : 6, [
    X0_OF[prediction],
    X_T[order],
  ]);
const KERNELS = {
  epsilon: { first: stepKernel("epsilon", "first"), second: stepKernel("epsilon", "second") },
  v: { first: stepKernel("v", "first"), second: stepKernel("v", "second") },
};

/**
 * Creates a DPM-Solver++ 2M sampler. The multistep state (step index, the previous x0 estimate, how many
 * lower-order steps ran) lives inside the object and is reset by `setTimesteps`. Step 0 and the final step
 * are first order (final sigma 0 makes the last step return x0); every other step is second order.
 *
 * Precision: fp32 op by op like diffusers; the scalar sqrt/log/exp are correctly rounded here while torch's
 * are 1-ulp accurate, so coefficients can differ by an ulp and samples by a few ulps.
 *
 * @param config validated schedule configuration
 * @param tables betas / alphas_cumprod of that configuration
 * @returns the sampler
 */
export function createDpmpp(config: ScheduleConfig, tables: ScheduleTables): Scheduler {
  const ac = tables.alphasCumprod;
  const T = config.numTrainTimesteps;
  const epsilon = config.predictionType === "epsilon";
  // sigma_t = sqrt((1 - alpha_bar) / alpha_bar) in fp32, as the fp32 tensor expression in diffusers.
  const sigmaOf = (t: number) => {
    const a = ac[Math.min(Math.max(t, 0), T - 1)]; // np.interp clamps outside [0, T-1]
    return f(Math.sqrt(f(f(1 - a) / a)));
  };
  let timesteps: number[] = [];
  let sigmas: number[] = [];
  let stepIndex = -1;
  let lowerOrderNums = 0;
  let history: Float32Array | null = null; // x0 estimate of the previous step
  let current: Float32Array | null = null; // buffer the x0 of this step is written to

  return {
    kind: "dpmpp",
    setTimesteps(n: number): number[] {
      timesteps = dpmTimesteps(config, n);
      sigmas = [...timesteps.map(sigmaOf), 0];
      stepIndex = -1;
      lowerOrderNums = 0;
      history = null;
      return timesteps.slice();
    },
    step(modelOutput: Float32Array, t: number, sample: Float32Array, opts: StepOptions = {}) {
      if (timesteps.length === 0) throw new Error("Cannot run DPM++ step: call setTimesteps first");
      if (stepIndex < 0) stepIndex = initialIndex(timesteps, t);
      if (stepIndex >= timesteps.length) {
        throw new RangeError(
          `Cannot run DPM++ step: all ${timesteps.length} planned steps are done (call setTimesteps again)`,
        );
      }
      const [out, x0Out] = stepBuffers("DPM++", modelOutput, sample, opts);
      const n = sample.length;
      if (current === null || current.length !== n) current = new Float32Array(n);
      if (history !== null && history.length !== n) {
        throw new RangeError(
          `Cannot run DPM++ step: sample has ${n} values, the previous step had ${history.length}`,
        );
      }
      const last = stepIndex === timesteps.length - 1;
      const firstOrder = lowerOrderNums < 1 || last || history === null;
      const [alphaS0, sigmaS0] = alphaSigma(sigmas[stepIndex]);
      const [alphaT, sigmaT] = alphaSigma(sigmas[stepIndex + 1]);
      const lambdaT = lambda(alphaT, sigmaT);
      const lambdaS0 = lambda(alphaS0, sigmaS0);
      const h = f(lambdaT - lambdaS0);
      const cS = f(sigmaT / sigmaS0);
      const cD0 = f(alphaT * f(f(Math.exp(f(-h))) - 1));
      let cD1 = 0;
      let invR0 = 0;
      if (!firstOrder) {
        const [alphaS1, sigmaS1] = alphaSigma(sigmas[stepIndex - 1]);
        const r0 = f(f(lambdaS0 - lambda(alphaS1, sigmaS1)) / h);
        invR0 = f(1 / r0);
        cD1 = f(0.5 * cD0);
      }
      // One fp32 SIMD pass (bit-identical to rounding every op with Math.fround): x0 into this
      // step's history buffer, x_t into `out` (which may be `sample`).
      const x0Cur = current;
      const prediction = epsilon ? "epsilon" : "v";
      if (firstOrder || history === null) {
        KERNELS[prediction].first([sample, modelOutput], [alphaS0, sigmaS0, cS, cD0], [
          x0Cur,
          out,
        ]);
      } else {
        KERNELS[prediction].second(
          [sample, modelOutput, history],
          [alphaS0, sigmaS0, cS, cD0, cD1, invR0],
          [x0Cur, out],
        );
      }
      x0Out.set(x0Cur);
      current = history;
      history = x0Cur;
      if (lowerOrderNums < 2) lowerOrderNums++;
      stepIndex++;
      return { prevSample: out, predOriginalSample: x0Out };
    },
  };
}

/** diffusers `_sigma_to_alpha_sigma_t`: alpha = 1 / sqrt(sigma^2 + 1), sigma_t = sigma * alpha (fp32). */
function alphaSigma(sigma: number): [number, number] {
  const alpha = f(1 / f(Math.sqrt(f(f(sigma * sigma) + 1))));
  return [alpha, f(sigma * alpha)];
}

/** log(alpha) - log(sigma) in fp32 (+Infinity for the final sigma 0). */
function lambda(alpha: number, sigma: number): number {
  return f(f(Math.log(alpha)) - f(Math.log(sigma)));
}

/** diffusers `index_for_timestep`: the second match if `t` occurs twice, the last index if absent. */
function initialIndex(timesteps: number[], t: number): number {
  const matches = timesteps.flatMap((v, i) => (v === t ? [i] : []));
  if (matches.length === 0) return timesteps.length - 1;
  return matches.length > 1 ? matches[1] : matches[0];
}
