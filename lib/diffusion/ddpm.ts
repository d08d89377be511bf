/**
 * DDPM sampler (diffusers DDPMScheduler, variance_type "fixed_small", clip_sample false).
 *
 * @module
 */

import { ddpmTimesteps, type ScheduleConfig, type ScheduleTables } from "./betas.ts";
import { checkTimestep, type Scheduler, stepBuffers, type StepOptions } from "./_sampler.ts";
import { add, compileKernel, div, input, mul, output, scalar, sub } from "./_f32x4.ts";

const f = Math.fround;

// Kernel inputs: 0 sample, 1 model output, 2 noise. Scalars: 0 sqrt(alpha_bar), 1 sqrt(1 - alpha_bar),
// 2 x0 coefficient, 3 sample coefficient, 4 noise std. Outputs: 0 x0, 1 x_{t-1}.
const [S, M, Z] = [input(0), input(1), input(2)];
const [SA, SB, C_X0, C_X, SZ] = [0, 1, 2, 3, 4].map(scalar);
const PREV = add(add(mul(C_X0, output(0)), mul(C_X, S)), mul(SZ, Z));
const KERNELS = {
  epsilon: compileKernel(3, 5, [div(sub(S, mul(SB, M)), SA), PREV]),
  v: compileKernel(3, 5, [sub(mul(SA, S), mul(SB, M)), PREV]),
};

/**
 * Creates a DDPM sampler. Each step reproduces DDPMScheduler.step op by op in fp32 (0-dim fp32 tensors for the
 * coefficients, one rounding per tensor op). Coefficients use correctly rounded sqrt where torch's CPU sqrt is
 * off by 1 ulp in ~20% of cases, so results agree with diffusers to a few ulps (see tests/diffusion).
 * The variance noise, drawn by diffusers from its generator, comes from `opts.noise` and is required for t > 0.
 *
 * @param config validated schedule configuration
 * @param tables betas / alphas_cumprod of that configuration
 * @returns the sampler
 */
export function createDdpm(config: ScheduleConfig, tables: ScheduleTables): Scheduler {
  const ac = tables.alphasCumprod;
  const T = config.numTrainTimesteps;
  const epsilon = config.predictionType === "epsilon";
  let timesteps: number[] = [];
  let indexOf = new Map<number, number>();
  let zeroNoise = new Float32Array(0);

  return {
    kind: "ddpm",
    setTimesteps(n: number): number[] {
      timesteps = ddpmTimesteps(config, n);
      indexOf = new Map(timesteps.map((t, i) => [t, i]));
      return timesteps.slice();
    },
    step(modelOutput: Float32Array, t: number, sample: Float32Array, opts: StepOptions = {}) {
      checkTimestep("DDPM", t, T);
      const i = indexOf.get(t);
      if (i === undefined) {
        throw new RangeError(
          `Cannot run DDPM step: timestep ${t} is not in the planned schedule (call setTimesteps first)`,
        );
      }
      const [out, x0] = stepBuffers("DDPM", modelOutput, sample, opts);
      const noise = opts.noise;
      if (t > 0 && noise === undefined) {
        throw new TypeError(`Cannot run DDPM step: timestep ${t} > 0 needs opts.noise`);
      }
      const prevT = i === timesteps.length - 1 ? -1 : timesteps[i + 1];
      const a = ac[t];
      const ap = prevT >= 0 ? ac[prevT] : 1;
      const betaProd = f(1 - a);
      const betaProdPrev = f(1 - ap);
      const curAlpha = f(a / ap);
      const curBeta = f(1 - curAlpha);
      const sa = f(Math.sqrt(a));
      const sb = f(Math.sqrt(betaProd));
      const cX0 = f(f(f(Math.sqrt(ap)) * curBeta) / betaProd);
      const cX = f(f(f(Math.sqrt(curAlpha)) * betaProdPrev) / betaProd);
      const variance = Math.max(f(f(betaProdPrev / betaProd) * curBeta), f(1e-20));
      const sv = f(Math.sqrt(variance));
      // One fp32 SIMD pass, each op rounded once (bit-identical to Math.fround after every op).
      // `out` may be `sample`.
      const n = sample.length;
      // Without noise (t = 0) add 0 * zeros: x + 0 = x, which keeps one kernel per prediction type.
      const useNoise = noise !== undefined && t > 0;
      if (!useNoise && zeroNoise.length !== n) zeroNoise = new Float32Array(n);
      const zz = useNoise ? noise : zeroNoise;
      const sz = useNoise ? sv : 0;
      KERNELS[epsilon ? "epsilon" : "v"]([sample, modelOutput, zz], [sa, sb, cX0, cX, sz], [
        x0,
        out,
      ]);
      return { prevSample: out, predOriginalSample: x0 };
    },
  };
}
