/**
 * A generator for tests that do not exercise the model: it sleeps a fixed time per step, honours the
 * abort signal before each step exactly as the pipeline contract says, and paints a seed-dependent
 * gradient of the requested size.
 */
import type { GeneratorRequest, ImageGenerator } from "../../lib/jobs/generator.ts";

/** Creates the fake with `stepMs` of sleep per step; `fail` makes prompts containing it throw. */
export function fakeGenerator(stepMs: number, fail = "__fail__"): ImageGenerator {
  return {
    async generate(request: GeneratorRequest, options = {}) {
      if (request.prompt.includes(fail)) throw new Error(`engine "dit" failed: injected failure`);
      for (let step = 1; step <= request.steps; step++) {
        if (options.signal?.aborted) throw new DOMException("Generation aborted", "AbortError");
        await new Promise((r) => setTimeout(r, stepMs));
        options.onStep?.(step, request.steps);
      }
      const { width, height } = request;
      const image = new Uint8Array(width * height * 3);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const i = (y * width + x) * 3;
          image[i] = (x * 255) / width;
          image[i + 1] = (y * 255) / height;
          image[i + 2] = request.seed % 256;
        }
      }
      return { image, width, height };
    },
    describe: () => ({ backend: "fake", modelVersion: "test", precision: "none", sizes: "any" }),
    close: () => {},
  };
}
