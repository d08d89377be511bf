/**
 * The training tool (engines/train/train.py) runs every stage at toy sizes and writes a folder that
 * both diffusers (checked inside the tool) and our builder and pipeline load. Needs the reference
 * Python environment: .ci/run sets HYDIT_REF_PYTHON (from tests/golden/ref_venv.sh); without it the
 * test is skipped.
 */
import assert from "node:assert/strict";
import { runBuild } from "../../engines/build_folder.ts";
import { loadPipeline, modelCard } from "../../lib/diffusion/mod.ts";
import { COMPONENT_NAMES, readManifest } from "../../lib/engine/mod.ts";

const PYTHON = Deno.env.get("HYDIT_REF_PYTHON");
const TRAIN = new URL("../../engines/train/train.py", import.meta.url).pathname;

/** Runs train.py at smoke sizes on one thread with `args`; returns its exit code and output. */
async function python(args: string[]): Promise<{ code: number; log: string }> {
  const run = await new Deno.Command(PYTHON!, {
    args: [TRAIN, "--smoke", "--threads", "1", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: run.code, log: text.decode(run.stdout) + text.decode(run.stderr) };
}

Deno.test({
  name:
    "train.py --smoke trains every stage, rebalances with new T5 pieces, and writes a folder our builder and pipeline load",
  ignore: !PYTHON,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "train_smoke_" });
    try {
      const { code, log } = await python(["--out", `${dir}/hydit-smoke`]);
      assert.equal(code, 0, log);
      for (const stage of ["vae 3/3", "encoded 64 scenes", "dit 3/3", "decoder 2/2", "reloaded"]) {
        assert.ok(log.includes(stage), `no "${stage}" in the log:\n${log}`);
      }
      const training = JSON.parse(await Deno.readTextFile(`${dir}/hydit-smoke/training.json`));
      assert.equal(training.dit.steps, 3);

      // The rebalancing stage continues the written model, with the space-spanning T5 pieces the
      // shipped model uses, and keeps the base run's record.
      const tune = await python([
        "--tune-from",
        `${dir}/hydit-smoke`,
        "--retokenize-t5",
        "--out",
        `${dir}/hydit-smoke-tuned`,
      ]);
      assert.equal(tune.code, 0, tune.log);
      assert.ok(tune.log.includes("tune 3/3"), `no "tune 3/3" in the log:\n${tune.log}`);
      const tuned = JSON.parse(await Deno.readTextFile(`${dir}/hydit-smoke-tuned/training.json`));
      assert.deepEqual([tuned.dit.steps, tuned.tune.steps, tuned.tune.t5_pieces], [3, 3, 600]);

      const out = `${dir}/engines`;
      await runBuild({
        checkpoint: `${dir}/hydit-smoke-tuned`,
        out,
        precision: "fp32",
        only: [...COMPONENT_NAMES],
        threads: 1,
        force: false,
        verify: true,
        trt: false,
        dryRun: false,
      }, () => {});
      const card = modelCard(await readManifest(out));
      assert.equal(card.name, "hydit-tiny");
      const pipeline = await loadPipeline(out, { threads: 1 });
      try {
        const { image, width, height } = await pipeline.generate({
          prompt: "a red circle on a blue background",
          width: card.defaults.width,
          height: card.defaults.height,
          steps: 2,
          guidanceScale: card.defaults.guidanceScale,
          sampler: card.defaults.sampler,
          seed: 0,
          resolutionBinning: false,
        });
        assert.equal(image.length, width * height * 3);
      } finally {
        await pipeline.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
