/**
 * The mT5 encoder (transformers `T5EncoderModel`) as an ONNX graph: token embedding, pre-norm
 * blocks of RMSNorm -> self-attention with T5's bucketed relative position bias (computed by block
 * 0, shared by all) and the additive padding mask -> RMSNorm -> gated-GELU feed-forward, then the
 * final RMSNorm. Inputs `input_ids`, `attention_mask` [B, S] int64; output `last_hidden_state`.
 * T5 attention has no 1/sqrt(d) scaling. mT5 overflows fp16, so build it with an fp32 context.
 */

import type { Ctx } from "./nn.ts";
import { finite, oneOf, positiveInt } from "./config_keys.ts";
import {
  attention,
  has,
  linear,
  linearGeluTanh,
  mergeHeads,
  rmsNorm,
  splitHeads,
  weight,
} from "./nn.ts";

/** Longest sequence the precomputed bucket table covers. */
export const T5_MAX_LENGTH = 512;

/**
 * transformers' bidirectional `_relative_position_bucket` for relative position `rel` (key - query),
 * with its fp32 arithmetic: log in fp32, divided by the fp32-rounded log(maxDistance / maxExact).
 */
export function relativeBucket(rel: number, numBuckets: number, maxDistance: number): number {
  const half = Math.floor(numBuckets / 2);
  const base = rel > 0 ? half : 0;
  const n = Math.abs(rel);
  const maxExact = Math.floor(half / 2);
  if (n < maxExact) return base + n;
  const f = Math.fround;
  const logRatio = f(Math.log(f(n / maxExact)));
  const scaled = f(f(logRatio / f(Math.log(maxDistance / maxExact))) * (half - maxExact));
  return base + Math.min(maxExact + Math.trunc(scaled), half - 1);
}

/** Bucket index of every (query, key) pair up to `length`, row-major [length, length], int32. */
export function bucketTable(length: number, numBuckets: number, maxDistance: number): Int32Array {
  const out = new Int32Array(length * length);
  for (let q = 0; q < length; q++) {
    for (let k = 0; k < length; k++) {
      out[q * length + k] = relativeBucket(k - q, numBuckets, maxDistance);
    }
  }
  return out;
}

/** The T5EncoderModel `config.json` keys the graph needs. */
export interface T5Config {
  dModel: number;
  heads: number;
  dKv: number;
  layers: number;
  eps: number;
  buckets: number;
  maxDistance: number;
}

/** Reads and validates a T5EncoderModel config.json object (transformers' defaults); errors name the key. */
export function parseT5Config(config: Record<string, unknown>): T5Config {
  oneOf(config, "feed_forward_proj", "relu", ["gated-gelu"]);
  return {
    dModel: positiveInt(config, "d_model"),
    heads: positiveInt(config, "num_heads"),
    dKv: positiveInt(config, "d_kv"),
    layers: positiveInt(config, "num_layers"),
    eps: finite(config, "layer_norm_epsilon", 1e-6),
    buckets: positiveInt(config, "relative_attention_num_buckets", 32),
    maxDistance: positiveInt(config, "relative_attention_max_distance", 128),
  };
}

/** Declares the mT5 encoder graph on `ctx.g` from `config.json` and the checkpoint in `ctx`. */
export async function buildT5(ctx: Ctx, config: Record<string, unknown>): Promise<void> {
  const g = ctx.g;
  const { dModel, heads, dKv, layers, eps, buckets, maxDistance } = parseT5Config(config);

  const ids = g.input("input_ids", "int64", ["batch", "sequence"]);
  const mask = g.input("attention_mask", "int64", ["batch", "sequence"]);
  const embedKey = has(ctx, "encoder.embed_tokens.weight")
    ? "encoder.embed_tokens.weight"
    : "shared.weight";
  let x = g.op("Gather", [await weight(ctx, embedKey), ids], { axis: 0 });

  // Position bias [1, heads, S, S] (fp32) from the bucket table sliced to the sequence length,
  // plus the padding mask as (1 - mask) * float32 min on the key axis.
  const seq = g.op("Slice", [g.op("Shape", [ids]), g.ints([1]), g.ints([2])]);
  const table = g.init("relative_buckets", bucketTable(T5_MAX_LENGTH, buckets, maxDistance), [
    T5_MAX_LENGTH,
    T5_MAX_LENGTH,
  ], "int32");
  const seq2 = g.op("Concat", [seq, seq], { axis: 0 });
  const sliced = g.op("Slice", [table, g.ints([0, 0]), seq2, g.ints([0, 1])]);
  const relWeight = await weight(
    ctx,
    "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
    {
      type: "float32",
    },
  );
  const posBias = g.op("Unsqueeze", [
    g.op("Transpose", [g.op("Gather", [relWeight, sliced], { axis: 0 })], { perm: [2, 0, 1] }),
    g.ints([0]),
  ]);
  const mask32 = g.op("Cast", [mask], { to: 1 });
  const maskBias = g.op("Mul", [
    g.op("Sub", [g.scalar(1, "float32"), mask32]),
    g.scalar(-3.4028234663852886e38, "float32"),
  ]);
  const bias = g.op("Add", [posBias, g.op("Unsqueeze", [maskBias, g.ints([1, 2])])]);

  for (let i = 0; i < layers; i++) {
    const p = `encoder.block.${i}`;
    const h = await rmsNorm(ctx, x, `${p}.layer.0.layer_norm`, eps);
    const q = splitHeads(ctx, await linear(ctx, h, `${p}.layer.0.SelfAttention.q`), heads, dKv);
    const k = splitHeads(ctx, await linear(ctx, h, `${p}.layer.0.SelfAttention.k`), heads, dKv);
    const v = splitHeads(ctx, await linear(ctx, h, `${p}.layer.0.SelfAttention.v`), heads, dKv);
    const a = mergeHeads(ctx, attention(ctx, q, k, v, 1, bias), heads * dKv);
    x = g.op("Add", [x, await linear(ctx, a, `${p}.layer.0.SelfAttention.o`)]);
    const f = await rmsNorm(ctx, x, `${p}.layer.1.layer_norm`, eps);
    const gate = await linearGeluTanh(ctx, f, `${p}.layer.1.DenseReluDense.wi_0`);
    const lin = await linear(ctx, f, `${p}.layer.1.DenseReluDense.wi_1`);
    x = g.op("Add", [
      x,
      await linear(ctx, g.op("Mul", [gate, lin]), `${p}.layer.1.DenseReluDense.wo`),
    ]);
  }
  const out = await rmsNorm(ctx, x, "encoder.final_layer_norm", eps);
  g.output(out, "last_hidden_state", ctx.act, ["batch", "sequence", dModel]);
}
