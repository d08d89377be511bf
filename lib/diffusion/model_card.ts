/**
 * What a model is and how it is used by default: its name, generation defaults (size, steps,
 * guidance, sampler) and the sizes it was trained at. engines:build records them in the manifest
 * (from a checkpoint's `serving.json`, or {@linkcode deriveModelSpec} for checkpoints without one);
 * the API, CLI and page take their defaults from here.
 *
 * @module
 */
import type { Manifest, ModelSpec } from "../engine/mod.ts";
import { type ImageSize, STANDARD_SIZES } from "./resolution.ts";
import { SAMPLERS, type SchedulerKind } from "./_sampler.ts";

/** A model's generation defaults. */
export interface ModelDefaults extends ImageSize {
  steps: number;
  guidanceScale: number;
  sampler: SchedulerKind;
}

/** A model's name, defaults and trained sizes (native size first). */
export interface ModelCard {
  name: string;
  description: string;
  defaults: ModelDefaults;
  sizes: ImageSize[];
}

/** diffusers' `HunyuanDiTPipeline` defaults (50 DDPM steps, guidance 5), the card of real checkpoints. */
const PIPELINE_DEFAULTS = { steps: 50, guidanceScale: 5, sampler: "ddpm" } as const;
const VAE_FACTOR = 8;

/**
 * The spec of a checkpoint without `serving.json`: the transformer's native size (`sample_size` x 8,
 * 1024 for Tencent's checkpoints, which were trained at the 10 standard sizes) with diffusers'
 * defaults. `name` is the checkpoint folder's name.
 */
export function deriveModelSpec(
  name: string,
  transformerConfig: Record<string, unknown>,
): ModelSpec {
  const native = Number(transformerConfig.sample_size ?? 128) * VAE_FACTOR;
  const sizes = native === 1024
    ? STANDARD_SIZES.map((s) => [s.width, s.height] as [number, number])
    : [[native, native] as [number, number]];
  return {
    name,
    description: "",
    defaults: { width: native, height: native, ...PIPELINE_DEFAULTS },
    sizes,
  };
}

/** Checks a spec's sampler and turns it into a card; throws a `RangeError` naming the field. */
export function toModelCard(spec: ModelSpec): ModelCard {
  const sampler = spec.defaults.sampler;
  if (!(SAMPLERS as readonly string[]).includes(sampler)) {
    throw new RangeError(
      `model.defaults.sampler: "${sampler}" is not one of ${SAMPLERS.join(", ")}`,
    );
  }
  return {
    name: spec.name,
    description: spec.description,
    defaults: { ...spec.defaults, sampler: sampler as SchedulerKind },
    sizes: spec.sizes.map(([width, height]) => ({ width, height })),
  };
}

/** The card of an engine folder (derived for folders built before manifests carried one). */
export function modelCard(manifest: Manifest): ModelCard {
  if (manifest.model) return toModelCard(manifest.model);
  const name = manifest.source.checkpoint.replace(/\/+$/, "").split("/").pop() || "hunyuandit";
  return toModelCard(
    deriveModelSpec(name, manifest.components.transformer?.config ?? {}),
  );
}
