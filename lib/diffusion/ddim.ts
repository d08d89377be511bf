/**
 * DDIM sampler (diffusers DDIMScheduler, clip_sample false), with eta and caller-supplied variance noise.
 *
 * @module
 */

import { ddpmTimesteps, type ScheduleConfig, type ScheduleTables } from "./betas.ts";
import { checkTimestep, type Scheduler, stepBuffers, type StepOptions } from "./_sampler.ts";
import { add, compileKernel, div, type Expr, input, mul, output, scalar, sub } from "./_f32x4.ts";

const f = Math.fround;

// Kernel inputs: 0 sample, 1 model output, 2 noise (eta > 0). Scalars: 0 sqrt(alpha_bar),
// 1 sqrt(1 - alpha_bar), 2 sqrt(alpha_bar_prev), 3 direction coefficient, 4 std (eta > 0).
// Outputs: 0 x0, 1 x_{t-1}.
const [S, M, NOISE, X0] = [input(0), input(1), input(2), output(0)];
const [SA, SB, C_X0, C_EPS, STD] = [0, 1, 2, 3, 4].map(scalar);
const X0_OF = { epsilon: div(sub(S, mul(SB, M)), SA), v: sub(mul(SA, S), mul(SB, M)) };
const PREV = {
  epsilon: add(mul(C_X0, X0), mul(C_EPS, M)),
  // the direction uses the epsilon recovered from v: sqrt(a) * v + sqrt(1 - a) * sample
  v: add(mul(C_X0, X0), mul(C_EPS, add(mul(SA, M), mul(SB, S)))),
};
const withNoise = (e: Expr) => add(e, mul(STD, NOISE)); // a separate fp32 add, as diffusers
const KERNELS = {
  epsilon: {
    plain: compileKernel(2, 4, [X0_OF.epsilon, PREV.epsilon]),
    noisy: compileKernel(3, 5, [X0_OF.epsilon, withNoise(PREV.epsilon)]),
  },
  v: {
    plain: compileKernel(2, 4, [X0_OF.v, PREV.v]),
    noisy: compileKernel(3, 5, [X0_OF.v, withNoise(PREV.v)]),
  },
};

/**
 * Creates a DDIM sampler. Each step reproduces DDIMScheduler.step op by op in fp32; like DDPM, results agree
 * with diffusers to a few ulps (torch's sqrt differs by 1 ulp at times). With eta > 0 the variance noise comes
 * from `opts.noise` (required).
 * The previous timestep is t - T / steps (integer division), as in diffusers.
 *
 * @param config validated schedule configuration (set_alpha_to_one decides the final alpha_cumprod)
 * @param tables betas / alphas_cumprod of that configuration
 * @returns the sampler
 */
export function createDdim(config: ScheduleConfig, tables: ScheduleTables): Scheduler {
  const ac = tables.alphasCumprod;
  const T = config.numTrainTimesteps;
  const finalAlphaCumprod = config.setAlphaToOne ? 1 : ac[0];
  const epsilon = config.predictionType === "epsilon";
  let stepsPlanned = 0;

  return {
    kind: "ddim",
    setTimesteps(n: number): number[] {
      const timesteps = ddpmTimesteps(config, n);
      stepsPlanned = n;
      return timesteps;
    },
    step(modelOutput: Float32Array, t: number, sample: Float32Array, opts: StepOptions = {}) {
      if (stepsPlanned === 0) throw new Error("Cannot run DDIM step: call setTimesteps first");
      checkTimestep("DDIM", t, T);
      const eta = opts.eta ?? 0;
      if (!(eta >= 0 && eta <= 1)) {
        throw new RangeError(`Cannot run DDIM step: eta must be in [0, 1], got ${eta}`);
      }
      const [out, x0] = stepBuffers("DDIM", modelOutput, sample, opts);
      const noise = opts.noise;
      if (eta > 0 && noise === undefined) {
        throw new TypeError("Cannot run DDIM step: eta > 0 needs opts.noise");
      }
      const prevT = t - Math.floor(T / stepsPlanned);
      const a = ac[t];
      const ap = prevT >= 0 ? ac[prevT] : finalAlphaCumprod;
      const betaProd = f(1 - a);
      const sa = f(Math.sqrt(a));
      const sb = f(Math.sqrt(betaProd));
      const variance = f(f(f(1 - ap) / betaProd) * f(1 - f(a / ap)));
      const std = f(f(eta) * f(Math.sqrt(variance)));
      const cEps = f(Math.sqrt(f(f(1 - ap) - f(std * std))));
      const cX0 = f(Math.sqrt(ap));
      // One fp32 SIMD pass, each op rounded once (bit-identical to Math.fround after every op).
      // `out` may be `sample`.
      const kernels = KERNELS[epsilon ? "epsilon" : "v"];
      if (eta > 0 && noise !== undefined) {
        kernels.noisy([sample, modelOutput, noise], [sa, sb, cX0, cEps, std], [x0, out]);
      } else {
        kernels.plain([sample, modelOutput], [sa, sb, cX0, cEps], [x0, out]);
      }
      return { prevSample: out, predOriginalSample: x0 };
    },
  };
}
