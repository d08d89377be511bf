/**
 * Layers shared by the network graphs, with the project's precision policy built in: in the fp16
 * profile weights and activations are fp16, while every normalization (LayerNorm, RMSNorm,
 * GroupNorm) and every softmax is computed in fp32 between explicit Cast nodes, so a strongly typed
 * TensorRT build honours exactly these types.
 */

import type { ElemType, Graph } from "./graph.ts";
import { float } from "./graph.ts";
import type { Checkpoint } from "./safetensors.ts";
import { toHalfArray } from "./half.ts";

/** Build precision profile. */
export type Precision = "fp32" | "fp16";

/** The runtime a graph is built for: ONNX Runtime alone, or also compiled by TensorRT. */
export type GraphTarget = "onnxruntime" | "tensorrt";

/** What every layer needs: the graph, the weights and the activation type. */
export interface Ctx {
  g: Graph;
  ckpt: Checkpoint;
  /** Activation/weight element type: float32 or float16. */
  act: ElemType;
  /**
   * Use ONNX Runtime's fused CPU operators (MultiHeadAttention, RotaryEmbedding, FastGelu; domain
   * com.microsoft). Only for fp32 graphs that ONNX Runtime alone runs: TensorRT's parser does not
   * know them, and it fuses the explicit MatMul-Softmax-MatMul form itself (docs/attention.md).
   */
  fused: boolean;
}

/** Creates a layer context for a precision profile and target runtime. */
export function makeCtx(
  g: Graph,
  ckpt: Checkpoint,
  precision: Precision,
  target: GraphTarget = "onnxruntime",
): Ctx {
  const act = precision === "fp16" ? "float16" : "float32";
  return { g, ckpt, act, fused: target === "onnxruntime" && precision === "fp32" };
}

/** Shape of a checkpoint tensor; throws naming the key when absent. */
export function shapeOf(ctx: Ctx, key: string): number[] {
  const e = ctx.ckpt.entries.get(key);
  if (!e) throw new Error(`checkpoint has no tensor "${key}"`);
  return e.shape;
}

/** Shape of a checkpoint tensor, checked against `want` (-1 = any size); throws naming the key. */
export function expectShape(ctx: Ctx, key: string, want: number[]): number[] {
  const got = shapeOf(ctx, key);
  if (got.length !== want.length || got.some((d, i) => want[i] >= 0 && d !== want[i])) {
    throw new Error(
      `tensor "${key}" has shape [${got}], expected [${want.map((d) => d < 0 ? "?" : d)}]`,
    );
  }
  return got;
}

/** True when the checkpoint has the tensor. */
export function has(ctx: Ctx, key: string): boolean {
  return ctx.ckpt.entries.has(key);
}

function transpose2d(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  }
  return out;
}

/** Adds host float data as an initializer of type `type` (float32 or float16). */
export function floatInit(
  ctx: Ctx,
  name: string,
  data: Float32Array,
  dims: number[],
  type: ElemType = ctx.act,
): string {
  return type === "float16"
    ? ctx.g.init(name, toHalfArray(data), dims, "float16")
    : ctx.g.init(name, data, dims, "float32");
}

/** Loads a checkpoint tensor as an initializer (optionally transposed from [out,in] to [in,out]). */
export async function weight(
  ctx: Ctx,
  key: string,
  opts: { transpose?: boolean; type?: ElemType } = {},
): Promise<string> {
  const shape = shapeOf(ctx, key);
  let data = await ctx.ckpt.readFloat32(key);
  let dims = shape;
  if (opts.transpose) {
    if (shape.length !== 2) throw new Error(`"${key}" is ${shape.length}-D, expected a 2-D matrix`);
    data = transpose2d(data, shape[0], shape[1]);
    dims = [shape[1], shape[0]];
  }
  return floatInit(ctx, key + (opts.transpose ? ".T" : ""), data, dims, opts.type ?? ctx.act);
}

/** `x @ W^T + b` for a torch Linear stored at `prefix.weight` / `prefix.bias`. */
export async function linear(ctx: Ctx, x: string, prefix: string): Promise<string> {
  const y = ctx.g.op("MatMul", [x, await weight(ctx, `${prefix}.weight`, { transpose: true })]);
  return has(ctx, `${prefix}.bias`) ? ctx.g.op("Add", [y, await weight(ctx, `${prefix}.bias`)]) : y;
}

/** Casts to `to` unless already that type (`from`). */
export function cast(ctx: Ctx, x: string, from: ElemType, to: ElemType): string {
  return from === to ? x : ctx.g.op("Cast", [x], { to: ELEM[to] });
}

const ELEM: Record<ElemType, number> = { float32: 1, float16: 10, int64: 7, int32: 6, bool: 9 };

/** ONNX element code of a type (for Cast's `to`). */
export function elemCode(type: ElemType): number {
  return ELEM[type];
}

/**
 * LayerNorm over the last axis of width `dim`, computed in fp32. `prefix` names the affine
 * parameters (`.weight`, `.bias`); null means no affine (unit scale, zero shift).
 */
export async function layerNorm(
  ctx: Ctx,
  x: string,
  prefix: string | null,
  dim: number,
  eps: number,
): Promise<string> {
  const scale = prefix
    ? await weight(ctx, `${prefix}.weight`, { type: "float32" })
    : floatInit(ctx, ctx.g.fresh("ln_ones"), ones(dim), [dim], "float32");
  const bias = prefix && has(ctx, `${prefix}.bias`)
    ? await weight(ctx, `${prefix}.bias`, { type: "float32" })
    : floatInit(ctx, scale + "_zeros", new Float32Array(dim), [dim], "float32");
  const x32 = cast(ctx, x, ctx.act, "float32");
  const y = ctx.g.op("LayerNormalization", [x32, scale, bias], { axis: -1, epsilon: float(eps) });
  return cast(ctx, y, "float32", ctx.act);
}

function ones(n: number): Float32Array {
  return new Float32Array(n).fill(1);
}

/** T5 RMSNorm (no mean subtraction, no bias) over the last axis, computed in fp32. */
export async function rmsNorm(ctx: Ctx, x: string, prefix: string, eps: number): Promise<string> {
  const g = ctx.g;
  const x32 = cast(ctx, x, ctx.act, "float32");
  const ms = g.op("ReduceMean", [g.op("Mul", [x32, x32])], { axes: [-1], keepdims: 1 });
  const inv = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [ms, g.scalar(eps, "float32")])])]);
  const y = g.op("Mul", [
    g.op("Mul", [x32, inv]),
    await weight(ctx, `${prefix}.weight`, { type: "float32" }),
  ]);
  return cast(ctx, y, "float32", ctx.act);
}

/**
 * GroupNorm over NCHW input with `groups` groups and affine `prefix.weight/bias`, computed in fp32
 * as InstanceNormalization on a [N, groups, -1] view.
 */
export async function groupNorm(
  ctx: Ctx,
  x: string,
  prefix: string,
  channels: number,
  groups: number,
  eps: number,
): Promise<string> {
  const g = ctx.g;
  const x32 = cast(ctx, x, ctx.act, "float32");
  const grouped = g.op("Reshape", [x32, g.ints([0, groups, -1])]);
  const unitScale = floatInit(ctx, `${prefix}.gn_ones`, ones(groups), [groups], "float32");
  const zeroBias = floatInit(
    ctx,
    `${prefix}.gn_zeros`,
    new Float32Array(groups),
    [groups],
    "float32",
  );
  const normed = g.op("InstanceNormalization", [grouped, unitScale, zeroBias], {
    epsilon: float(eps),
  });
  const back = g.op("Reshape", [normed, g.op("Shape", [x32])]);
  const w = await ctx.ckpt.readFloat32(`${prefix}.weight`);
  const b = await ctx.ckpt.readFloat32(`${prefix}.bias`);
  const y = g.op("Add", [
    g.op("Mul", [back, floatInit(ctx, `${prefix}.weight`, w, [channels, 1, 1], "float32")]),
    floatInit(ctx, `${prefix}.bias`, b, [channels, 1, 1], "float32"),
  ]);
  return cast(ctx, y, "float32", ctx.act);
}

/** SiLU, optionally computed in fp32 (diffusers' "silu_fp32"). */
export function silu(ctx: Ctx, x: string, fp32 = false): string {
  const t = fp32 ? "float32" : ctx.act;
  const xi = cast(ctx, x, ctx.act, t);
  return cast(ctx, ctx.g.op("Mul", [xi, ctx.g.op("Sigmoid", [xi])]), t, ctx.act);
}

/**
 * `geluTanh(x @ W^T + b)` for a torch Linear at `prefix`: on the fused profile one MatMul and
 * ONNX Runtime's FastGelu, which adds the bias and applies the tanh GELU in one pass.
 */
export async function linearGeluTanh(ctx: Ctx, x: string, prefix: string): Promise<string> {
  if (!ctx.fused) return geluTanh(ctx, await linear(ctx, x, prefix));
  const y = ctx.g.op("MatMul", [x, await weight(ctx, `${prefix}.weight`, { transpose: true })]);
  const ins = has(ctx, `${prefix}.bias`) ? [y, await weight(ctx, `${prefix}.bias`)] : [y];
  return ctx.g.contrib("FastGelu", ins);
}

/** GELU with the tanh approximation (torch `approximate="tanh"`, HF "gelu_new"). */
export function geluTanh(ctx: Ctx, x: string): string {
  const g = ctx.g;
  const c = (v: number) => g.scalar(v, ctx.act);
  const inner = g.op("Mul", [
    c(Math.sqrt(2 / Math.PI)),
    g.op("Add", [x, g.op("Mul", [c(0.044715), g.op("Mul", [x, g.op("Mul", [x, x])])])]),
  ]);
  return g.op("Mul", [g.op("Mul", [c(0.5), x]), g.op("Add", [c(1), g.op("Tanh", [inner])])]);
}

/** Exact GELU (erf form). */
export function geluErf(ctx: Ctx, x: string): string {
  const g = ctx.g;
  const c = (v: number) => g.scalar(v, ctx.act);
  const erf = g.op("Erf", [g.op("Mul", [x, c(Math.SQRT1_2)])]);
  return g.op("Mul", [g.op("Mul", [c(0.5), x]), g.op("Add", [c(1), erf])]);
}

/**
 * Scaled dot-product attention on [B, H, S, d] tensors with the softmax in fp32; an optional
 * additive bias (fp32, broadcastable to [B, H, Sq, Sk]) is added to the scores before softmax.
 * Q is scaled before the first MatMul: the MatMul-Softmax-MatMul form TensorRT fuses into one
 * attention kernel, which requires the scale on Q or K (docs/attention.md).
 */
export function attention(
  ctx: Ctx,
  q: string,
  k: string,
  v: string,
  scale: number,
  bias?: string,
): string {
  const g = ctx.g;
  const qs = scale === 1 ? q : g.op("Mul", [q, g.scalar(scale, ctx.act)]);
  const scores = g.op("MatMul", [qs, g.op("Transpose", [k], { perm: [0, 1, 3, 2] })]);
  let s32 = cast(ctx, scores, ctx.act, "float32");
  if (bias) s32 = g.op("Add", [s32, bias]);
  const p = cast(ctx, g.op("Softmax", [s32], { axis: -1 }), "float32", ctx.act);
  return g.op("MatMul", [p, v]);
}

/**
 * Multi-head attention on [B, S, H*d] projections, returning [B, Sq, H*d]. The fused profile uses
 * ONNX Runtime's MultiHeadAttention (tiled, online softmax: memory linear in tokens, no score
 * matrix); otherwise heads are split and {@linkcode attention} runs explicitly.
 */
export function multiHeadAttention(
  ctx: Ctx,
  q: string,
  k: string,
  v: string,
  heads: number,
  headDim: number,
): string {
  const scale = 1 / Math.sqrt(headDim);
  if (ctx.fused) {
    return ctx.g.contrib("MultiHeadAttention", [q, k, v], {
      num_heads: heads,
      scale: float(scale),
    });
  }
  const split = (x: string) => splitHeads(ctx, x, heads, headDim);
  return mergeHeads(ctx, attention(ctx, split(q), split(k), split(v), scale), heads * headDim);
}

/** [B, S, H*d] -> [B, H, S, d]. */
export function splitHeads(ctx: Ctx, x: string, heads: number, headDim: number): string {
  const g = ctx.g;
  return g.op("Transpose", [g.op("Reshape", [x, g.ints([0, 0, heads, headDim])])], {
    perm: [0, 2, 1, 3],
  });
}

/** [B, H, S, d] -> [B, S, H*d]. */
export function mergeHeads(ctx: Ctx, x: string, width: number): string {
  const g = ctx.g;
  return g.op("Reshape", [g.op("Transpose", [x], { perm: [0, 2, 1, 3] }), g.ints([0, 0, width])]);
}

/** Conv2d with torch weight layout [out, in, kh, kw] and optional bias. */
export async function conv2d(
  ctx: Ctx,
  x: string,
  prefix: string,
  opts: { stride?: number; padding?: number } = {},
): Promise<string> {
  const [, , kh, kw] = shapeOf(ctx, `${prefix}.weight`);
  const p = opts.padding ?? 0;
  const s = opts.stride ?? 1;
  const ins = [x, await weight(ctx, `${prefix}.weight`)];
  if (has(ctx, `${prefix}.bias`)) ins.push(await weight(ctx, `${prefix}.bias`));
  return ctx.g.op("Conv", ins, {
    kernel_shape: [kh, kw],
    strides: [s, s],
    pads: [p, p, p, p],
  });
}
