/**
 * Generation parameters as PNG text chunks.
 *
 * @module
 */

import type { PngText } from "./png.ts";

/** What produced an image; every field is optional. */
export interface GenerationMetadata {
  /** The prompt (any language; UTF-8 text is written as iTXt). */
  prompt?: string;
  /** The negative prompt. */
  negativePrompt?: string;
  /** The noise seed. */
  seed?: number | bigint;
  /** Number of denoising steps. */
  steps?: number;
  /** Classifier-free guidance scale. */
  guidanceScale?: number;
  /** Model name / version. */
  model?: string;
  /** Sampler name. */
  sampler?: string;
}

const KEYWORDS: readonly [keyof GenerationMetadata, string][] = [
  ["prompt", "prompt"],
  ["negativePrompt", "negative_prompt"],
  ["seed", "seed"],
  ["steps", "steps"],
  ["guidanceScale", "guidance_scale"],
  ["sampler", "sampler"],
  ["model", "model"],
];

/**
 * Text chunks for `meta`, keywords prompt, negative_prompt, seed, steps, guidance_scale, sampler, model
 * (absent fields are skipped), followed by Software = "hunyuandit-deno".
 *
 * @param meta the generation parameters
 * @returns keyword/text pairs for {@linkcode encodePng}
 */
export function metadataText(meta: GenerationMetadata): PngText[] {
  const out: PngText[] = [];
  for (const [field, keyword] of KEYWORDS) {
    const v = meta[field];
    if (v !== undefined) out.push([keyword, String(v)]);
  }
  out.push(["Software", "hunyuandit-deno"]);
  return out;
}
