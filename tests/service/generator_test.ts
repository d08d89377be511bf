/**
 * The real pipeline behind the service's generator contract, on worker threads: steps reported in
 * order, pixels of the requested size, cancellation at the next step, and load failures.
 */
import assert from "node:assert/strict";
import { isAbortError } from "../../lib/jobs/generator.ts";
import { threadedPipeline } from "../../lib/jobs/pipeline_threads.ts";
import { testEngines } from "./_harness.ts";

const engines = await testEngines();

Deno.test("threadedPipeline() reports a folder it cannot load with the pipeline's message", async () => {
  await assert.rejects(
    threadedPipeline({ engineDir: `${engines}/nowhere` }),
    /nowhere\/manifest\.json: cannot read the engine manifest/,
  );
});

Deno.test({
  name:
    "threadedPipeline() runs the real pipeline off the main thread and cancels at the next step",
  async fn() {
    const gen = await threadedPipeline({
      engineDir: engines,
      options: { sizeLimits: { min: 64, max: 256 } },
    });
    try {
      assert.equal(gen.describe().backend, "onnx");
      const steps: number[] = [];
      const request = {
        prompt: "a lighthouse",
        width: 96,
        height: 64,
        steps: 4,
        guidanceScale: 5,
        seed: 3,
        resolutionBinning: false,
      };
      const out = await gen.generate(request, {
        onStep: (step, total) => steps.push(step * 100 + total),
      });
      assert.deepEqual(steps, [104, 204, 304, 404]);
      assert.deepEqual([out.width, out.height, out.image.length], [96, 64, 96 * 64 * 3]);
      const again = await gen.generate(request);
      assert.deepEqual(again.image, out.image, "same seed, same pixels");

      const controller = new AbortController();
      let last = 0;
      let abortedAt = 0;
      const run = gen.generate(
        {
          prompt: "stop me",
          width: 64,
          height: 64,
          steps: 100,
          guidanceScale: 5,
          seed: 1,
          resolutionBinning: false,
        },
        {
          signal: controller.signal,
          onStep: (step) => {
            last = step;
            if (step === 5) {
              abortedAt = step;
              controller.abort();
            }
          },
        },
      );
      await assert.rejects(run, (e) => isAbortError(e));
      // Steps are reported asynchronously from the thread; the run stops within a step or two.
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(last - abortedAt <= 2, `ran to step ${last} after abort at ${abortedAt}`);
      const after = await gen.generate({
        prompt: "still works",
        width: 64,
        height: 64,
        steps: 2,
        guidanceScale: 5,
        seed: 2,
        resolutionBinning: false,
      });
      assert.equal(after.image.length, 64 * 64 * 3);
    } finally {
      await gen.close();
    }
  },
});
