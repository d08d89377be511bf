/**
 * TensorRT optimization profiles and `trtexec` command lines for the four networks: the min/opt/max
 * shape of every dynamic input, decided by the graph's role, and the exact arguments of a strongly
 * typed build. Pure functions; engines/trt_plan.ts runs the commands.
 *
 * @module
 */

import { GRAPH_NAMES, type GraphName, planFile, type TensorSpec } from "../lib/engine/mod.ts";

/** One ONNX graph to compile, with the IO contract the manifest records for it (-1 = dynamic). */
export interface PlanSource {
  component: GraphName;
  /** Path of the ONNX file (its external weights sit beside it). */
  onnx: string;
  inputs: readonly TensorSpec[];
}

/** Image sizes and batch limits the profiles cover. */
export interface PlanShapeOptions {
  /** Smallest image side in pixels, a multiple of 8 × patch size. @default 768 */
  minSide: number;
  /** Largest image side in pixels, a multiple of 8 × patch size. @default 1280 */
  maxSide: number;
  /** Image height the kernels are tuned for. @default 1024 */
  optHeight: number;
  /** Image width the kernels are tuned for. @default 1024 */
  optWidth: number;
  /** Images per request; the DiT runs at batch 2 × images (CFG pairs). @default 1 */
  maxImages: number;
  /** DiT patch size (config.json `patch_size`); RoPE tables have (H/8/p)·(W/8/p) rows. @default 2 */
  patchSize: number;
  /** CLIP/BERT token length. @default 77 */
  textLength: number;
  /** mT5 token length. @default 256 */
  t5Length: number;
}

/** Options of a plan build; every field has a default. */
export interface TrtPlanOptions extends Partial<PlanShapeOptions> {
  /** trtexec executable. @default `TRTEXEC` from the environment, else "trtexec" on PATH */
  trtexec?: string;
  /** Timing cache file, loaded and saved by every build. @default "<engineDir>/timing.cache" */
  timingCache?: string;
  /** Builder workspace limit in MiB; unset leaves TensorRT's default (device memory). */
  workspaceMiB?: number;
  /** Builder optimization level 0..5; unset leaves trtexec's default (3). */
  optimizationLevel?: number;
  /** CUDA device ordinal to build on. @default 0 */
  device?: number;
  /** Allow TF32 in fp32 layers; false passes `--noTF32`. @default true */
  tf32?: boolean;
}

/** Minimum, optimum and maximum shape of one input. */
export interface InputProfile {
  min: number[];
  opt: number[];
  max: number[];
}

/** One trtexec invocation. */
export interface PlanCommand {
  component: GraphName;
  program: string;
  args: string[];
  onnx: string;
  plan: string;
}

/** Default profile sizes: 768..1280 px, tuned for 1024², one image (DiT batch 2). */
export const DEFAULT_PLAN_SHAPES: Readonly<PlanShapeOptions> = {
  minSide: 768,
  maxSide: 1280,
  optHeight: 1024,
  optWidth: 1024,
  maxImages: 1,
  patchSize: 2,
  textLength: 77,
  t5Length: 256,
};

const VAE_FACTOR = 8;

/** Fills defaults and checks that sizes are usable multiples; throws RangeError otherwise. */
export function resolvePlanShapes(options: Partial<PlanShapeOptions> = {}): PlanShapeOptions {
  const s: PlanShapeOptions = { ...DEFAULT_PLAN_SHAPES };
  for (const key of Object.keys(DEFAULT_PLAN_SHAPES) as (keyof PlanShapeOptions)[]) {
    const value = options[key];
    if (value !== undefined) s[key] = value;
  }
  for (const [key, value] of Object.entries(s)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(
        `Cannot plan TensorRT profiles: ${key} must be a positive integer, got ${value}`,
      );
    }
  }
  const step = VAE_FACTOR * s.patchSize;
  for (const key of ["minSide", "maxSide", "optHeight", "optWidth"] as const) {
    if (s[key] % step !== 0) {
      throw new RangeError(
        `Cannot plan TensorRT profiles: ${key} must be a multiple of ${step}, got ${s[key]}`,
      );
    }
  }
  if (s.minSide > s.maxSide) {
    throw new RangeError(
      `Cannot plan TensorRT profiles: minSide ${s.minSide} is larger than maxSide ${s.maxSide}`,
    );
  }
  for (const key of ["optHeight", "optWidth"] as const) {
    if (s[key] < s.minSide || s[key] > s.maxSide) {
      throw new RangeError(
        `Cannot plan TensorRT profiles: ${key} ${s[key]} is outside ${s.minSide}..${s.maxSide}`,
      );
    }
  }
  return s;
}

type Range = [min: number, opt: number, max: number];

/** The range of one dynamic dimension, decided by the component's role and the input's position. */
function dimRange(
  component: GraphName,
  input: TensorSpec,
  axis: number,
  s: PlanShapeOptions,
): Range | undefined {
  const latent = (side: number) => side / VAE_FACTOR;
  const tokens = (h: number, w: number) =>
    (h / VAE_FACTOR / s.patchSize) * (w / VAE_FACTOR / s.patchSize);
  const latentH: Range = [latent(s.minSide), latent(s.optHeight), latent(s.maxSide)];
  const latentW: Range = [latent(s.minSide), latent(s.optWidth), latent(s.maxSide)];
  switch (component) {
    case "transformer": {
      if (input.name === "cos_cis_img" || input.name === "sin_cis_img") {
        if (axis !== 0) return undefined;
        return [
          tokens(s.minSide, s.minSide),
          tokens(s.optHeight, s.optWidth),
          tokens(s.maxSide, s.maxSide),
        ];
      }
      if (axis === 0) return [2, 2, 2 * s.maxImages];
      if (input.name === "x" && axis === 2) return latentH;
      if (input.name === "x" && axis === 3) return latentW;
      if (axis === 1 && /^(encoder_hidden_states|text_embedding_mask)$/.test(input.name)) {
        return [s.textLength, s.textLength, s.textLength];
      }
      if (axis === 1 && /^(encoder_hidden_states|text_embedding_mask)_t5$/.test(input.name)) {
        return [s.t5Length, s.t5Length, s.t5Length];
      }
      return undefined;
    }
    case "text_encoder":
    case "text_encoder_2": {
      const length = component === "text_encoder" ? s.textLength : s.t5Length;
      if (axis === 0) return [1, 2, 2 * s.maxImages];
      if (axis === 1 && input.shape.length === 2) return [length, length, length];
      return undefined;
    }
    case "vae_decoder": {
      if (input.shape.length !== 4) return undefined;
      if (axis === 0) return [1, 1, s.maxImages];
      if (axis === 2) return latentH;
      if (axis === 3) return latentW;
      return undefined;
    }
  }
}

/**
 * Optimization profile (min/opt/max) of every input that has a dynamic dimension; static inputs
 * are left out, as trtexec takes them from the graph. Throws when a dynamic dimension has no rule.
 */
export function planProfile(
  source: PlanSource,
  shapes: PlanShapeOptions,
): Record<string, InputProfile> {
  const profiles: Record<string, InputProfile> = {};
  for (const input of source.inputs) {
    if (!input.shape.some((d) => d < 0)) continue;
    const profile: InputProfile = { min: [], opt: [], max: [] };
    input.shape.forEach((d, axis) => {
      const range: Range | undefined = d >= 0
        ? [d, d, d]
        : dimRange(source.component, input, axis, shapes);
      if (range === undefined) {
        throw new RangeError(
          `Cannot plan a TensorRT profile for ${source.component} input "${input.name}": ` +
            `dimension ${axis} of [${input.shape.join(",")}] is dynamic and has no size rule`,
        );
      }
      profile.min.push(range[0]);
      profile.opt.push(range[1]);
      profile.max.push(range[2]);
    });
    profiles[input.name] = profile;
  }
  return profiles;
}

function shapeSpec(profiles: Record<string, InputProfile>, pick: keyof InputProfile): string {
  return Object.entries(profiles).map(([name, p]) => {
    const quoted = /[:,']/.test(name) ? `'${name}'` : name;
    return `${quoted}:${p[pick].join("x")}`;
  }).join(",");
}

/**
 * The trtexec arguments for one graph: strongly typed (required on TensorRT 10, a documented no-op
 * on 11, which is always strongly typed), one profile, the shared timing cache, save and exit.
 */
export function trtexecArgs(
  source: PlanSource,
  plan: string,
  timingCache: string,
  options: TrtPlanOptions = {},
): string[] {
  const profiles = planProfile(source, resolvePlanShapes(options));
  const args = [`--onnx=${source.onnx}`, `--saveEngine=${plan}`, "--stronglyTyped"];
  if (Object.keys(profiles).length > 0) {
    args.push(
      `--minShapes=${shapeSpec(profiles, "min")}`,
      `--optShapes=${shapeSpec(profiles, "opt")}`,
      `--maxShapes=${shapeSpec(profiles, "max")}`,
    );
  }
  args.push(`--timingCacheFile=${timingCache}`);
  if (options.workspaceMiB !== undefined) {
    args.push(`--memPoolSize=workspace:${options.workspaceMiB}M`);
  }
  if (options.optimizationLevel !== undefined) {
    args.push(`--builderOptimizationLevel=${options.optimizationLevel}`);
  }
  if (options.tf32 === false) args.push("--noTF32");
  args.push(`--device=${options.device ?? 0}`, "--skipInference");
  return args;
}

/** trtexec program: the option, else `TRTEXEC`, else "trtexec" from PATH. */
export function trtexecProgram(
  options: TrtPlanOptions = {},
  env: Record<string, string | undefined> = {},
): string {
  return options.trtexec ?? env.TRTEXEC ?? "trtexec";
}

/** The commands that turn `sources` into plans inside `engineDir`, in a fixed component order. */
export function planCommands(
  engineDir: string,
  sources: readonly PlanSource[],
  options: TrtPlanOptions = {},
  env: Record<string, string | undefined> = {},
): PlanCommand[] {
  const program = trtexecProgram(options, env);
  const timingCache = options.timingCache ?? joinPath(engineDir, "timing.cache");
  const ordered = [...sources].sort((a, b) =>
    GRAPH_NAMES.indexOf(a.component) - GRAPH_NAMES.indexOf(b.component)
  );
  return ordered.map((source) => {
    const plan = joinPath(engineDir, planFile(source.component));
    return {
      component: source.component,
      program,
      args: trtexecArgs(source, plan, timingCache, options),
      onnx: source.onnx,
      plan,
    };
  });
}

/** A command as one copy-pasteable shell line (arguments single-quoted where needed). */
export function formatCommand(command: Pick<PlanCommand, "program" | "args">): string {
  const quote = (s: string) => /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
  return [command.program, ...command.args].map(quote).join(" ");
}

/** `file` inside `dir`, whether or not `dir` ends with a slash. */
export function joinPath(dir: string, file: string): string {
  return dir.endsWith("/") ? `${dir}${file}` : `${dir}/${file}`;
}
