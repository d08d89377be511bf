/**
 * A whole engine folder from a diffusers HunyuanDiT pipeline folder: the requested components
 * (engines/build_component.ts), the tokenizer and scheduler files, TensorRT plans on request, and
 * manifest.json last. Everything is written into {@linkcode stagingDir} and renamed to `out` only
 * when complete, so a folder with a manifest is always whole. A dry run builds the graphs in the
 * staging folder only to read their IO, prints the trtexec commands for `out`, and writes nothing.
 *
 * @module
 */

import {
  BUILDER_VERSION,
  COMPONENT_NAMES,
  type ComponentName,
  fileEntry,
  graphName,
  type Manifest,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  writeManifest,
} from "../lib/engine/mod.ts";
import { ditModelVersion, parseDitConfig, type Precision } from "../lib/onnx/mod.ts";
import {
  buildComponent,
  CheckpointFileError,
  parseConfigFile,
  readJsonObject,
  RECIPES,
  toTensorSpec,
  verifyWithRuntime,
} from "./build_component.ts";
import { checkpointDigest, listFiles, readModelSpec } from "./model_source.ts";
import { progressBar } from "./progress_bar.ts";
import { buildTrtPlans } from "./trt_plan.ts";
import type { PlanSource } from "./trt_profile.ts";

/** What to build (the parsed command line). */
export interface BuildOptions {
  checkpoint: string;
  out: string;
  precision: Precision;
  only: ComponentName[];
  threads: number;
  force: boolean;
  verify: boolean;
  trt: boolean;
  dryRun: boolean;
}

/** Files copied from the checkpoint: folder -> [required file, optional extras]. */
const TOKENIZER_FILES = {
  tokenizer: ["vocab.txt", "tokenizer_config.json", "special_tokens_map.json"],
  tokenizer_2: ["spiece.model", "tokenizer_config.json", "special_tokens_map.json"],
} as const;
const SCHEDULER_FILE = "scheduler/scheduler_config.json";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** The folder a build of `out` writes into before it is renamed (one per process). */
export function stagingDir(out: string): string {
  return `${out}.partial-${Deno.pid}`;
}

/** Checks model_index.json (required for a full build) against the components to build. */
async function checkModelIndex(opts: BuildOptions): Promise<Record<string, unknown> | null> {
  const path = `${opts.checkpoint}/model_index.json`;
  const full = opts.only.length === COMPONENT_NAMES.length;
  if (!(await exists(path))) {
    if (full) {
      throw new CheckpointFileError(
        path,
        "missing; a full build needs a diffusers pipeline folder",
      );
    }
    return null;
  }
  const index = await readJsonObject(path);
  if (index["_class_name"] !== "HunyuanDiTPipeline") {
    throw new CheckpointFileError(
      path,
      `key "_class_name" is ${JSON.stringify(index["_class_name"])}, expected "HunyuanDiTPipeline"`,
    );
  }
  for (const name of opts.only) {
    const [lib, cls] = RECIPES[name].modelIndexClass;
    const got = index[name];
    if (!Array.isArray(got) || got[0] !== lib || got[1] !== cls) {
      throw new CheckpointFileError(
        path,
        `key "${name}" is ${JSON.stringify(got)}, expected ${JSON.stringify([lib, cls])}`,
      );
    }
  }
  return index;
}

/** Copies tokenizer and scheduler files that exist (all required for a full build). */
async function copySupportFiles(
  opts: BuildOptions,
  outDir: string,
): Promise<Pick<Manifest, "tokenizers" | "scheduler">> {
  const full = opts.only.length === COMPONENT_NAMES.length;
  const copied: Record<string, string[]> = {};
  for (const [folder, [required, ...extras]] of Object.entries(TOKENIZER_FILES)) {
    const src = `${opts.checkpoint}/${folder}`;
    if (!(await exists(`${src}/${required}`))) {
      if (full) {
        throw new CheckpointFileError(`${src}/${required}`, "missing; the pipeline needs it");
      }
      continue;
    }
    await Deno.mkdir(`${outDir}/${folder}`, { recursive: true });
    copied[folder] = [];
    for (const f of [required, ...extras]) {
      if (!(await exists(`${src}/${f}`))) continue;
      await Deno.copyFile(`${src}/${f}`, `${outDir}/${folder}/${f}`);
      copied[folder].push(`${folder}/${f}`);
    }
  }
  const result: Pick<Manifest, "tokenizers" | "scheduler"> = { tokenizers: {} };
  if (copied.tokenizer) {
    result.tokenizers.bert = { vocab: "tokenizer/vocab.txt", files: copied.tokenizer };
  }
  if (copied.tokenizer_2) {
    result.tokenizers.mt5 = { spiece: "tokenizer_2/spiece.model", files: copied.tokenizer_2 };
  }
  const scheduler = `${opts.checkpoint}/${SCHEDULER_FILE}`;
  if (await exists(scheduler)) {
    const config = await readJsonObject(scheduler);
    await Deno.mkdir(`${outDir}/scheduler`, { recursive: true });
    await Deno.copyFile(scheduler, `${outDir}/${SCHEDULER_FILE}`);
    result.scheduler = { file: SCHEDULER_FILE, config };
  } else if (full) {
    throw new CheckpointFileError(scheduler, "missing; the pipeline needs it");
  }
  return result;
}

async function modelVersionOf(checkpoint: string): Promise<Manifest["modelVersion"]> {
  const path = `${checkpoint}/transformer/config.json`;
  if (!(await exists(path))) return null;
  return ditModelVersion(parseConfigFile(path, await readJsonObject(path), parseDitConfig));
}

/** The TensorRT plan sources of the built components, their ONNX files inside `dir`. */
function planSources(dir: string, components: Manifest["components"]): PlanSource[] {
  return Object.entries(components).map(([name, c]) => ({
    component: graphName(name as ComponentName),
    onnx: `${dir}/${c.file}`,
    inputs: c.inputs.map(toTensorSpec),
  }));
}

/** Moves the finished staging folder to `out`, replacing an old folder only after success. */
async function publish(staging: string, out: string): Promise<void> {
  if (!(await exists(out))) {
    await Deno.rename(staging, out);
    return;
  }
  const old = `${out}.old-${Deno.pid}`;
  await Deno.rename(out, old);
  await Deno.rename(staging, out);
  await Deno.remove(old, { recursive: true });
}

/**
 * Runs a whole build as described by `opts` and returns the manifest it wrote, or null for a dry
 * run (which prints the trtexec commands through `log` and leaves no file behind). Per-component
 * progress goes to stderr.
 */
export async function runBuild(
  opts: BuildOptions,
  log: (line: string) => void = (line) => console.error(line),
): Promise<Manifest | null> {
  if (!opts.dryRun && !opts.force && (await exists(opts.out))) {
    throw new Error(`${opts.out}: already exists; pass --force to replace it`);
  }
  const modelIndex = await checkModelIndex(opts);
  const modelVersion = await modelVersionOf(opts.checkpoint);
  const model = await readModelSpec(opts.checkpoint);
  const staging = stagingDir(opts.out);
  await Deno.mkdir(staging, { recursive: true });
  try {
    const components: Manifest["components"] = {};
    for (const name of opts.only) {
      const progress = progressBar(name);
      const built = await buildComponent(
        opts.checkpoint,
        name,
        staging,
        opts.precision,
        progress.update,
        opts.trt || opts.dryRun ? "tensorrt" : "onnxruntime",
      );
      if (opts.verify && !opts.dryRun) await verifyWithRuntime(staging, built.entry, opts.threads);
      components[name] = built.entry;
      progress.finish(`${built.entry.precision} in ${built.seconds.toFixed(1)} s`);
    }
    if (opts.dryRun) {
      await buildTrtPlans(opts.out, planSources(opts.out, components), {
        dryRun: true,
        log,
      });
      return null;
    }
    const support = await copySupportFiles(opts, staging);
    const tensorrt = opts.trt
      ? await buildTrtPlans(staging, planSources(staging, components), { log })
      : null;
    const files: Manifest["files"] = {};
    for (const rel of await listFiles(staging)) files[rel] = await fileEntry(`${staging}/${rel}`);
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      formatVersion: MANIFEST_VERSION,
      builder: { name: "engines/build.ts", version: BUILDER_VERSION },
      createdAt: new Date().toISOString(),
      modelVersion,
      precision: opts.precision,
      source: {
        checkpoint: opts.checkpoint,
        modelIndex,
        digest: await checkpointDigest(opts.checkpoint),
      },
      model,
      components,
      ...support,
      ...(tensorrt ? { tensorrt } : {}),
      files,
    };
    await writeManifest(staging, manifest);
    await publish(staging, opts.out);
    return manifest;
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}
