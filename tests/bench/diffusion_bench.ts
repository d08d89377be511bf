/**
 * Host-side cost of the diffusion loop at 1024x1024: per step, CFG combine of the DiT output [2, 8, 128, 128]
 * (channels 0..3 kept) plus one scheduler step on [1, 4, 128, 128], all into reused buffers; and RoPE tables
 * at 1280x1280, cold (built fresh) and cached. The noise draw for DDPM is not included (pre-drawn here).
 */

import { combineGuidance } from "../../lib/diffusion/guidance.ts";
import { ropeTables } from "../../lib/diffusion/rope.ts";
import { createScheduler, type SchedulerKind } from "../../lib/diffusion/schedulers.ts";

const config = JSON.parse(
  '{"_class_name":"DDPMScheduler","beta_end":0.03,"beta_schedule":"scaled_linear","beta_start":0.00085,' +
    '"clip_sample":false,"num_train_timesteps":1000,"prediction_type":"v_prediction","set_alpha_to_one":false,' +
    '"steps_offset":1,"timestep_spacing":"leading","variance_type":"fixed_small"}',
);
const shape = [2, 8, 128, 128] as const;
const latent = 4 * 128 * 128;
const modelOutput = new Float32Array(2 * 8 * 128 * 128).map((_, i) => Math.sin(i * 0.37));
const noise = new Float32Array(latent).map((_, i) => Math.cos(i * 0.11));
const guided = new Float32Array(latent);
const x0 = new Float32Array(latent);

function stepBench(kind: SchedulerKind, guidanceRescale: number) {
  const scheduler = createScheduler(config, kind);
  const sample = new Float32Array(latent).map((_, i) => Math.sin(i * 0.05));
  let timesteps: number[] = [];
  let i = 0;
  return () => {
    if (i === timesteps.length) {
      timesteps = scheduler.setTimesteps(50);
      i = 0;
    }
    combineGuidance(modelOutput, shape, { guidanceScale: 5, guidanceRescale, out: guided });
    scheduler.step(guided, timesteps[i++], sample, { noise, out: sample, predOriginalOut: x0 });
  };
}

for (const kind of ["ddpm", "ddim", "dpmpp"] as const) {
  Deno.bench({ name: `CFG + ${kind} step, 1024x1024`, group: "step", fn: stepBench(kind, 0) });
}
Deno.bench({
  name: "CFG (rescale 0.7) + ddpm step, 1024x1024",
  group: "step",
  fn: stepBench("ddpm", 0.7),
});

Deno.bench({
  name: "ropeTables 1280x1280 cold",
  group: "rope",
  fn: () => {
    ropeTables(1280, 1280, { cache: false });
  },
});
Deno.bench({
  name: "ropeTables 1280x1280 cached",
  group: "rope",
  fn: () => {
    ropeTables(1280, 1280);
  },
});
