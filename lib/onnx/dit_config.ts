/**
 * The HunyuanDiT2DModel `config.json` as the graph builder needs it: keys read with diffusers'
 * constructor defaults (diffusers 0.37.1 models/transformers/hunyuan_transformer_2d.py
 * `HunyuanDiT2DModel.__init__`), validated, and derived sizes computed once.
 */

import { bool, oneOf, positiveInt } from "./config_keys.ts";

/** Validated transformer configuration with derived sizes. */
export interface DitConfig {
  heads: number;
  headDim: number;
  /** Token width: heads * headDim (must equal `hidden_size`). */
  inner: number;
  inChannels: number;
  /** in_channels * 2 with learned sigma, else in_channels. */
  outChannels: number;
  patch: number;
  layers: number;
  /** FFN hidden width: int(inner * mlp_ratio). */
  ffInner: number;
  /** BERT ("CLIP") state width. */
  textDim: number;
  /** mT5 state width. */
  t5Dim: number;
  pooledDim: number;
  textLen: number;
  textLenT5: number;
  /** True for v1.0/v1.1 (style + image-meta conditioning), false for v1.2. */
  styleAndMeta: boolean;
}

/** Heads of the T5 attention pool (fixed in diffusers' HunyuanCombinedTimestepTextSizeStyleEmbedding). */
export const POOL_HEADS = 8;

/** Model family name for a parsed config: "v1.1" covers v1.0/v1.1, "v1.2" the meta-free variant. */
export function ditModelVersion(cfg: DitConfig): "v1.1" | "v1.2" {
  return cfg.styleAndMeta ? "v1.1" : "v1.2";
}

/** Parses and validates a transformer config.json object; errors name the offending key. */
export function parseDitConfig(raw: Record<string, unknown>): DitConfig {
  const cls = raw["_class_name"];
  if (cls !== undefined && cls !== "HunyuanDiT2DModel") {
    throw new Error(
      `config key "_class_name" is ${JSON.stringify(cls)}, expected "HunyuanDiT2DModel"`,
    );
  }
  oneOf(raw, "activation_fn", "gelu-approximate", ["gelu-approximate"]);
  oneOf(raw, "norm_type", "layer_norm", ["layer_norm"]);
  const heads = positiveInt(raw, "num_attention_heads", 16);
  const headDim = positiveInt(raw, "attention_head_dim", 88);
  const inner = heads * headDim;
  const hidden = positiveInt(raw, "hidden_size", 1152);
  if (hidden !== inner) {
    throw new Error(
      `config key "hidden_size" is ${hidden} but num_attention_heads * attention_head_dim is ${inner}; ` +
        "HunyuanDiT needs them equal",
    );
  }
  if (headDim % 2 !== 0) {
    throw new Error(`config key "attention_head_dim" must be even for RoPE pairs, got ${headDim}`);
  }
  const layers = positiveInt(raw, "num_layers", 28);
  if (layers % 2 !== 0 || layers < 2) {
    throw new Error(
      `config key "num_layers" must be an even number >= 2 (long skips pair layer i with layer ` +
        `L-1-i), got ${layers}`,
    );
  }
  const ratio = raw["mlp_ratio"] ?? 4.0;
  if (typeof ratio !== "number" || !(ratio > 0)) {
    throw new Error(
      `config key "mlp_ratio" must be a positive number, got ${JSON.stringify(ratio)}`,
    );
  }
  const inChannels = positiveInt(raw, "in_channels");
  const t5Dim = positiveInt(raw, "cross_attention_dim_t5", 2048);
  if (t5Dim % POOL_HEADS !== 0) {
    throw new Error(
      `config key "cross_attention_dim_t5" (${t5Dim}) must divide into ${POOL_HEADS} pooling heads`,
    );
  }
  return {
    heads,
    headDim,
    inner,
    inChannels,
    outChannels: bool(raw, "learn_sigma", true) ? inChannels * 2 : inChannels,
    patch: positiveInt(raw, "patch_size"),
    layers,
    ffInner: Math.trunc(inner * ratio),
    textDim: positiveInt(raw, "cross_attention_dim", 1024),
    t5Dim,
    pooledDim: positiveInt(raw, "pooled_projection_dim", 1024),
    textLen: positiveInt(raw, "text_len", 77),
    textLenT5: positiveInt(raw, "text_len_t5", 256),
    styleAndMeta: bool(raw, "use_style_cond_and_image_meta_size", true),
  };
}
