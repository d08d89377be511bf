/**
 * The served model for the composition root: the production generator loader (backend choice,
 * pipeline threads), the model card of an engine folder, its ONNX weight size for memory
 * admission, and the warm-up generation.
 *
 * @module
 */
import type { Config } from "./config.ts";
import { type ModelCard, modelCard } from "./diffusion/mod.ts";
import { ManifestError, probeBackend, readManifest } from "./engine/mod.ts";
import { type ImageGenerator, imageTokens, threadedPipeline, type Worker } from "./jobs/mod.ts";
import type { Log } from "./log.ts";

/** How the service gets its image generator. */
export type GeneratorLoader = (engineDir: string) => Promise<ImageGenerator>;

/**
 * The production loader: chooses the backend for the engine folder (TensorRT when its shim and
 * plans fit this GPU, else ONNX Runtime) and runs the pipeline on one thread per concurrency slot.
 */
export function pipelineLoader(config: Config, log: Log): GeneratorLoader {
  return async (engineDir) => {
    const choice = await probeBackend(engineDir, {
      preference: config.backend,
      shimPath: config.trtShim,
    });
    log("info", "engine backend chosen", { backend: choice.backend, reason: choice.reason });
    return await threadedPipeline({
      engineDir,
      options: {
        backend: choice.backend,
        threads: config.threads,
        trtShim: config.trtShim,
        sizeLimits: { min: config.minSide, max: config.maxSide },
      },
      threads: config.concurrency,
    });
  };
}

/** One short generation at the smallest size, so the first request does not pay for lazy setup. */
export async function warmUp(
  generator: ImageGenerator,
  worker: Worker,
  config: Config,
): Promise<void> {
  let last = performance.now();
  await generator.generate({
    prompt: "warm-up",
    width: config.minSide,
    height: config.minSide,
    steps: config.warmupSteps,
    guidanceScale: 5,
    seed: 0,
    resolutionBinning: false,
  }, {
    onStep: (step) => {
      const now = performance.now();
      if (step > 1) {
        worker.observeStep((now - last) / 1000, imageTokens(config.minSide, config.minSide));
      }
      last = now;
    },
  });
}

/**
 * The card (name, request defaults, sizes) of the engine folder; a folder without a manifest gets
 * an error that says how to make one.
 */
export async function readModelCard(engines: string): Promise<ModelCard> {
  try {
    return modelCard(await readManifest(engines));
  } catch (e) {
    if (e instanceof ManifestError && e.cause instanceof Deno.errors.NotFound) {
      throw new Error(
        `${engines}: no engine folder here (no manifest.json). Build one with ` +
          `"deno task engines:build --checkpoint CHECKPOINT --out ${engines}", or leave ` +
          `HYDIT_ENGINES unset to serve the bundled hydit-tiny model (what "deno task demo" does)`,
        { cause: e },
      );
    }
    throw e;
  }
}

/** MiB of the ONNX weights files an engine folder's manifest lists (0 without a manifest). */
export async function onnxWeightsMiB(engines: string): Promise<number> {
  try {
    const files = Object.entries((await readManifest(engines)).files);
    const bytes = files.filter(([rel]) => rel.endsWith(".weights")).reduce(
      (sum, [, f]) => sum + f.bytes,
      0,
    );
    return Math.ceil(bytes / 2 ** 20);
  } catch {
    return 0;
  }
}
