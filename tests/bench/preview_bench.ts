/**
 * Cost of a live preview per step, as the pipeline and the job runner pay it: the latent-to-RGB
 * projection of the predicted latents (128x128 at 1024x1024, 64x64 preview; 16x16 at the bundled
 * model's 128x128) plus its PNG encoding, against the host cost of one CFG + DPM-Solver++ step at
 * 1024x1024 as the baseline.
 */
import { combineGuidance } from "../../lib/diffusion/guidance.ts";
import { addDecode, emptyFit, projectLatents, solveFit } from "../../lib/diffusion/preview.ts";
import { createScheduler } from "../../lib/diffusion/schedulers.ts";
import { encodePngSync } from "../../lib/image/png.ts";

const fit = emptyFit(4);
const rgb = new Uint8Array(128 * 128 * 3).map((_, i) => (i * 7) % 256);
addDecode(fit, {
  latents: new Float32Array(4 * 16 * 16).map((_, i) => Math.sin(i)),
  channels: 4,
  height: 16,
  width: 16,
  rgb,
});
const projection = solveFit(fit)!;

function previewBench(side: number) {
  const latents = new Float32Array(4 * side * side).map((_, i) => Math.sin(i * 0.05));
  return () => {
    const p = projectLatents(projection, latents, { height: side, width: side, maxSide: 64 });
    encodePngSync(p.rgb, p.width, p.height);
  };
}

const config = JSON.parse(
  '{"beta_end":0.03,"beta_schedule":"scaled_linear","beta_start":0.00085,"clip_sample":false,' +
    '"num_train_timesteps":1000,"prediction_type":"v_prediction","set_alpha_to_one":false,' +
    '"steps_offset":1,"timestep_spacing":"leading","variance_type":"fixed_small"}',
);
const scheduler = createScheduler(config, "dpmpp");
const latent = 4 * 128 * 128;
const modelOutput = new Float32Array(2 * 8 * 128 * 128).map((_, i) => Math.sin(i * 0.37));
const sample = new Float32Array(latent).map((_, i) => Math.sin(i * 0.05));
const guided = new Float32Array(latent);
const x0 = new Float32Array(latent);
let timesteps: number[] = [];
let i = 0;

Deno.bench({
  name: "CFG + dpmpp step, 1024x1024 (host)",
  group: "preview",
  baseline: true,
  fn: () => {
    if (i === timesteps.length) [timesteps, i] = [scheduler.setTimesteps(50), 0];
    combineGuidance(modelOutput, [2, 8, 128, 128], { guidanceScale: 5, out: guided });
    scheduler.step(guided, timesteps[i++], sample, { out: sample, predOriginalOut: x0 });
  },
});
Deno.bench({ name: "preview, 1024x1024 -> 64x64 PNG", group: "preview", fn: previewBench(128) });
Deno.bench({ name: "preview, 128x128 -> 16x16 PNG", group: "preview", fn: previewBench(16) });
