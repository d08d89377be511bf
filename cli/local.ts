/**
 * `deno task generate` on this machine: the engine folder's model card fills the defaults (as the
 * API does), the request is validated by the API's own schema, the pipeline runs here, and the PNG
 * carries the generation parameters.
 *
 * @module
 */
import { loadConfig } from "../lib/config.ts";
import { loadPipeline } from "../lib/diffusion/mod.ts";
import {
  type GenerationRequest,
  generationRequestSchema,
  toParams,
  validationError,
} from "../lib/http/mod.ts";
import { encodeImage } from "../lib/image/mod.ts";
import { readModelCard } from "../lib/service_model.ts";
import { stepProgress } from "./progress.ts";
import { type Outcome, usageError } from "./outcome.ts";

/** Generates `body` with the engines in `engines`; writes the PNG to `out` (default by seed). */
export async function generateLocally(
  engines: string,
  body: Record<string, unknown>,
  out: string | undefined,
): Promise<Outcome> {
  const config = loadConfig([], () => undefined);
  const card = await readModelCard(engines);
  const parsed = generationRequestSchema(config, card.defaults).safeParse(body);
  if (!parsed.success) return usageError(validationError(parsed.error).message);
  const { params } = toParams(parsed.data as GenerationRequest, config, card.defaults);
  const started = performance.now();
  const pipeline = await loadPipeline(engines);
  try {
    const progress = stepProgress();
    const result = await pipeline.generate(params, {
      onStep: (step, steps) => progress.step(step, steps),
    });
    progress.done();
    const png = await encodeImage(result.image, result.width, result.height, "png", {
      prompt: params.prompt,
      negativePrompt: params.negativePrompt,
      seed: params.seed,
      steps: params.steps,
      guidanceScale: params.guidanceScale,
      sampler: params.sampler,
      model: pipeline.describe().modelVersion,
    });
    const path = out ?? `hydit-${params.seed}.png`;
    await Deno.writeFile(path, png);
    return {
      code: 0,
      path,
      seed: params.seed,
      size: `${result.width}x${result.height}`,
      steps: params.steps,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await pipeline.close();
  }
}
