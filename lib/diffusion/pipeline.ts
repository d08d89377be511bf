/**
 * The text-to-image pipeline: tokenizers -> text encoders -> DiT denoising loop with classifier-free
 * guidance -> VAE decoder -> RGB bytes, on any engine backend. It reproduces diffusers'
 * `HunyuanDiTPipeline` step for step (same prompt batching [negative; positive], same noise draws from
 * a torch-compatible CPU generator, same scheduler arithmetic, same 8-bit rounding).
 */

import type { Engine, Tensor } from "../engine/engine.ts";
import {
  asFloat32,
  convertFloat,
  floatTensor,
  hasInput,
  inputType,
  intTensor,
} from "../engine/tensors.ts";
import type { BertTokenizer } from "../text/bert_wordpiece.ts";
import { loadBertTokenizer } from "../text/bert_wordpiece.ts";
import { loadSentencePiece } from "../text/sentencepiece.ts";
import { combineGuidance } from "./guidance.ts";
import { imageMetaSize, type MetaSizeOrder, styleInput } from "./conditioning.ts";
import { createGenerator } from "./noise.ts";
import { toRgb8 } from "./postprocess.ts";
import { binResolution, type SizeLimits, validateSize } from "./resolution.ts";
import { ropeTables } from "./rope.ts";
import { createScheduler, type SchedulerKind } from "./schedulers.ts";
import type { Backend } from "../engine/engine.ts";
import { type EngineSet, loadEngineSet } from "../engine/engine_set.ts";

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

/** Progress and cancellation hooks for one generation. */
export interface GenerateOptions {
  /** Called after each denoising step with the 1-based step number and the total. */
  onStep?: (step: number, total: number) => void;
  /** Checked before every step; an aborted signal ends the run with its reason (an AbortError). */
  signal?: AbortSignal;
}

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

const BERT_LENGTH = 77;
const T5_LENGTH = 256;
const VAE_FACTOR = 8;

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
  bert: BertTokenizer;
  mt5: { encode(text: string, maxLength: number): { ids: Int32Array; mask: Int32Array } };
  schedulerConfig: Record<string, unknown>;
}

/** Stacks per-row token ids/masks into one [rows, length] array. */
function stack(rows: Int32Array[]): Int32Array {
  const out = new Int32Array(rows.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const r of rows) {
    out.set(r, at);
    at += r.length;
  }
  return out;
}

function createPipeline(set: EngineSet, tk: Tokenizers, opts: PipelineOptions): Pipeline {
  const dit = set.get("transformer");
  const clip = set.get("text_encoder");
  const t5 = set.get("text_encoder_2");
  const vae = set.get("vae");
  const ditConfig = set.manifest.components.transformer!.config;
  const vaeConfig = set.manifest.components.vae!.config;
  const heads = Number(ditConfig.num_attention_heads);
  const headDim = Number(ditConfig.attention_head_dim);
  const patchSize = Number(ditConfig.patch_size ?? 2);
  const inChannels = Number(ditConfig.in_channels ?? 4);
  const scalingFactor = Number(vaeConfig.scaling_factor);
  const metaSize = hasInput(dit, "image_meta_size");
  const limits: Required<SizeLimits> = {
    min: opts.sizeLimits?.min ?? 64,
    max: opts.sizeLimits?.max ?? 2048,
    multipleOf: opts.sizeLimits?.multipleOf ?? VAE_FACTOR * patchSize,
  };
  if (!(heads > 0 && headDim > 0 && scalingFactor > 0)) {
    throw new Error(
      "manifest configs lack num_attention_heads, attention_head_dim or scaling_factor",
    );
  }

  /** Runs one text encoder on tokenized prompts; returns its states and the mask, typed for the DiT. */
  async function encode(
    engine: Engine,
    rows: { ids: Int32Array; mask: Int32Array }[],
    length: number,
    names: [states: string, mask: string],
  ): Promise<Record<string, Tensor>> {
    const dims = [rows.length, length];
    const mask = stack(rows.map((r) => r.mask));
    const out = await engine.run({
      input_ids: intTensor(stack(rows.map((r) => r.ids)), dims, inputType(engine, "input_ids")),
      attention_mask: intTensor(mask, dims, inputType(engine, "attention_mask")),
    });
    return {
      [names[0]]: convertFloat(out.last_hidden_state, inputType(dit, names[0])),
      [names[1]]: intTensor(mask, dims, inputType(dit, names[1])),
    };
  }

  /** Tokenizes and encodes the prompts (one row each) for both text encoders. */
  async function encodeText(prompts: string[]): Promise<Record<string, Tensor>> {
    const [clipFeeds, t5Feeds] = await Promise.all([
      encode(clip, prompts.map((p) => tk.bert.encode(p, BERT_LENGTH)), BERT_LENGTH, [
        "encoder_hidden_states",
        "text_embedding_mask",
      ]),
      encode(t5, prompts.map((p) => tk.mt5.encode(p, T5_LENGTH)), T5_LENGTH, [
        "encoder_hidden_states_t5",
        "text_embedding_mask_t5",
      ]),
    ]);
    return { ...clipFeeds, ...t5Feeds };
  }

  async function generate(
    req: GenerationRequest,
    gopts: GenerateOptions = {},
  ): Promise<GenerationResult> {
    const requested = { width: req.width, height: req.height };
    validateSize(requested, limits);
    const { width, height } = req.resolutionBinning ?? true ? binResolution(requested) : requested;
    const steps = req.steps;
    if (!Number.isInteger(steps) || steps < 1) {
      throw new RangeError(`steps must be a positive integer, got ${steps}`);
    }
    const cfg = req.guidanceScale > 1;
    const batch = cfg ? 2 : 1;
    gopts.signal?.throwIfAborted();

    const prompts = cfg ? [req.negativePrompt ?? "", req.prompt] : [req.prompt];
    const started = performance.now();
    const text = await encodeText(prompts);
    const denoiseStart = performance.now();
    let transformerMs = 0;

    const h = height / VAE_FACTOR;
    const w = width / VAE_FACTOR;
    const plane = inChannels * h * w;
    const rope = ropeTables(height, width, { headDim, patchSize });
    const ropeFeeds = {
      cos_cis_img: floatTensor(
        rope.cos,
        [rope.gridH * rope.gridW, headDim],
        inputType(dit, "cos_cis_img"),
      ),
      sin_cis_img: floatTensor(
        rope.sin,
        [rope.gridH * rope.gridW, headDim],
        inputType(dit, "sin_cis_img"),
      ),
    };
    const condFeeds: Record<string, Tensor> = metaSize
      ? {
        image_meta_size: floatTensor(
          imageMetaSize(width, height, { order: opts.metaSizeOrder, batch }),
          [batch, 6],
          inputType(dit, "image_meta_size"),
        ),
        style: intTensor(
          Int32Array.from(styleInput(batch), Number),
          [batch],
          inputType(dit, "style"),
        ),
      }
      : {};

    const scheduler = createScheduler(tk.schedulerConfig, req.sampler ?? "ddpm");
    const timesteps = scheduler.setTimesteps(steps);
    const generator = createGenerator(req.seed);
    const latents = generator.randn(plane);
    const xIn = new Float32Array(batch * plane);
    const guided = new Float32Array(plane);
    const predOriginal = new Float32Array(plane);
    const xType = inputType(dit, "x");
    const tType = inputType(dit, "t");
    const eta = req.eta ?? 0;

    for (const [i, t] of timesteps.entries()) {
      gopts.signal?.throwIfAborted();
      for (let b = 0; b < batch; b++) xIn.set(latents, b * plane);
      const runStart = performance.now();
      const pending = dit.run({
        x: floatTensor(xIn, [batch, inChannels, h, w], xType),
        t: floatTensor(new Float32Array(batch).fill(t), [batch], tType),
        ...text,
        ...condFeeds,
        ...ropeFeeds,
      }).then((r) => {
        transformerMs += performance.now() - runStart;
        return r;
      });
      // The step noise is the generator's next draw either way; drawing it while the engine
      // runs on its own thread hides its cost (milliseconds at 1024x1024).
      const needsNoise = (scheduler.kind === "ddpm" && t > 0) ||
        (scheduler.kind === "ddim" && eta > 0);
      const noise = needsNoise ? generator.randn(plane) : undefined;
      const out = await pending;
      const raw = asFloat32(out.output);
      const outChannels = out.output.dims[1];
      let modelOutput: Float32Array;
      if (cfg) {
        modelOutput = combineGuidance(raw, [2, outChannels, h, w], {
          guidanceScale: req.guidanceScale,
          guidanceRescale: req.guidanceRescale ?? 0,
          keepChannels: inChannels,
          out: guided,
        });
      } else {
        modelOutput = raw.subarray(0, plane);
      }
      scheduler.step(modelOutput, t, latents, {
        noise,
        eta,
        out: latents,
        predOriginalOut: predOriginal,
      });
      gopts.onStep?.(i + 1, timesteps.length);
    }

    const decodeStart = performance.now();
    // torch divides an fp32 tensor by a Python float in fp32: round the factor first.
    const factor = Math.fround(scalingFactor);
    const scaled = latents.map((v) => v / factor);
    const decoded = await vae.run({
      latent: floatTensor(scaled, [1, inChannels, h, w], inputType(vae, "latent")),
    });
    const image = toRgb8(asFloat32(decoded.sample), height, width);
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
        ([["transformer", dit], ["text_encoder", clip], ["text_encoder_2", t5], [
          "vae",
          vae,
        ]] as const)
          .map(([k, e]) => [k, e.describe().backend]),
      ),
    }),
    close: () => set.close(),
  };
}
