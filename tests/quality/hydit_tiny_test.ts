/**
 * The bundled hydit-tiny model draws what it is asked for: at the model's defaults, on 128 held-out
 * prompts per language (phrasings never used in training), the pixel checker scores the shape
 * colour + background colour and the shape of every picture. This is the strongest end-to-end check
 * there is: it only passes when tokenizers, text encoders, RoPE, guidance, scheduler and VAE all
 * match what the model was trained with.
 *
 * The target is 90% colour / 80% shape in both languages. The shipped checkpoint (8000 DiT steps and
 * 3200 rebalancing steps with space-spanning T5 pieces) measures en 71.1% / 96.9%, zh 88.3% / 99.2%:
 * about a quarter of English colours still come out swapped. FLOORS are those measurements less about
 * 4 points, so a pipeline regression fails here; raise them when a better checkpoint ships.
 */
import assert from "node:assert/strict";
import { BUNDLED_CHECKPOINT } from "../../engines/bundled.ts";
import { runBuild } from "../../engines/build_folder.ts";
import { COMPONENT_NAMES, readManifest } from "../../lib/engine/mod.ts";
import { modelCard } from "../../lib/diffusion/mod.ts";
import { evaluate, formatScores } from "./evaluate.ts";

/** Lowest accepted accuracy per language (fractions of the held-out prompts). */
const FLOORS: Record<string, { colour: number; shape: number }> = {
  en: { colour: 0.67, shape: 0.93 },
  zh: { colour: 0.84, shape: 0.95 },
};

Deno.test("hydit-tiny keeps its measured colour and shape accuracy on held-out phrasings", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hydit_tiny_quality_" });
  try {
    const out = `${dir}/engines`;
    await runBuild({
      checkpoint: BUNDLED_CHECKPOINT,
      out,
      precision: "fp32",
      only: [...COMPONENT_NAMES],
      threads: 1,
      force: false,
      verify: false,
      trt: false,
      dryRun: false,
    }, () => {});
    const { defaults } = modelCard(await readManifest(out));
    const { scores, misses } = await evaluate(out, defaults, { threads: 1 });
    console.log(formatScores(scores));
    assert.deepEqual(Object.keys(scores).sort(), ["en", "zh"]);
    for (const [lang, s] of Object.entries(scores)) {
      assert.ok(s.prompts >= 100, `${lang}: ${s.prompts} prompts`);
      const detail = `${lang}\n${misses.join("\n")}`;
      const floor = FLOORS[lang];
      assert.ok(s.colour / s.prompts >= floor.colour, `colour ${s.colour}/${s.prompts} ${detail}`);
      assert.ok(s.shape / s.prompts >= floor.shape, `shape ${s.shape}/${s.prompts} ${detail}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
