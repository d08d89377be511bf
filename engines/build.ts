/**
 * Engine builder CLI: diffusers HunyuanDiT pipeline folder -> ONNX graphs (+ external weights),
 * copied tokenizer/scheduler files and manifest.json, optionally TensorRT plans.
 *
 *   deno task engines:build --checkpoint DIR --out OUT --precision fp32|fp16
 *     [--only transformer|text_encoder|text_encoder_2|vae]... [--threads N] [--force]
 *     [--skip-verify] [--trt | --dry-run]
 *
 * Everything is written into `OUT.partial-<pid>` and renamed to OUT only when complete, manifest
 * last, so a folder named OUT with a manifest is always whole. `--precision` defaults to fp32; in
 * the fp16 profile the mT5 encoder is still built fp32 (its activations overflow fp16; the
 * manifest records each component's precision). Each written graph is type-checked (fp16: every
 * normalization in fp32) and, unless `--skip-verify`, loaded once on ONNX Runtime with `--threads`
 * threads. `--force` replaces an existing OUT only after the new folder is complete. `--trt` also
 * builds TensorRT plans with trtexec (engines/trt_plan.ts); `--dry-run` prints those commands and
 * writes nothing. The build itself is engines/build_folder.ts.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { COMPONENT_NAMES, type ComponentName } from "../lib/engine/mod.ts";
import { type BuildOptions, runBuild, stagingDir } from "./build_folder.ts";

const USAGE = "usage: deno task engines:build --checkpoint DIR --out OUT --precision fp32|fp16 " +
  "[--only transformer|text_encoder|text_encoder_2|vae]... [--threads N] [--force] [--skip-verify] " +
  "[--trt | --dry-run]";

/** Parses CLI arguments; throws a usage message on anything unknown or missing. */
export function parseBuildArgs(args: string[]): BuildOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      checkpoint: { type: "string" },
      out: { type: "string" },
      precision: { type: "string", default: "fp32" },
      only: { type: "string", multiple: true },
      threads: { type: "string", default: "0" },
      force: { type: "boolean", default: false },
      "skip-verify": { type: "boolean", default: false },
      trt: { type: "boolean", default: false },
      "dry-run": { type: "boolean", default: false },
    },
  });
  if (!values.checkpoint || !values.out) {
    throw new Error(`--checkpoint and --out are required\n${USAGE}`);
  }
  if (values.precision !== "fp32" && values.precision !== "fp16") {
    throw new Error(`--precision must be fp32 or fp16, got "${values.precision}"\n${USAGE}`);
  }
  const only = (values.only ?? []).flatMap((v) => v.split(",")).map((v) => v.trim());
  for (const o of only) {
    if (!(COMPONENT_NAMES as readonly string[]).includes(o)) {
      throw new Error(`--only: unknown component "${o}" (use ${COMPONENT_NAMES.join(", ")})`);
    }
  }
  const threads = Number(values.threads);
  if (!Number.isInteger(threads) || threads < 0) {
    throw new Error(`--threads must be a non-negative integer, got "${values.threads}"`);
  }
  if (values.trt && values["dry-run"]) throw new Error("--trt and --dry-run exclude each other");
  return {
    checkpoint: values.checkpoint.replace(/\/+$/, ""),
    out: values.out.replace(/\/+$/, ""),
    precision: values.precision,
    only: only.length ? [...new Set(only)] as ComponentName[] : [...COMPONENT_NAMES],
    threads,
    force: values.force,
    verify: !values["skip-verify"],
    trt: values.trt,
    dryRun: values["dry-run"],
  };
}

const HELP = [
  USAGE,
  "",
  "Builds the engines of a diffusers HunyuanDiT pipeline folder into OUT: the four ONNX graphs",
  "with their weights, tokenizer and scheduler files, and manifest.json (OUT.partial-<pid> until",
  "complete). Shows each network's progress (bytes written, ETA) on stderr.",
  "",
  "  --checkpoint DIR    diffusers folder (model_index.json, transformer/, vae/, ...)",
  "  --out OUT           engine folder to write (serve it with HYDIT_ENGINES=OUT)",
  "  --precision P       fp32 (ONNX Runtime on the CPU, default) or fp16 (TensorRT)",
  "  --only NAME         build only this network (repeatable)",
  "  --threads N         ONNX Runtime threads for the load check (0 = default)",
  "  --force             replace an existing OUT once the new build is complete",
  "  --skip-verify       do not load each graph once on ONNX Runtime",
  "  --trt               also build TensorRT plans with trtexec (fp16)",
  "  --dry-run           print the trtexec commands, write nothing",
].join("\n");

/** Runs the CLI on `args`; returns the exit code (130 after SIGINT removed the staging folder). */
export async function main(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(HELP);
    return 0;
  }
  let opts: BuildOptions;
  try {
    opts = parseBuildArgs(args);
  } catch (e) {
    console.error(`engines:build: ${(e as Error).message.split("\n")[0]} (see --help)`);
    return 2;
  }
  const onSignal = () => {
    Deno.removeSync(stagingDir(opts.out), { recursive: true });
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    const started = performance.now();
    const manifest = await runBuild(opts);
    if (manifest) {
      const names = Object.keys(manifest.components).join(", ");
      console.error(
        `wrote ${opts.out} (${names}; ${manifest.precision}; model ${
          manifest.modelVersion ?? "?"
        }) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    }
    return 0;
  } catch (e) {
    console.error(`engines:build: ${(e as Error).message}`);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
