/**
 * HunyuanDiT2DModel as an ONNX graph, written straight from a diffusers checkpoint. Mirrors
 * diffusers 0.37.1 `HunyuanDiT2DModel.forward` (models/transformers/hunyuan_transformer_2d.py) with
 * Tencent's engine IO (trt/export_onnx.py): RoPE tables are inputs, so one graph serves every size.
 * Precision follows lib/onnx/nn.ts: norms, softmax, SiLU-fp32 and RoPE run in fp32 between Casts.
 */

import type { Ctx } from "./nn.ts";
import {
  cast,
  conv2d,
  elemCode,
  expectShape,
  floatInit,
  has,
  layerNorm,
  linear,
  linearGeluTanh,
  multiHeadAttention,
  silu,
  weight,
} from "./nn.ts";
import { type DitConfig, parseDitConfig, POOL_HEADS } from "./dit_config.ts";

/** Epsilon of every DiT LayerNorm (block norms, skip norm, QK-norm, final norm). */
const EPS = 1e-6;
/** Width of the cos-first sinusoid used for the timestep and each image-meta value. */
const SINUSOID_DIM = 256;

/** The graph values shared by every block. */
interface Shared {
  /** SiLU(c) computed in fp32 and cast to the activation type: feeds every AdaLN projection. */
  condSilu: string;
  /** Text tokens [B, textLen + textLenT5, textDim] after learned padding. */
  text: string;
  rope: RopeInputs;
}

/**
 * The RoPE tables as the rotation consumes them: fused, RotaryEmbedding's caches [N, d/2] (one
 * entry per interleaved pair) and its start position; explicit, the tables as [N, 1, d] so they
 * broadcast over the heads of [B, N, H, d].
 */
interface RopeInputs {
  cos: string;
  sin: string;
  /** RotaryEmbedding's position_ids: [0], so token i uses row i. Fused profile only. */
  start?: string;
}

function ropeInputs(ctx: Ctx, cfg: DitConfig, io: Record<string, string>): RopeInputs {
  const g = ctx.g;
  if (ctx.fused) {
    const pairs = (t: string) =>
      g.op("Slice", [t, g.ints([0]), g.ints([cfg.headDim]), g.ints([1]), g.ints([2])]);
    return { cos: pairs(io.cos_cis_img), sin: pairs(io.sin_cis_img), start: g.ints([0]) };
  }
  const perHead = (t: string) => g.op("Unsqueeze", [t, g.ints([1])]);
  return { cos: perHead(io.cos_cis_img), sin: perHead(io.sin_cis_img) };
}

/**
 * Sinusoid frequencies exp(-ln(10000) * i / 128), i < 128, rounded like torch's float32 arithmetic
 * in diffusers' `get_timestep_embedding` (downscale_freq_shift 0); torch's vectorized exp differs
 * by one ulp on 2 of the 128 entries, which the fp32 goldens absorb (rel L2 ~4e-7).
 */
function sinusoidFrequencies(): Float32Array {
  const half = SINUSOID_DIM / 2;
  const lnMax = Math.fround(-Math.log(10000));
  return Float32Array.from(
    { length: half },
    (_, i) => Math.fround(Math.exp(Math.fround(Math.fround(lnMax * i) / half))),
  );
}

/** Appends a 256-wide [cos, sin] embedding axis to fp32 values `v` (flip_sin_to_cos=True). */
function sinusoid(ctx: Ctx, v32: string, freqs: string): string {
  const g = ctx.g;
  const angles = g.op("Mul", [g.op("Unsqueeze", [v32, g.ints([-1])]), freqs]);
  return g.op("Concat", [g.op("Cos", [angles]), g.op("Sin", [angles])], { axis: -1 });
}

/** Checks the tensors whose shapes pin down the config, so a mismatched pair fails early. */
function checkWeights(ctx: Ctx, cfg: DitConfig): void {
  const { inner, patch } = cfg;
  const extraIn = cfg.pooledDim + (cfg.styleAndMeta ? 6 * SINUSOID_DIM + inner : 0);
  expectShape(ctx, "pos_embed.proj.weight", [inner, cfg.inChannels, patch, patch]);
  expectShape(ctx, "text_embedding_padding", [cfg.textLen + cfg.textLenT5, cfg.textDim]);
  expectShape(ctx, "time_extra_emb.pooler.positional_embedding", [cfg.textLenT5 + 1, cfg.t5Dim]);
  expectShape(ctx, "time_extra_emb.extra_embedder.linear_1.weight", [4 * inner, extraIn]);
  expectShape(ctx, "text_embedder.linear_1.weight", [4 * cfg.t5Dim, cfg.t5Dim]);
  expectShape(ctx, "proj_out.weight", [patch * patch * cfg.outChannels, inner]);
  if (has(ctx, `blocks.${cfg.layers}.norm1.linear.weight`)) {
    throw new Error(
      `tensor "blocks.${cfg.layers}.norm1.linear.weight" exists but config key ` +
        `"num_layers" is ${cfg.layers}`,
    );
  }
  for (let i = 0; i < cfg.layers; i++) {
    expectShape(ctx, `blocks.${i}.ff.net.0.proj.weight`, [cfg.ffInner, inner]);
    expectShape(ctx, `blocks.${i}.attn2.to_k.weight`, [inner, cfg.textDim]);
    if (i > cfg.layers / 2) expectShape(ctx, `blocks.${i}.skip_linear.weight`, [inner, 2 * inner]);
  }
}

/** Two-layer MLP `linear_2(act(linear_1(x)))` with SiLU in fp32 (PixArtAlphaTextProjection "silu_fp32"). */
async function projection(ctx: Ctx, x: string, prefix: string): Promise<string> {
  const h = silu(ctx, await linear(ctx, x, `${prefix}.linear_1`), true);
  return linear(ctx, h, `${prefix}.linear_2`);
}

/**
 * Attention pooling of the raw T5 states [B, L, C] (HunyuanDiTAttentionPool): the mean token is
 * prepended, a learned position table added, and the mean token queries all L+1 tokens.
 */
async function attentionPool(ctx: Ctx, cfg: DitConfig, t5: string): Promise<string> {
  const g = ctx.g;
  const p = "time_extra_emb.pooler";
  const mean = g.op("ReduceMean", [t5], { axes: [1], keepdims: 1 });
  const seq = g.op("Add", [
    g.op("Concat", [mean, t5], { axis: 1 }),
    await weight(ctx, `${p}.positional_embedding`),
  ]);
  const first = g.op("Slice", [seq, g.ints([0]), g.ints([1]), g.ints([1])]);
  const q = await linear(ctx, first, `${p}.q_proj`);
  const k = await linear(ctx, seq, `${p}.k_proj`);
  const v = await linear(ctx, seq, `${p}.v_proj`);
  const o = multiHeadAttention(ctx, q, k, v, POOL_HEADS, cfg.t5Dim / POOL_HEADS);
  return g.op("Squeeze", [await linear(ctx, o, `${p}.c_proj`), g.ints([1])]);
}

/** The conditioning vector c [B, inner]: timestep MLP + extra embedder (pooled T5, meta, style). */
async function conditioning(ctx: Ctx, cfg: DitConfig, io: Record<string, string>): Promise<string> {
  const g = ctx.g;
  const p = "time_extra_emb";
  const freqs = floatInit(
    ctx,
    "sinusoid_freqs",
    sinusoidFrequencies(),
    [SINUSOID_DIM / 2],
    "float32",
  );
  const tProj = cast(
    ctx,
    sinusoid(ctx, cast(ctx, io.t, ctx.act, "float32"), freqs),
    "float32",
    ctx.act,
  );
  const tHidden = silu(ctx, await linear(ctx, tProj, `${p}.timestep_embedder.linear_1`));
  const tEmb = await linear(ctx, tHidden, `${p}.timestep_embedder.linear_2`);

  const parts = [await attentionPool(ctx, cfg, io.encoder_hidden_states_t5)];
  if (cfg.styleAndMeta) {
    const meta32 = cast(ctx, io.image_meta_size, ctx.act, "float32");
    const meta = g.op("Reshape", [sinusoid(ctx, meta32, freqs), g.ints([0, 6 * SINUSOID_DIM])]);
    parts.push(cast(ctx, meta, "float32", ctx.act));
    parts.push(
      g.op("Gather", [await weight(ctx, `${p}.style_embedder.weight`), io.style], { axis: 0 }),
    );
  }
  const extraIn = parts.length === 1 ? parts[0] : g.op("Concat", parts, { axis: 1 });
  return g.op("Add", [tEmb, await projection(ctx, extraIn, `${p}.extra_embedder`)]);
}

/** Text tokens: [BERT states; projected T5 states], masked positions replaced by the learned table. */
async function textTokens(ctx: Ctx, io: Record<string, string>): Promise<string> {
  const g = ctx.g;
  const t5 = await projection(ctx, io.encoder_hidden_states_t5, "text_embedder");
  const text = g.op("Concat", [io.encoder_hidden_states, t5], { axis: 1 });
  const mask = g.op("Concat", [io.text_embedding_mask, io.text_embedding_mask_t5], { axis: 1 });
  const keep = g.op("Unsqueeze", [g.op("Cast", [mask], { to: elemCode("bool") }), g.ints([2])]);
  return g.op("Where", [keep, text, await weight(ctx, "text_embedding_padding")]);
}

/**
 * Rotary embedding of per-head vectors [B, N, H*d] with interleaved (real, imag) pairs, in fp32:
 * x * cos + rotate(x) * sin where rotate maps each pair (a, b) to (-b, a). The fused profile runs
 * it as one RotaryEmbedding (interleaved) op.
 */
function rope(ctx: Ctx, cfg: DitConfig, x: string, r: RopeInputs): string {
  const g = ctx.g;
  const { heads, headDim } = cfg;
  if (ctx.fused) {
    return g.contrib("RotaryEmbedding", [x, r.start!, r.cos, r.sin], {
      interleaved: 1,
      num_heads: heads,
    });
  }
  const x32 = g.op("Reshape", [cast(ctx, x, ctx.act, "float32"), g.ints([0, 0, heads, headDim])]);
  const [re, im] = g.opN("Split", [g.op("Reshape", [x32, g.ints([0, 0, 0, -1, 2])])], 2, {
    axis: -1,
  });
  const pairs = g.op("Concat", [g.op("Neg", [im]), re], { axis: -1 });
  const rotated = g.op("Reshape", [pairs, g.ints([0, 0, 0, headDim])]);
  const y = g.op("Add", [g.op("Mul", [x32, r.cos]), g.op("Mul", [rotated, r.sin])]);
  return cast(ctx, g.op("Reshape", [y, g.ints([0, 0, cfg.inner])]), "float32", ctx.act);
}

/**
 * diffusers Attention with HunyuanAttnProcessor2_0: QK-norm over the head dim, RoPE, SDPA. Q and K
 * stay [B, N, H*d] (viewed per head for the norm), so no transpose precedes the attention.
 */
async function ditAttention(
  ctx: Ctx,
  cfg: DitConfig,
  prefix: string,
  hidden: string,
  context: string,
  s: Shared,
  ropeOnKey: boolean,
): Promise<string> {
  const g = ctx.g;
  const { heads, headDim } = cfg;
  const qkNorm = async (x: string, proj: string, norm: string) => {
    const perHead = g.op("Reshape", [
      await linear(ctx, x, `${prefix}.${proj}`),
      g.ints([0, 0, heads, headDim]),
    ]);
    const normed = await layerNorm(ctx, perHead, `${prefix}.${norm}`, headDim, EPS);
    return g.op("Reshape", [normed, g.ints([0, 0, cfg.inner])]);
  };
  const q = rope(ctx, cfg, await qkNorm(hidden, "to_q", "norm_q"), s.rope);
  let k = await qkNorm(context, "to_k", "norm_k");
  if (ropeOnKey) k = rope(ctx, cfg, k, s.rope);
  const v = await linear(ctx, context, `${prefix}.to_v`);
  const o = multiHeadAttention(ctx, q, k, v, heads, headDim);
  return linear(ctx, o, `${prefix}.to_out.0`);
}

/** One HunyuanDiTBlock: optional skip fusion, shift-only AdaLN self-attn, cross-attn, tanh-GELU FFN. */
async function block(
  ctx: Ctx,
  cfg: DitConfig,
  index: number,
  input: string,
  s: Shared,
  skip: string | null,
): Promise<string> {
  const g = ctx.g;
  const p = `blocks.${index}`;
  const D = cfg.inner;
  let x = input;
  if (skip) {
    const cat = g.op("Concat", [x, skip], { axis: -1 });
    x = await linear(
      ctx,
      await layerNorm(ctx, cat, `${p}.skip_norm`, 2 * D, EPS),
      `${p}.skip_linear`,
    );
  }
  const shift = g.op("Unsqueeze", [
    await linear(ctx, s.condSilu, `${p}.norm1.linear`),
    g.ints([1]),
  ]);
  const h1 = g.op("Add", [await layerNorm(ctx, x, `${p}.norm1.norm`, D, EPS), shift]);
  x = g.op("Add", [x, await ditAttention(ctx, cfg, `${p}.attn1`, h1, h1, s, true)]);
  const h2 = await layerNorm(ctx, x, `${p}.norm2`, D, EPS);
  x = g.op("Add", [x, await ditAttention(ctx, cfg, `${p}.attn2`, h2, s.text, s, false)]);
  const h3 = await layerNorm(ctx, x, `${p}.norm3`, D, EPS);
  const ff = await linearGeluTanh(ctx, h3, `${p}.ff.net.0.proj`);
  return g.op("Add", [x, await linear(ctx, ff, `${p}.ff.net.2`)]);
}

/** AdaLayerNormContinuous ([scale, shift] chunks, affine-free LN) then proj_out. */
async function finalLayer(ctx: Ctx, cfg: DitConfig, x: string, condSilu: string): Promise<string> {
  const g = ctx.g;
  const [scale, shift] = g.opN("Split", [await linear(ctx, condSilu, "norm_out.linear")], 2, {
    axis: 1,
  });
  const one = g.scalar(1, ctx.act);
  const normed = await layerNorm(ctx, x, null, cfg.inner, EPS);
  const scaled = g.op("Mul", [normed, g.op("Unsqueeze", [g.op("Add", [scale, one]), g.ints([1])])]);
  const y = g.op("Add", [scaled, g.op("Unsqueeze", [shift, g.ints([1])])]);
  return linear(ctx, y, "proj_out");
}

/** Tokens [B, h*w, p*p*C] -> image [B, C, h*p, w*p] ("nhwpqc->nchpwq"), sizes taken from `x`. */
function unpatchify(ctx: Ctx, cfg: DitConfig, tokens: string, x: string): string {
  const g = ctx.g;
  const { patch: p, outChannels: c } = cfg;
  const hw = g.op("Slice", [g.op("Shape", [x]), g.ints([2]), g.ints([4])]);
  const grid = g.op("Div", [hw, g.ints([p])]);
  const six = g.op("Reshape", [
    tokens,
    g.op("Concat", [g.ints([0]), grid, g.ints([p, p, c])], { axis: 0 }),
  ]);
  const moved = g.op("Transpose", [six], { perm: [0, 5, 1, 3, 2, 4] });
  return g.op("Reshape", [moved, g.op("Concat", [g.ints([0, c]), hw], { axis: 0 })]);
}

/** Declares the graph inputs (Tencent's export names) and returns their value names. */
function declareInputs(ctx: Ctx, cfg: DitConfig): Record<string, string> {
  const g = ctx.g;
  const io: Record<string, string> = {
    x: g.input("x", ctx.act, ["batch", cfg.inChannels, "height", "width"]),
    t: g.input("t", ctx.act, ["batch"]),
    encoder_hidden_states: g.input("encoder_hidden_states", ctx.act, [
      "batch",
      cfg.textLen,
      cfg.textDim,
    ]),
    text_embedding_mask: g.input("text_embedding_mask", "int64", ["batch", cfg.textLen]),
    encoder_hidden_states_t5: g.input("encoder_hidden_states_t5", ctx.act, [
      "batch",
      cfg.textLenT5,
      cfg.t5Dim,
    ]),
    text_embedding_mask_t5: g.input("text_embedding_mask_t5", "int64", ["batch", cfg.textLenT5]),
  };
  if (cfg.styleAndMeta) {
    io.image_meta_size = g.input("image_meta_size", ctx.act, ["batch", 6]);
    io.style = g.input("style", "int64", ["batch"]);
  }
  io.cos_cis_img = g.input("cos_cis_img", "float32", ["seqlen", cfg.headDim]);
  io.sin_cis_img = g.input("sin_cis_img", "float32", ["seqlen", cfg.headDim]);
  return io;
}

/**
 * Builds the transformer graph from its config.json object into `ctx.g`: inputs x, t,
 * encoder_hidden_states, text_embedding_mask, encoder_hidden_states_t5, text_embedding_mask_t5,
 * [image_meta_size, style,] cos_cis_img, sin_cis_img; output `output` [B, outChannels, H, W].
 */
export async function buildDit(ctx: Ctx, config: Record<string, unknown>): Promise<void> {
  const cfg = parseDitConfig(config);
  checkWeights(ctx, cfg);
  const g = ctx.g;
  const io = declareInputs(ctx, cfg);

  const patches = await conv2d(ctx, io.x, "pos_embed.proj", { stride: cfg.patch });
  let x = g.op("Transpose", [g.op("Reshape", [patches, g.ints([0, 0, -1])])], { perm: [0, 2, 1] });

  const c = await conditioning(ctx, cfg, io);
  const shared: Shared = {
    condSilu: silu(ctx, c, true),
    text: await textTokens(ctx, io),
    rope: ropeInputs(ctx, cfg, io),
  };

  const half = cfg.layers / 2;
  const skips: string[] = [];
  for (let i = 0; i < cfg.layers; i++) {
    const skip = i > half ? skips.pop()! : null;
    x = await block(ctx, cfg, i, x, shared, skip);
    if (i < half - 1) skips.push(x);
  }

  const tokens = await finalLayer(ctx, cfg, x, shared.condSilu);
  g.output(unpatchify(ctx, cfg, tokens, io.x), "output", ctx.act, [
    "batch",
    cfg.outChannels,
    "height",
    "width",
  ]);
}
