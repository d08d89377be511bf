/**
 * transformers `BertModel` (HunyuanDiT's CLIP-side text encoder) as an ONNX graph: `input_ids` and
 * `attention_mask` [B, S] int64 -> `last_hidden_state` [B, S, H]. Token types are all 0 (the pipeline
 * never passes them) and the pooler is not built. Masked keys get transformers' additive bias, the
 * fp32 minimum, added to the fp32 attention scores.
 */

import { positiveInt } from "./config_keys.ts";
import {
  attention,
  type Ctx,
  elemCode,
  expectShape,
  floatInit,
  geluErf,
  geluTanh,
  has,
  layerNorm,
  linear,
  mergeHeads,
  splitHeads,
  weight,
} from "./nn.ts";

/** The `config.json` fields the graph depends on. */
export interface BertConfig {
  hiddenSize: number;
  heads: number;
  layers: number;
  intermediateSize: number;
  eps: number;
  /** Feed-forward activation: exact GELU, tanh GELU or ReLU. */
  act: "gelu_erf" | "gelu_tanh" | "relu";
}

/** transformers `hidden_act` names this builder supports. */
const ACTIVATIONS: Record<string, BertConfig["act"]> = {
  gelu: "gelu_erf",
  gelu_new: "gelu_tanh",
  gelu_pytorch_tanh: "gelu_tanh",
  relu: "relu",
};

/** torch.finfo(torch.float32).min: the additive bias transformers puts on masked keys. */
export const FP32_MIN = -3.4028234663852886e38;

/** Validates a transformers BertModel `config.json`; errors name the offending config key. */
export function parseBertConfig(raw: Record<string, unknown>): BertConfig {
  if (raw["model_type"] !== undefined && raw["model_type"] !== "bert") {
    throw new Error(
      `config key "model_type" is ${JSON.stringify(raw["model_type"])}, expected "bert"`,
    );
  }
  const pet = raw["position_embedding_type"] ?? "absolute";
  if (pet !== "absolute") {
    throw new Error(
      `config key "position_embedding_type" is ${
        JSON.stringify(pet)
      }; only "absolute" is supported`,
    );
  }
  const hiddenAct = raw["hidden_act"] ?? "gelu";
  const act = typeof hiddenAct === "string" ? ACTIVATIONS[hiddenAct] : undefined;
  if (!act) {
    throw new Error(
      `config key "hidden_act" is ${JSON.stringify(hiddenAct)}; this builder supports ${
        Object.keys(ACTIVATIONS).join(", ")
      }`,
    );
  }
  const eps = raw["layer_norm_eps"] ?? 1e-12;
  if (typeof eps !== "number" || !(eps > 0)) {
    throw new Error(
      `config key "layer_norm_eps" must be a positive number, got ${JSON.stringify(eps)}`,
    );
  }
  const hiddenSize = positiveInt(raw, "hidden_size");
  const heads = positiveInt(raw, "num_attention_heads");
  if (hiddenSize % heads !== 0) {
    throw new Error(
      `config key "num_attention_heads" (${heads}) does not divide hidden_size (${hiddenSize})`,
    );
  }
  return {
    hiddenSize,
    heads,
    layers: positiveInt(raw, "num_hidden_layers"),
    intermediateSize: positiveInt(raw, "intermediate_size"),
    eps,
    act,
  };
}

/** Sum of the position table and token-type row 0 (token types are always 0): one [P, H] table. */
async function positionPlusType(ctx: Ctx, p: string, hidden: number): Promise<string> {
  const posKey = `${p}embeddings.position_embeddings.weight`;
  const typeKey = `${p}embeddings.token_type_embeddings.weight`;
  const [positions] = expectShape(ctx, posKey, [-1, hidden]);
  expectShape(ctx, typeKey, [-1, hidden]);
  const table = await ctx.ckpt.readFloat32(posKey);
  const type0 = await ctx.ckpt.readFloat32(typeKey);
  for (let i = 0; i < table.length; i++) table[i] += type0[i % hidden];
  return floatInit(ctx, `${p}embeddings.position_plus_type0`, table, [positions, hidden]);
}

/** Additive attention bias [B, 1, 1, S] in fp32: 0 where the mask is 1, FP32_MIN where it is 0. */
function maskBias(ctx: Ctx, mask: string): string {
  const g = ctx.g;
  const m = g.op("Cast", [mask], { to: elemCode("float32") });
  const bias = g.op("Mul", [
    g.op("Sub", [g.scalar(1, "float32"), m]),
    g.scalar(FP32_MIN, "float32"),
  ]);
  return g.op("Unsqueeze", [bias, g.ints([1, 2])]);
}

function activation(ctx: Ctx, x: string, act: BertConfig["act"]): string {
  if (act === "gelu_erf") return geluErf(ctx, x);
  if (act === "gelu_tanh") return geluTanh(ctx, x);
  return ctx.g.op("Relu", [x]);
}

/** One post-norm encoder layer: self-attention + residual + LayerNorm, FFN + residual + LayerNorm. */
async function encoderLayer(
  ctx: Ctx,
  cfg: BertConfig,
  x: string,
  bias: string,
  pre: string,
): Promise<string> {
  const g = ctx.g;
  const headDim = cfg.hiddenSize / cfg.heads;
  const heads = async (name: string) =>
    splitHeads(ctx, await linear(ctx, x, `${pre}.attention.self.${name}`), cfg.heads, headDim);
  const q = await heads("query");
  const k = await heads("key");
  const v = await heads("value");
  const attn = mergeHeads(
    ctx,
    attention(ctx, q, k, v, 1 / Math.sqrt(headDim), bias),
    cfg.hiddenSize,
  );
  const proj = await linear(ctx, attn, `${pre}.attention.output.dense`);
  const h = await layerNorm(
    ctx,
    g.op("Add", [proj, x]),
    `${pre}.attention.output.LayerNorm`,
    cfg.hiddenSize,
    cfg.eps,
  );
  const inner = activation(ctx, await linear(ctx, h, `${pre}.intermediate.dense`), cfg.act);
  const out = await linear(ctx, inner, `${pre}.output.dense`);
  return layerNorm(ctx, g.op("Add", [out, h]), `${pre}.output.LayerNorm`, cfg.hiddenSize, cfg.eps);
}

/**
 * Builds the BertModel encoder into `ctx.g` from its `config.json` and weights (keys as transformers
 * saves them, optionally under a `bert.` prefix). Graph inputs `input_ids`, `attention_mask`
 * [batch, sequence] int64; output `last_hidden_state` [batch, sequence, hidden] in `ctx.act`.
 */
export async function buildBert(ctx: Ctx, config: Record<string, unknown>): Promise<void> {
  const cfg = parseBertConfig(config);
  const g = ctx.g;
  const p = !has(ctx, "embeddings.word_embeddings.weight") &&
      has(ctx, "bert.embeddings.word_embeddings.weight")
    ? "bert."
    : "";
  const wordKey = `${p}embeddings.word_embeddings.weight`;
  expectShape(ctx, wordKey, [-1, cfg.hiddenSize]);
  for (let i = 0; i < cfg.layers; i++) {
    expectShape(ctx, `${p}encoder.layer.${i}.intermediate.dense.weight`, [
      cfg.intermediateSize,
      cfg.hiddenSize,
    ]);
  }

  const ids = g.input("input_ids", "int64", ["batch", "sequence"]);
  const mask = g.input("attention_mask", "int64", ["batch", "sequence"]);

  const words = g.op("Gather", [await weight(ctx, wordKey), ids], { axis: 0 });
  const seqLen = g.op("Slice", [g.op("Shape", [ids]), g.ints([1]), g.ints([2])]);
  const table = await positionPlusType(ctx, p, cfg.hiddenSize);
  const positions = g.op("Slice", [table, g.ints([0]), seqLen, g.ints([0])]);
  let x = await layerNorm(
    ctx,
    g.op("Add", [words, positions]),
    `${p}embeddings.LayerNorm`,
    cfg.hiddenSize,
    cfg.eps,
  );

  const bias = maskBias(ctx, mask);
  for (let i = 0; i < cfg.layers; i++) {
    x = await encoderLayer(ctx, cfg, x, bias, `${p}encoder.layer.${i}`);
  }
  g.output(x, "last_hidden_state", ctx.act, ["batch", "sequence", cfg.hiddenSize]);
}
