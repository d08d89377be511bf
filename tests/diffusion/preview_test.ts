/**
 * Live previews: the least-squares fit recovers a linear latent-to-RGB map from decodes, the
 * projection keeps the preview within its side, and the real pipeline (bundled hydit-tiny) sends a
 * changing preview with every step once it has decoded once.
 */
import assert from "node:assert/strict";
import { bundledEngines } from "../../engines/bundled.ts";
import { loadPipeline } from "../../lib/diffusion/mod.ts";
import { addDecode, emptyFit, projectLatents, solveFit } from "../../lib/diffusion/preview.ts";

/** Latents [4, h, w] and the image a linear "VAE" with `weights` decodes them to (8x8 blocks). */
function linearDecode(weights: number[], h: number, w: number, seed: number) {
  const latents = new Float32Array(4 * h * w);
  let s = seed;
  for (let i = 0; i < latents.length; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    latents[i] = (s / 2 ** 31) * 2 - 1;
  }
  const rgb = new Uint8Array(h * 8 * w * 8 * 3);
  for (let y = 0; y < h * 8; y++) {
    for (let x = 0; x < w * 8; x++) {
      const p = (y >> 3) * w + (x >> 3);
      for (let ch = 0; ch < 3; ch++) {
        let v = weights[ch * 5 + 4];
        for (let k = 0; k < 4; k++) v += weights[ch * 5 + k] * latents[k * h * w + p];
        rgb[(y * w * 8 + x) * 3 + ch] = Math.round(v);
      }
    }
  }
  return { latents, channels: 4, height: h, width: w, rgb };
}

Deno.test("the preview fit recovers a linear decoder and previews keep their side", () => {
  const weights = [20, -10, 5, 0, 128, 0, 30, -20, 10, 100, -5, 0, 25, 15, 140];
  const fit = emptyFit(4);
  assert.equal(solveFit(fit), null);
  addDecode(fit, linearDecode(weights, 12, 16, 1));
  addDecode(fit, linearDecode(weights, 8, 8, 2));
  const projection = solveFit(fit)!;
  for (const [i, w] of weights.entries()) assert.ok(Math.abs(projection.weights[i] - w) < 0.5);

  const check = linearDecode(weights, 128, 96, 3);
  const preview = projectLatents(projection, check.latents, {
    height: 128,
    width: 96,
    maxSide: 64,
  });
  assert.deepEqual([preview.width, preview.height], [48, 64]);
  // Preview pixel (y, x) is latent pixel (2y, 2x), whose image block has that exact colour.
  for (const [y, x] of [[0, 0], [10, 20], [63, 47]]) {
    for (let ch = 0; ch < 3; ch++) {
      const want = check.rgb[((2 * y * 8) * 96 * 8 + 2 * x * 8) * 3 + ch];
      assert.ok(Math.abs(preview.rgb[(y * 48 + x) * 3 + ch] - want) <= 1);
    }
  }
});

Deno.test("the pipeline sends a changing preview with every step once it has decoded", async () => {
  const pipeline = await loadPipeline(await bundledEngines(() => {}));
  try {
    const request = {
      prompt: "a red circle on a blue background",
      width: 128,
      height: 128,
      steps: 6,
      guidanceScale: 5,
      seed: 1,
      sampler: "dpmpp" as const,
      resolutionBinning: false,
    };
    const before: number[] = [];
    await pipeline.generate(request, { onPreview: (step) => before.push(step) });
    assert.deepEqual(before, [], "no preview before the first decode");

    const previews: { step: number; rgb: Uint8Array; width: number }[] = [];
    const order: string[] = [];
    await pipeline.generate({ ...request, seed: 2 }, {
      onPreview: (step, p) => {
        previews.push({ step, rgb: p.rgb.slice(), width: p.width });
        order.push(`preview ${step}`);
      },
      onStep: (step) => order.push(`step ${step}`),
    });
    assert.deepEqual(previews.map((p) => p.step), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(order.slice(0, 4), ["preview 1", "step 1", "preview 2", "step 2"]);
    assert.equal(previews[0].width, 16);
    assert.notDeepEqual(previews[0].rgb, previews[5].rgb);
  } finally {
    await pipeline.close();
  }
});
