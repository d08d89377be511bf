/**
 * The text-to-image pipeline: tokenizers -> text encoders -> DiT denoising loop with classifier-free
 * guidance -> VAE decoder -> RGB bytes, on any engine backend. It reproduces diffusers'
 * `HunyuanDiTPipeline` step for step (same prompt batching [negative; positive], same noise draws from
 * a torch-compatible CPU generator, same scheduler arithmetic, same 8-bit rounding). This module
 * loads and orchestrates; prompt_encoding.ts, denoise.ts and postprocess.ts do the work.
 *
 * @module
 */

import {
  asFloat32,
  type Backend,
  type Engine,
  type EngineSet,
  floatTensor,
  inputType,
  loadEngineSet,
} from "../engine/mod.ts";
import { type DitConfig, parseDitConfig } from "../onnx/mod.ts";
import { loadBertTokenizer, loadSentencePiece } from "../text/mod.ts";
import type { MetaSizeOrder } from "./conditioning.ts";
import { denoise, type DenoiseHooks, VAE_FACTOR } from "./denoise.ts";
import { toRgb8 } from "./postprocess.ts";
import { addDecode, emptyFit, type PreviewImage, projectLatents, solveFit } from "./preview.ts";
import { encodePrompts, type PromptTokenizer } from "./prompt_encoding.ts";
import { binResolution, type SizeLimits, validateSize } from "./resolution.ts";
import type { SchedulerKind } from "./schedulers.ts";

/** One generation request (sizes in pixels). */
export interface GenerationRequest {
  prompt: string;
  /** Defaults to "" like diffusers. */
  negativePrompt?: string;
  height: number;
  width: number;
  steps: number;
  guidanceScale: number;
  guidanceRescale?: number;
  seed: number;
  sampler?: SchedulerKind;
  /** Map a non-standard size to the nearest standard one (diffusers' default: true). */
  resolutionBinning?: boolean;
  /** DDIM only: eta in [0, 1] (default 0). */
  eta?: number;
}

/**
 * Progress and cancellation hooks for one generation (after each step; abort before each step), and
 * a live preview: a small RGB image of the picture so far, before each step's `onStep` (none until
 * the pipeline has decoded once, see preview.ts).
 */
export type GenerateOptions = DenoiseHooks & {
  onPreview?: (step: number, preview: PreviewImage) => void;
};

/** Longest side of a live preview, in pixels. */
const PREVIEW_SIDE = 64;

/** A finished generation. */
export interface GenerationResult {
  /** HWC RGB bytes. */
  image: Uint8Array;
  height: number;
  width: number;
  /** Final latents [1, 4, height/8, width/8] (before the VAE scaling). */
  latents: Float32Array;
  /** Wall-clock milliseconds per phase of this generation. */
  timings?: GenerationTimings;
}

/** Where one generation spent its time (milliseconds, `performance.now()` wall clock). */
export interface GenerationTimings {
  /** Tokenizers and both text encoders. */
  text: number;
  /** The whole denoising loop. */
  denoise: number;
  /** Part of `denoise` from each DiT run's call to its result (the rest is host work per step). */
  transformer: number;
  /** VAE decoder and the conversion to 8-bit RGB. */
  decode: number;
}

/** What the pipeline reports about itself (for /readyz). */
export interface PipelineDescription {
  backend: string;
  modelVersion: string;
  precision: string;
  /** Size limits the pipeline accepts. */
  sizes: Required<SizeLimits>;
  engines: Record<string, string>;
}

/** A loaded pipeline. */
export interface Pipeline {
  generate(request: GenerationRequest, opts?: GenerateOptions): Promise<GenerationResult>;
  describe(): PipelineDescription;
  close(): Promise<void>;
}

/** Options for {@link loadPipeline}. */
export interface PipelineOptions {
  /** Runtime for the engines (pick one with `probeBackend`). @default "onnx" */
  backend?: Backend;
  /** ONNX Runtime intra-op threads (0 = default). */
  threads?: number;
  /** Path of libhydit_trt.so; required for the tensorrt backend (`Config.trtShim`). */
  trtShim?: string;
  /** v1.0/v1.1 image_meta_size order; default the order the checkpoints were trained with (width-first). */
  metaSizeOrder?: MetaSizeOrder;
  /** Accepted image sizes; defaults: 64..2048, multiples of 16. */
  sizeLimits?: SizeLimits;
}

/** Loads the engines, tokenizers and scheduler config that `engines:build` wrote to `engineDir`. */
export async function loadPipeline(
  engineDir: string,
  opts: PipelineOptions = {},
): Promise<Pipeline> {
  const set = await loadEngineSet(engineDir, {
    backend: opts.backend,
    threads: opts.threads,
    trtShim: opts.trtShim,
  });
  try {
    const m = set.manifest;
    if (!m.tokenizers.bert || !m.tokenizers.mt5 || !m.scheduler) {
      throw new Error(
        `${engineDir}: engine folder lacks tokenizers or scheduler (built with --only?)`,
      );
    }
    const bert = await loadBertTokenizer(`${engineDir}/${m.tokenizers.bert.vocab}`);
    const mt5 = await loadSentencePiece(`${engineDir}/${m.tokenizers.mt5.spiece}`);
    return createPipeline(set, { bert, mt5, schedulerConfig: m.scheduler.config }, opts);
  } catch (e) {
    await set.close();
    throw e;
  }
}

interface Tokenizers {
  bert: PromptTokenizer;
  mt5: PromptTokenizer;
  schedulerConfig: Record<string, unknown>;
}

/** The VAE's `scaling_factor`, which the latents are divided by before decoding. */
function scalingFactorOf(config: Record<string, unknown>): number {
  const factor = config.scaling_factor;
  if (typeof factor !== "number" || !(factor > 0)) {
    throw new Error(
      `Cannot load the pipeline: vae config key "scaling_factor" must be a positive number, got ${
        JSON.stringify(factor)
      }`,
    );
  }
  return factor;
}

/** Decodes final latents to HWC RGB bytes. */
async function decode(
  vae: Engine,
  latents: Float32Array,
  size: { channels: number; height: number; width: number; scalingFactor: number },
): Promise<Uint8Array> {
  // torch divides an fp32 tensor by a Python float in fp32: round the factor first.
  const factor = Math.fround(size.scalingFactor);
  const scaled = latents.map((v) => v / factor);
  const dims = [1, size.channels, size.height / VAE_FACTOR, size.width / VAE_FACTOR];
  const decoded = await vae.run({ latent: floatTensor(scaled, dims, inputType(vae, "latent")) });
  return toRgb8(asFloat32(decoded.sample), size.height, size.width);
}

function createPipeline(set: EngineSet, tk: Tokenizers, opts: PipelineOptions): Pipeline {
  const engines = {
    transformer: set.get("transformer"),
    text_encoder: set.get("text_encoder"),
    text_encoder_2: set.get("text_encoder_2"),
    vae: set.get("vae"),
  };
  const dit = engines.transformer;
  const config: DitConfig = parseDitConfig(set.manifest.components.transformer!.config);
  const scalingFactor = scalingFactorOf(set.manifest.components.vae!.config);
  const encoders = {
    bert: tk.bert,
    mt5: tk.mt5,
    clip: engines.text_encoder,
    t5: engines.text_encoder_2,
    dit,
  };
  const previewFit = emptyFit(config.inChannels);
  const limits: Required<SizeLimits> = {
    min: opts.sizeLimits?.min ?? 64,
    max: opts.sizeLimits?.max ?? 2048,
    multipleOf: opts.sizeLimits?.multipleOf ?? VAE_FACTOR * config.patch,
  };

  async function generate(
    req: GenerationRequest,
    gopts: GenerateOptions = {},
  ): Promise<GenerationResult> {
    const requested = { width: req.width, height: req.height };
    validateSize(requested, limits);
    const { width, height } = req.resolutionBinning ?? true ? binResolution(requested) : requested;
    if (!Number.isInteger(req.steps) || req.steps < 1) {
      throw new RangeError(`steps must be a positive integer, got ${req.steps}`);
    }
    gopts.signal?.throwIfAborted();
    const cfg = req.guidanceScale > 1;
    const prompts = cfg ? [req.negativePrompt ?? "", req.prompt] : [req.prompt];
    const started = performance.now();
    const text = await encodePrompts(encoders, prompts);
    const denoiseStart = performance.now();
    const projection = gopts.onPreview ? solveFit(previewFit) : null;
    const latentSize = { height: height / VAE_FACTOR, width: width / VAE_FACTOR };
    const hooks: DenoiseHooks = {
      signal: gopts.signal,
      onStep: (step, total, predicted) => {
        if (projection && predicted) {
          const size = { ...latentSize, maxSide: PREVIEW_SIDE };
          gopts.onPreview!(step, projectLatents(projection, predicted, size));
        }
        gopts.onStep?.(step, total, predicted);
      },
    };
    const { latents, transformerMs } = await denoise(
      { dit, config, schedulerConfig: tk.schedulerConfig },
      {
        height,
        width,
        steps: req.steps,
        guidanceScale: req.guidanceScale,
        guidanceRescale: req.guidanceRescale ?? 0,
        seed: req.seed,
        sampler: req.sampler ?? "ddpm",
        eta: req.eta ?? 0,
        metaSizeOrder: opts.metaSizeOrder,
        text,
      },
      hooks,
    );
    const decodeStart = performance.now();
    const size = { channels: config.inChannels, height, width, scalingFactor };
    const image = await decode(engines.vae, latents, size);
    addDecode(previewFit, { latents, channels: config.inChannels, ...latentSize, rgb: image });
    const timings = {
      text: denoiseStart - started,
      denoise: decodeStart - denoiseStart,
      transformer: transformerMs,
      decode: performance.now() - decodeStart,
    };
    return { image, height, width, latents, timings };
  }

  return {
    generate,
    describe: () => ({
      backend: dit.describe().backend,
      modelVersion: set.manifest.modelVersion ?? "unknown",
      precision: set.manifest.precision,
      sizes: limits,
      engines: Object.fromEntries(
        Object.entries(engines).map(([name, engine]) => [name, engine.describe().backend]),
      ),
    }),
    close: () => set.close(),
  };
}
