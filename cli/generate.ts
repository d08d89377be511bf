/**
 * `deno task generate "prompt" [--negative ..] [--size WxH] [--steps N] [--guidance G] [--seed S]
 * [--sampler ..] [--out file.png] [--engines DIR | --server URL --api-key K]`: one image, made here
 * (the bundled hydit-tiny, or the engine folder given) or by a running service. Progress on stderr;
 * the path, seed and timing on stdout. Exit code 0 on success, 2 for bad input, 1 for failures.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { bundledEngines } from "../engines/bundled.ts";
import { generateLocally } from "./local.ts";
import { type Outcome, usageError } from "./outcome.ts";
import { generateRemotely } from "./remote.ts";

const HELP = `usage: deno task generate "prompt" [options]

Generates one image, here (the bundled hydit-tiny model, or --engines DIR) or on a running service
(--server URL). Size, steps, guidance and sampler default to the model's (GET /v1/models).

  --negative TEXT     what to avoid (default: empty)
  --size WxH          image size, e.g. 128x128 (multiples of 16)
  --steps N           denoising steps (1-200)
  --guidance G        classifier-free guidance scale (0-30)
  --seed S            seed (default: random, printed)
  --sampler NAME      ddpm, ddim or dpmpp
  --out FILE          where to write the image (default: hydit-<seed>.png)
  --engines DIR       engine folder to run here (default: the bundled hydit-tiny)
  --server URL        a running service to ask instead, e.g. http://localhost:8000
  --api-key KEY       its API key (default: HYDIT_API_KEY)
  -h, --help          this text

Exit code 0 when the image is written, 2 for bad input, 1 for any other failure.`;

/** Reads a number flag; NaN (caught by validation) when it is not one. */
function numberFlag(value: string | undefined): number | undefined {
  return value === undefined ? undefined : value.trim() === "" ? NaN : Number(value);
}

/** Runs the CLI on `args`; returns the outcome (printing is left to the caller). */
export async function run(args: string[]): Promise<Outcome | "help"> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        negative: { type: "string" },
        size: { type: "string" },
        steps: { type: "string" },
        guidance: { type: "string" },
        seed: { type: "string" },
        sampler: { type: "string" },
        out: { type: "string" },
        engines: { type: "string" },
        server: { type: "string" },
        "api-key": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    return usageError(`${(error as Error).message.split(". ")[0]} (see --help)`);
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
  if (positionals.length !== 1) {
    return usageError(`expected one prompt (quote it), got ${positionals.length} (see --help)`);
  }
  if (values.server && values.engines) {
    return usageError("--server and --engines exclude each other");
  }
  const body: Record<string, unknown> = { prompt: positionals[0] };
  const fields: [string, unknown][] = [
    ["negative_prompt", values.negative],
    ["size", values.size],
    ["steps", numberFlag(values.steps)],
    ["guidance_scale", numberFlag(values.guidance)],
    ["seed", numberFlag(values.seed)],
    ["sampler", values.sampler],
  ];
  for (const [name, value] of fields) if (value !== undefined) body[name] = value;
  if (values.server) {
    const key = values["api-key"] ?? Deno.env.get("HYDIT_API_KEY");
    return await generateRemotely(values.server, key, body, values.out);
  }
  const engines = values.engines ?? await bundledEngines(() => {});
  return await generateLocally(engines, body, values.out);
}

if (import.meta.main) {
  let outcome: Outcome | "help";
  try {
    outcome = await run(Deno.args);
  } catch (error) {
    outcome = { code: 1, message: error instanceof Error ? error.message : String(error) };
  }
  if (outcome === "help") {
    console.log(HELP);
    Deno.exit(0);
  }
  if (outcome.code !== 0) {
    console.error(`generate: ${outcome.message}`);
    Deno.exit(outcome.code);
  }
  const perStep = outcome.seconds / outcome.steps;
  console.log(
    `${outcome.path}  seed ${outcome.seed}  ${outcome.size}  ${outcome.steps} steps  ` +
      `${outcome.seconds.toFixed(2)} s (${perStep.toFixed(3)} s/step overall)`,
  );
}
