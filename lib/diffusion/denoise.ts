/**
 * The denoising loop, as diffusers' `HunyuanDiTPipeline.__call__` runs it: latents drawn from the
 * seeded torch-compatible generator, then per timestep the DiT on the CFG batch [uncond; cond],
 * guidance on the first `in_channels` output channels, and one scheduler step. The step noise is
 * drawn while the engine runs, and every buffer is allocated once per call, not per step.
 *
 * @module
 */

import {
  asFloat32,
  type Engine,
  floatTensor,
  inputType,
  intTensor,
  type Tensor,
} from "../engine/mod.ts";
import type { DitConfig } from "../onnx/mod.ts";
import { imageMetaSize, type MetaSizeOrder, styleInput, timestepInput } from "./conditioning.ts";
import { combineGuidance } from "./guidance.ts";
import { createGenerator } from "./noise.ts";
import { ropeTables } from "./rope.ts";
import { createScheduler, type SchedulerKind } from "./schedulers.ts";

/** Image pixels per latent pixel. */
export const VAE_FACTOR = 8;

/** The DiT engine with its parsed config, and the checkpoint's scheduler_config.json. */
export interface DenoiseModel {
  dit: Engine;
  config: DitConfig;
  schedulerConfig: Record<string, unknown>;
}

/** One loop: a validated size, the sampling settings and the text feeds of the CFG batch. */
export interface DenoiseInput {
  /** Image height and width in pixels (multiples of 8 × patch size). */
  height: number;
  width: number;
  steps: number;
  /** Classifier-free guidance runs when this is above 1 (the text feeds then hold 2 rows). */
  guidanceScale: number;
  guidanceRescale: number;
  seed: number;
  sampler: SchedulerKind;
  /** DDIM only: eta in [0, 1]. */
  eta: number;
  /** v1.0/v1.1 `image_meta_size` order. */
  metaSizeOrder?: MetaSizeOrder;
  /** The DiT's text feeds (prompt_encoding.ts). */
  text: Record<string, Tensor>;
}

/** Progress and cancellation of one loop. */
export interface DenoiseHooks {
  /**
   * Called after each step with the 1-based step number, the total, and the scheduler's predicted
   * final latents (valid only during the call).
   */
  onStep?: (step: number, total: number, predicted?: Float32Array) => void;
  /** Checked before every step; an aborted signal ends the loop with its reason (an AbortError). */
  signal?: AbortSignal;
}

/** The final latents [1, in_channels, height/8, width/8] and the time spent inside the DiT. */
export interface DenoiseResult {
  latents: Float32Array;
  /** Milliseconds from each DiT run's call to its result, summed. */
  transformerMs: number;
}

/** The per-size inputs of the DiT: RoPE tables, and image_meta_size + style for v1.0/v1.1. */
function sizeFeeds(model: DenoiseModel, input: DenoiseInput, batch: number) {
  const { dit, config } = model;
  const rope = ropeTables(input.height, input.width, {
    headDim: config.headDim,
    patchSize: config.patch,
  });
  const ropeDims = [rope.gridH * rope.gridW, config.headDim];
  const feeds: Record<string, Tensor> = {
    cos_cis_img: floatTensor(rope.cos, ropeDims, inputType(dit, "cos_cis_img")),
    sin_cis_img: floatTensor(rope.sin, ropeDims, inputType(dit, "sin_cis_img")),
  };
  if (config.styleAndMeta) {
    const meta = imageMetaSize(input.width, input.height, { order: input.metaSizeOrder, batch });
    feeds.image_meta_size = floatTensor(meta, [batch, 6], inputType(dit, "image_meta_size"));
    const style = Int32Array.from(styleInput(batch), Number);
    feeds.style = intTensor(style, [batch], inputType(dit, "style"));
  }
  return feeds;
}

/** Runs the whole loop and returns the final latents. */
export async function denoise(
  model: DenoiseModel,
  input: DenoiseInput,
  hooks: DenoiseHooks = {},
): Promise<DenoiseResult> {
  const { dit, config } = model;
  const cfg = input.guidanceScale > 1;
  const batch = cfg ? 2 : 1;
  const channels = config.inChannels;
  const h = input.height / VAE_FACTOR;
  const w = input.width / VAE_FACTOR;
  const plane = channels * h * w;
  const fixed = { ...input.text, ...sizeFeeds(model, input, batch) };

  const scheduler = createScheduler(model.schedulerConfig, input.sampler);
  const timesteps = scheduler.setTimesteps(input.steps);
  const generator = createGenerator(input.seed);
  const latents = generator.randn(plane);
  const xIn = new Float32Array(batch * plane);
  const guided = new Float32Array(plane);
  const predOriginal = new Float32Array(plane);
  const tIn = new Float32Array(batch);
  const xType = inputType(dit, "x");
  const tType = inputType(dit, "t");
  let transformerMs = 0;

  for (const [i, t] of timesteps.entries()) {
    hooks.signal?.throwIfAborted();
    for (let b = 0; b < batch; b++) xIn.set(latents, b * plane);
    const runStart = performance.now();
    const pending = dit.run({
      x: floatTensor(xIn, [batch, channels, h, w], xType),
      t: floatTensor(timestepInput(t, batch, tIn), [batch], tType),
      ...fixed,
    }).then((r) => {
      transformerMs += performance.now() - runStart;
      return r;
    });
    // The step noise is the generator's next draw either way; drawing it while the engine
    // runs on its own thread hides its cost (milliseconds at 1024x1024).
    const needsNoise = (scheduler.kind === "ddpm" && t > 0) ||
      (scheduler.kind === "ddim" && input.eta > 0);
    const noise = needsNoise ? generator.randn(plane) : undefined;
    const out = await pending;
    const raw = asFloat32(out.output);
    const modelOutput = cfg
      ? combineGuidance(raw, [2, out.output.dims[1], h, w], {
        guidanceScale: input.guidanceScale,
        guidanceRescale: input.guidanceRescale,
        keepChannels: channels,
        out: guided,
      })
      : raw.subarray(0, plane);
    scheduler.step(modelOutput, t, latents, {
      noise,
      eta: input.eta,
      out: latents,
      predOriginalOut: predOriginal,
    });
    hooks.onStep?.(i + 1, timesteps.length, predOriginal);
  }
  return { latents, transformerMs };
}
