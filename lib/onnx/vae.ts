/**
 * diffusers `AutoencoderKL` decode path as an ONNX graph: `latent` [B, C, h, w] (already divided by
 * `scaling_factor`) -> post_quant_conv -> decoder (conv_in, mid block ResNet / single-head
 * self-attention / ResNet, up blocks of ResNets with nearest 2x upsampling, GroupNorm, SiLU,
 * conv_out) -> `sample` [B, 3, h * 2^(blocks-1), w * 2^(blocks-1)], not clamped.
 */

import { bool, positiveInt } from "./config_keys.ts";
import {
  conv2d,
  type Ctx,
  expectShape,
  floatInit,
  groupNorm,
  has,
  linear,
  multiHeadAttention,
  silu,
} from "./nn.ts";

/** The `config.json` fields the graph depends on. */
export interface VaeConfig {
  latentChannels: number;
  outChannels: number;
  /** Encoder-order channel widths; the decoder walks them in reverse. */
  blockOutChannels: number[];
  layersPerBlock: number;
  groups: number;
  midAttention: boolean;
  postQuantConv: boolean;
}

/** Epsilon of every GroupNorm in diffusers' VAE decoder (hard-coded there, not in the config). */
export const VAE_NORM_EPS = 1e-6;

/** Validates a diffusers AutoencoderKL `config.json`; errors name the offending config key. */
export function parseVaeConfig(raw: Record<string, unknown>): VaeConfig {
  const cls = raw["_class_name"];
  if (cls !== undefined && cls !== "AutoencoderKL") {
    throw new Error(`config key "_class_name" is ${JSON.stringify(cls)}, expected "AutoencoderKL"`);
  }
  const act = raw["act_fn"] ?? "silu";
  if (act !== "silu") {
    throw new Error(`config key "act_fn" is ${JSON.stringify(act)}; only "silu" is supported`);
  }
  const channels = raw["block_out_channels"];
  if (
    !Array.isArray(channels) || channels.length === 0 ||
    !channels.every((c) => Number.isInteger(c) && c > 0)
  ) {
    throw new Error(
      `config key "block_out_channels" must be a non-empty list of positive integers, got ${
        JSON.stringify(channels)
      }`,
    );
  }
  const upTypes = raw["up_block_types"] ?? channels.map(() => "UpDecoderBlock2D");
  if (
    !Array.isArray(upTypes) || upTypes.length !== channels.length ||
    !upTypes.every((t) => t === "UpDecoderBlock2D")
  ) {
    throw new Error(
      `config key "up_block_types" is ${JSON.stringify(upTypes)}; expected ${channels.length} ` +
        `x "UpDecoderBlock2D" (one per block_out_channels entry)`,
    );
  }
  const groups = positiveInt(raw, "norm_num_groups", 32);
  const bad = channels.find((c) => c % groups !== 0);
  if (bad !== undefined) {
    throw new Error(
      `config key "norm_num_groups" (${groups}) does not divide channel count ${bad}`,
    );
  }
  return {
    latentChannels: positiveInt(raw, "latent_channels", 4),
    outChannels: positiveInt(raw, "out_channels", 3),
    blockOutChannels: channels as number[],
    layersPerBlock: positiveInt(raw, "layers_per_block", 1),
    groups,
    midAttention: bool(raw, "mid_block_add_attention", true),
    postQuantConv: bool(raw, "use_post_quant_conv", true),
  };
}

/** Conv2d with "same" padding for the odd square kernels the VAE uses (3x3 and 1x1). */
function sameConv(ctx: Ctx, x: string, prefix: string, cout: number, cin: number, k: number) {
  expectShape(ctx, `${prefix}.weight`, [cout, cin, k, k]);
  return conv2d(ctx, x, prefix, { padding: (k - 1) / 2 });
}

/** diffusers ResnetBlock2D without time embedding; a 1x1 conv_shortcut when the widths differ. */
async function resnet(
  ctx: Ctx,
  x: string,
  prefix: string,
  cin: number,
  cout: number,
  groups: number,
): Promise<string> {
  const g = ctx.g;
  let h = silu(ctx, await groupNorm(ctx, x, `${prefix}.norm1`, cin, groups, VAE_NORM_EPS));
  h = await sameConv(ctx, h, `${prefix}.conv1`, cout, cin, 3);
  h = silu(ctx, await groupNorm(ctx, h, `${prefix}.norm2`, cout, groups, VAE_NORM_EPS));
  h = await sameConv(ctx, h, `${prefix}.conv2`, cout, cout, 3);
  const shortcut = cin === cout
    ? x
    : await sameConv(ctx, x, `${prefix}.conv_shortcut`, cout, cin, 1);
  return g.op("Add", [shortcut, h]);
}

/** The attention projection stored under the current name or the pre-0.14 diffusers name. */
function projection(ctx: Ctx, prefix: string, name: string, legacy: string): string {
  if (has(ctx, `${prefix}.${name}.weight`)) return `${prefix}.${name}`;
  if (has(ctx, `${prefix}.${legacy}.weight`)) return `${prefix}.${legacy}`;
  throw new Error(`checkpoint has no tensor "${prefix}.${name}.weight"`);
}

/**
 * The mid block's single-head self-attention over all pixels: GroupNorm pre-norm, q/k/v/out
 * projections, softmax in fp32, residual add (rescale_output_factor is 1 in the decoder). On the
 * fused profile the attention is tiled, so the [HW, HW] score matrix is never materialized.
 */
async function midAttention(
  ctx: Ctx,
  x: string,
  prefix: string,
  channels: number,
  groups: number,
): Promise<string> {
  const g = ctx.g;
  const normed = await groupNorm(ctx, x, `${prefix}.group_norm`, channels, groups, VAE_NORM_EPS);
  const tokens = g.op("Transpose", [g.op("Reshape", [normed, g.ints([0, channels, -1])])], {
    perm: [0, 2, 1],
  });
  const head = async (name: string, legacy: string) => {
    const p = projection(ctx, prefix, name, legacy);
    expectShape(ctx, `${p}.weight`, [channels, channels]);
    return await linear(ctx, tokens, p);
  };
  const q = await head("to_q", "query");
  const k = await head("to_k", "key");
  const v = await head("to_v", "value");
  const attn = multiHeadAttention(ctx, q, k, v, 1, channels);
  const outProj = projection(ctx, prefix, "to_out.0", "proj_attn");
  expectShape(ctx, `${outProj}.weight`, [channels, channels]);
  const out = await linear(ctx, attn, outProj);
  const spatial = g.op("Reshape", [
    g.op("Transpose", [out], { perm: [0, 2, 1] }),
    g.op("Shape", [x]),
  ]);
  return g.op("Add", [spatial, x]);
}

/** Nearest-neighbour 2x upsampling (torch `interpolate(scale_factor=2, mode="nearest")`). */
function upsampleNearest2x(ctx: Ctx, x: string): string {
  const scales = floatInit(
    ctx,
    ctx.g.fresh("upsample_scales"),
    Float32Array.of(1, 1, 2, 2),
    [4],
    "float32",
  );
  return ctx.g.op("Resize", [x, "", scales], {
    mode: "nearest",
    coordinate_transformation_mode: "asymmetric",
    nearest_mode: "floor",
  });
}

/**
 * Builds the AutoencoderKL decoder into `ctx.g` from its `config.json` and weights (the `decoder.*`
 * and `post_quant_conv.*` tensors). Graph input `latent` [batch, latent_channels, height, width],
 * output `sample` [batch, out_channels, out_height, out_width], both in `ctx.act`.
 */
export async function buildVaeDecoder(ctx: Ctx, config: Record<string, unknown>): Promise<void> {
  const cfg = parseVaeConfig(config);
  const g = ctx.g;
  const widths = [...cfg.blockOutChannels].reverse();
  const top = widths[0];
  const latent = g.input("latent", ctx.act, ["batch", cfg.latentChannels, "height", "width"]);

  let x = latent;
  if (cfg.postQuantConv) {
    const c = cfg.latentChannels;
    x = await sameConv(ctx, x, "post_quant_conv", c, c, 1);
  }
  x = await sameConv(ctx, x, "decoder.conv_in", top, cfg.latentChannels, 3);

  const mid = "decoder.mid_block";
  x = await resnet(ctx, x, `${mid}.resnets.0`, top, top, cfg.groups);
  if (cfg.midAttention) x = await midAttention(ctx, x, `${mid}.attentions.0`, top, cfg.groups);
  x = await resnet(ctx, x, `${mid}.resnets.1`, top, top, cfg.groups);

  let cin = top;
  for (let i = 0; i < widths.length; i++) {
    const block = `decoder.up_blocks.${i}`;
    const cout = widths[i];
    for (let j = 0; j <= cfg.layersPerBlock; j++) {
      x = await resnet(ctx, x, `${block}.resnets.${j}`, cin, cout, cfg.groups);
      cin = cout;
    }
    if (i < widths.length - 1) {
      x = await sameConv(
        ctx,
        upsampleNearest2x(ctx, x),
        `${block}.upsamplers.0.conv`,
        cout,
        cout,
        3,
      );
    }
  }

  const bottom = widths[widths.length - 1];
  x = silu(ctx, await groupNorm(ctx, x, "decoder.conv_norm_out", bottom, cfg.groups, VAE_NORM_EPS));
  x = await sameConv(ctx, x, "decoder.conv_out", cfg.outChannels, bottom, 3);
  g.output(x, "sample", ctx.act, ["batch", cfg.outChannels, "out_height", "out_width"]);
}
