/**
 * Scores a built hydit-tiny engine folder on the held-out prompts of
 * tests/golden/data/quality/prompts.json: one picture per prompt (seed = its index), inspected by the
 * pixel checker. Run as a script to print the score of any engine folder:
 *
 *   deno run -A tests/quality/evaluate.ts ENGINE_DIR [--steps N] [--guidance G] [--sampler S]
 */
import { parseArgs } from "node:util";
import { loadPipeline } from "../../lib/diffusion/pipeline.ts";
import type { SchedulerKind } from "../../lib/diffusion/schedulers.ts";
import { inspectShape, type Palette, type Verdict } from "./shape_checker.ts";

const PROMPTS = new URL("../golden/data/quality/prompts.json", import.meta.url).pathname;

/** One held-out prompt and what it asks for. */
export interface QualityPrompt {
  lang: "en" | "zh";
  prompt: string;
  shape: string;
  colour: string;
  background: string;
}

/** Generation settings of an evaluation. */
export interface EvalSettings {
  steps: number;
  guidanceScale: number;
  sampler: SchedulerKind;
}

/** Accuracy per language: both colours right, and the shape right. */
export interface LanguageScore {
  prompts: number;
  colour: number;
  shape: number;
}

/** The prompts file: picture size, palette and prompts. */
export async function readPrompts(): Promise<
  { size: number; palette: Palette; prompts: QualityPrompt[] }
> {
  return JSON.parse(await Deno.readTextFile(PROMPTS));
}

/** Generates and inspects one picture per prompt; returns per-language accuracy and the misses. */
export async function evaluate(
  engineDir: string,
  settings: EvalSettings,
  opts: { threads?: number; onPicture?: (i: number, v: Verdict) => void } = {},
): Promise<{ scores: Record<string, LanguageScore>; misses: string[] }> {
  const { size, palette, prompts } = await readPrompts();
  const pipeline = await loadPipeline(engineDir, { threads: opts.threads });
  const scores: Record<string, LanguageScore> = {};
  const misses: string[] = [];
  try {
    for (const [i, p] of prompts.entries()) {
      const { image } = await pipeline.generate({
        prompt: p.prompt,
        width: size,
        height: size,
        steps: settings.steps,
        guidanceScale: settings.guidanceScale,
        sampler: settings.sampler,
        seed: i,
        resolutionBinning: false,
      });
      const v = inspectShape(image, size, size, palette);
      opts.onPicture?.(i, v);
      const s = scores[p.lang] ??= { prompts: 0, colour: 0, shape: 0 };
      const colourOk = v.colour === p.colour && v.background === p.background;
      const shapeOk = v.shape === p.shape;
      s.prompts++;
      s.colour += colourOk ? 1 : 0;
      s.shape += shapeOk ? 1 : 0;
      if (!colourOk || !shapeOk) {
        misses.push(
          `#${i} ${p.prompt}: saw ${v.colour} ${v.shape} on ${v.background} (fill ${
            v.fill.toFixed(2)
          }, top ${v.top.toFixed(2)})`,
        );
      }
    }
  } finally {
    await pipeline.close();
  }
  return { scores, misses };
}

/** A one-line-per-language summary. */
export function formatScores(scores: Record<string, LanguageScore>): string {
  return Object.entries(scores).map(([lang, s]) =>
    `${lang}: colour ${(100 * s.colour / s.prompts).toFixed(1)}% shape ${
      (100 * s.shape / s.prompts).toFixed(1)
    }% (${s.prompts} prompts)`
  ).join("\n");
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      steps: { type: "string", default: "20" },
      guidance: { type: "string", default: "5" },
      sampler: { type: "string", default: "dpmpp" },
      misses: { type: "boolean", default: false },
    },
  });
  const settings = {
    steps: Number(values.steps),
    guidanceScale: Number(values.guidance),
    sampler: values.sampler as SchedulerKind,
  };
  const started = performance.now();
  const { scores, misses } = await evaluate(positionals[0], settings);
  console.log(formatScores(scores));
  if (values.misses) console.log(misses.join("\n"));
  console.log(`${((performance.now() - started) / 1000).toFixed(1)} s`);
}
