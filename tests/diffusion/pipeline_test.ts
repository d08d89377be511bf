/**
 * The whole pipeline on the tiny random checkpoints and on the bundled trained hydit-tiny model
 * against diffusers' HunyuanDiTPipeline: same
 * prompt, negative prompt, size, steps, guidance and CPU-generator seed (goldens from
 * tests/golden/gen_engine_goldens.py). Engines are built once per precision by the real builder.
 */
import assert from "node:assert/strict";
import { parseBuildArgs } from "../../engines/build.ts";
import { BUNDLED_CHECKPOINT } from "../../engines/bundled.ts";
import { runBuild } from "../../engines/build_folder.ts";
import { loadPipeline, type Pipeline } from "../../lib/diffusion/pipeline.ts";
import { GOLDEN, type GoldenCase, goldenCases } from "../engine/goldens.ts";

const built = new Map<string, Promise<string>>();

/** Builds (once per checkpoint and precision) a full engine folder in a temp dir. */
function engines(checkpoint: string, precision: "fp32" | "fp16"): Promise<string> {
  const key = `${checkpoint}:${precision}`;
  if (!built.has(key)) {
    built.set(
      key,
      (async () => {
        const out = `${await Deno.makeTempDir({ prefix: "pipeline_test_" })}/engines`;
        const opts = parseBuildArgs([
          "--checkpoint",
          checkpoint === "hydit-tiny" ? BUNDLED_CHECKPOINT : `${GOLDEN}${checkpoint}`,
          "--out",
          out,
          "--precision",
          precision,
          "--threads",
          "1",
        ]);
        await runBuild(opts, () => {});
        return out;
      })(),
    );
  }
  return built.get(key)!;
}

async function bytes(c: GoldenCase, name: string): Promise<Uint8Array> {
  return await Deno.readFile(`${GOLDEN}engines/${c.outputs[name].file}`);
}

async function floats(c: GoldenCase, name: string): Promise<Float32Array> {
  return new Float32Array((await bytes(c, name)).buffer);
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function run(pipeline: Pipeline, c: GoldenCase) {
  const p = c.params as Record<string, unknown>;
  const steps: number[] = [];
  const result = await pipeline.generate({
    prompt: p.prompt as string,
    negativePrompt: p.negative_prompt as string,
    height: p.height as number,
    width: p.width as number,
    steps: p.num_inference_steps as number,
    guidanceScale: p.guidance_scale as number,
    guidanceRescale: p.guidance_rescale as number,
    seed: c.seed as number,
    sampler: SAMPLERS[c.sampler as string],
    resolutionBinning: p.use_resolution_binning as boolean,
  }, { onStep: (i, n) => steps.push(i * 1000 + n) });
  return { result, steps };
}

const SAMPLERS: Record<string, "ddpm" | "ddim" | "dpmpp"> = {
  ddpm: "ddpm",
  ddim: "ddim",
  "dpmsolver++": "dpmpp",
};

const CASES: [string, string][] = [
  ["pipeline_v12_ddpm", "tiny/tiny-v12"],
  ["pipeline_v12_ddim", "tiny/tiny-v12"],
  ["pipeline_v12_dpmsolverpp", "tiny/tiny-v12"],
  ["pipeline_v11_ddpm", "tiny/tiny-v11"],
  // Non-square with guidance rescale; non-square v1.1 (W-first meta size); no CFG (batch 1).
  ["pipeline_v12_ddpm_96x64_rescale", "tiny/tiny-v12"],
  ["pipeline_v11_dpmsolverpp_64x112", "tiny/tiny-v11"],
  ["pipeline_v12_ddim_nocfg", "tiny/tiny-v12"],
  // The bundled trained model: every sampler at its native size and two non-square sizes.
  ...["128x128", "160x96", "128x192"].flatMap((size) =>
    ["ddpm", "ddim", "dpmsolverpp"].map((s): [string, string] => [
      `pipeline_hydit_tiny_${s}_${size}`,
      "hydit-tiny",
    ])
  ),
];

for (const [name, checkpoint] of CASES) {
  Deno.test(`pipeline (fp32 engines) reproduces diffusers: ${name}`, async () => {
    const c = (await goldenCases())[name];
    const pipeline = await loadPipeline(await engines(checkpoint, "fp32"), { threads: 1 });
    try {
      const { result, steps } = await run(pipeline, c);
      const n = (c.params as { num_inference_steps: number }).num_inference_steps;
      assert.deepEqual(steps, Array.from({ length: n }, (_, i) => (i + 1) * 1000 + n));
      const p = c.params as { width: number; height: number };
      assert.equal(result.width, p.width);
      assert.equal(result.height, p.height);
      // Trained-model cases also carry the float64 result; diffusers' own float32 rounding error
      // (1.9e-4 in one case of an earlier model) widens the bound against its float32 latents.
      const want = await floats(c, "latents");
      let bound = 1e-4;
      if (c.outputs.latents_f64) {
        const exact = await floats(c, "latents_f64");
        const exactErr = maxAbs(result.latents, exact);
        assert.ok(exactErr < 1e-4, `final latents max abs ${exactErr} from float64`);
        bound += maxAbs(want, exact);
      }
      const latentErr = maxAbs(result.latents, want);
      assert.ok(latentErr < bound, `final latents max abs ${latentErr} (bound ${bound})`);
      const pixelErr = maxAbs(result.image, await bytes(c, "image"));
      assert.ok(pixelErr <= 2, `image max abs ${pixelErr}/255`);
      console.log(
        `${name}: latents max abs ${latentErr.toExponential(2)}, pixels max abs ${pixelErr}/255`,
      );
    } finally {
      await pipeline.close();
    }
  });
}

Deno.test("pipeline (fp16 engines) stays close to diffusers' fp32 image", async () => {
  const c = (await goldenCases()).pipeline_v12_ddpm;
  const pipeline = await loadPipeline(await engines("tiny/tiny-v12", "fp16"), { threads: 1 });
  try {
    const { result } = await run(pipeline, c);
    const want = await bytes(c, "image");
    let sum = 0;
    for (let i = 0; i < want.length; i++) sum += Math.abs(result.image[i] - want[i]);
    assert.ok(sum / want.length < 3, `mean abs ${sum / want.length}/255`);
  } finally {
    await pipeline.close();
  }
});

Deno.test("pipeline stops at the next step when the signal aborts", async () => {
  const c = (await goldenCases()).pipeline_v12_ddpm;
  const pipeline = await loadPipeline(await engines("tiny/tiny-v12", "fp32"), { threads: 1 });
  try {
    const controller = new AbortController();
    const seen: number[] = [];
    await assert.rejects(
      () =>
        pipeline.generate({
          prompt: "a cat",
          height: 64,
          width: 64,
          steps: 10,
          guidanceScale: 5,
          seed: 1,
          resolutionBinning: false,
        }, {
          signal: controller.signal,
          onStep: (i) => {
            seen.push(i);
            if (i === 3) controller.abort();
          },
        }),
      (e: Error) => e.name === "AbortError",
    );
    assert.deepEqual(seen, [1, 2, 3]);
    assert.ok(c);
  } finally {
    await pipeline.close();
  }
});
