/**
 * DDIM sampler (diffusers DDIMScheduler, clip_sample false), with eta and caller-supplied variance noise.
 *
 * @module
 */

import { ddpmTimesteps, type ScheduleConfig, type ScheduleTables } from "./betas.ts";
import { checkTimestep, type Scheduler, stepBuffers, type StepOptions } from "./_sampler.ts";

const f = Math.fround;

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
      // Hot loops: branches hoisted; each fp32 op is one fround, and a store into a Float32Array is the
      // rounding of the last op. `out` may be `sample` (each element is read before it is written).
      const n = sample.length;
      if (epsilon) {
        for (let k = 0; k < n; k++) {
          const s = sample[k];
          const m = modelOutput[k];
          const x = f(f(s - f(sb * m)) / sa);
          x0[k] = x;
          out[k] = f(cX0 * x) + f(cEps * m);
        }
      } else {
        for (let k = 0; k < n; k++) {
          const s = sample[k];
          const m = modelOutput[k];
          const x = f(f(sa * s) - f(sb * m));
          x0[k] = x;
          out[k] = f(cX0 * x) + f(cEps * f(f(sa * m) + f(sb * s)));
        }
      }
      // eta > 0 (rare): the variance term is a separate fp32 add, as in diffusers
      if (eta > 0 && noise !== undefined) {
        for (let k = 0; k < n; k++) out[k] = out[k] + f(std * noise[k]);
      }
      return { prevSample: out, predOriginalSample: x0 };
    },
  };
}
