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
 * builds TensorRT plans with trtexec (engines/trt_plan.ts); `--dry-run` prints those commands.
 */

import { parseArgs } from "node:util";
import { createFileSink, createGraph } from "../lib/onnx/graph.ts";
import { type Ctx, makeCtx, type Precision } from "../lib/onnx/nn.ts";
import { type Checkpoint, openCheckpoint } from "../lib/onnx/safetensors.ts";
import { decodeModel, graphIo, type IoSpec, precisionViolations } from "../lib/onnx/inspect.ts";
import { buildDit } from "../lib/onnx/dit.ts";
import { ditModelVersion, parseDitConfig } from "../lib/onnx/dit_config.ts";
import { buildBert } from "../lib/onnx/bert.ts";
import { buildT5 } from "../lib/onnx/t5.ts";
import { buildVaeDecoder } from "../lib/onnx/vae.ts";
import { loadOnnxEngine } from "../lib/engine/onnx.ts";
import type { DType, TensorSpec } from "../lib/engine/engine.ts";
import {
  BUILDER_VERSION,
  COMPONENT_NAMES,
  type ComponentEntry,
  type ComponentName,
  fileEntry,
  type Manifest,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  writeManifest,
} from "./manifest.ts";
import { buildTrtPlans, type PlanComponent, type PlanSource } from "./trt_plan.ts";

/** How one pipeline component becomes a graph. */
interface ComponentSpec {
  /** Output base name: `<file>.onnx` and `<file>.weights`. */
  file: PlanComponent;
  /** Weight file bases tried in order (single or sharded safetensors). */
  weightBases: string[];
  /** [library, class] expected in model_index.json. */
  modelIndexClass: [string, string];
  build: (ctx: Ctx, config: Record<string, unknown>) => Promise<void>;
  /** Precision actually built for a requested profile. */
  precisionFor: (requested: Precision) => Precision;
}

/** The four networks; mT5 stays fp32 in the fp16 profile because its activations overflow fp16. */
export const COMPONENTS: Record<ComponentName, ComponentSpec> = {
  transformer: {
    file: "transformer",
    weightBases: ["diffusion_pytorch_model", "model"],
    modelIndexClass: ["diffusers", "HunyuanDiT2DModel"],
    build: buildDit,
    precisionFor: (p) => p,
  },
  text_encoder: {
    file: "text_encoder",
    weightBases: ["model", "pytorch_model"],
    modelIndexClass: ["transformers", "BertModel"],
    build: buildBert,
    precisionFor: (p) => p,
  },
  text_encoder_2: {
    file: "text_encoder_2",
    weightBases: ["model", "pytorch_model"],
    modelIndexClass: ["transformers", "T5EncoderModel"],
    build: buildT5,
    precisionFor: () => "fp32",
  },
  vae: {
    file: "vae_decoder",
    weightBases: ["diffusion_pytorch_model", "model"],
    modelIndexClass: ["diffusers", "AutoencoderKL"],
    build: buildVaeDecoder,
    precisionFor: (p) => p,
  },
};

/** Files copied from the checkpoint: folder -> [required file, optional extras]. */
const TOKENIZER_FILES = {
  tokenizer: ["vocab.txt", "tokenizer_config.json", "special_tokens_map.json"],
  tokenizer_2: ["spiece.model", "tokenizer_config.json", "special_tokens_map.json"],
} as const;
const SCHEDULER_FILE = "scheduler/scheduler_config.json";

/** Reports bytes of weights consumed. */
export type ProgressFn = (done: number, total: number) => void;

/** Result of building one component. */
export interface BuiltComponent {
  entry: ComponentEntry;
  /** Seconds spent, graph writing included. */
  seconds: number;
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error(`${path}: expected a JSON object`);
  }
  return value as Record<string, unknown>;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** The weights file of a component folder: `<base>.safetensors` or its sharded index. */
async function findWeights(dir: string, bases: string[]): Promise<string> {
  for (const base of bases) {
    for (const name of [`${base}.safetensors`, `${base}.safetensors.index.json`]) {
      if (await exists(`${dir}/${name}`)) return `${dir}/${name}`;
    }
  }
  throw new Error(
    `${dir}: no weights (looked for ${
      bases.map((b) => `${b}.safetensors[.index.json]`).join(", ")
    })`,
  );
}

function countingReads(ckpt: Checkpoint, onBytes: (n: number) => void): Checkpoint {
  const size = (name: string) => ckpt.entries.get(name)?.byteLength ?? 0;
  return {
    entries: ckpt.entries,
    metadata: ckpt.metadata,
    close: () => ckpt.close(),
    readBytes: async (name) => {
      const out = await ckpt.readBytes(name);
      onBytes(size(name));
      return out;
    },
    readFloat32: async (name) => {
      const out = await ckpt.readFloat32(name);
      onBytes(size(name));
      return out;
    },
  };
}

function toTensorSpec(io: IoSpec): TensorSpec {
  if (io.dtype === "bool") {
    throw new Error(`graph IO "${io.name}" is bool, which engines do not carry`);
  }
  return {
    name: io.name,
    dtype: io.dtype as DType,
    shape: io.shape.map((d) => typeof d === "number" ? d : -1),
  };
}

/**
 * Builds one component of the pipeline folder `checkpoint` into `outDir` as `<file>.onnx` +
 * `<file>.weights`, checks the written graph's types (and, for fp16, that every normalization
 * runs in fp32), and returns its manifest entry. Errors name the config or weights file.
 */
export async function buildComponent(
  checkpoint: string,
  name: ComponentName,
  outDir: string,
  requested: Precision,
  progress: ProgressFn = () => {},
): Promise<BuiltComponent> {
  const started = performance.now();
  const spec = COMPONENTS[name];
  const dir = `${checkpoint}/${name}`;
  const configPath = `${dir}/config.json`;
  const config = await readJson(configPath);
  const weightsPath = await findWeights(dir, spec.weightBases);
  const raw = await openCheckpoint(weightsPath);
  const total = [...raw.entries.values()].reduce((n, e) => n + e.byteLength, 0);
  let done = 0;
  const ckpt = countingReads(raw, (n) => progress(done += n, total));
  const precision = spec.precisionFor(requested);
  const sink = createFileSink(`${outDir}/${spec.file}.weights`, `${spec.file}.weights`);
  let bytes: Uint8Array;
  try {
    const g = createGraph(spec.file, sink);
    try {
      await spec.build(makeCtx(g, ckpt, precision), config);
    } catch (e) {
      const msg = (e as Error).message;
      const where = /config key/.test(msg) ? configPath : /tensor/.test(msg) ? weightsPath : dir;
      throw new Error(`${where}: ${msg}`, { cause: e });
    }
    bytes = g.toBytes({
      builder: `engines/build.ts ${BUILDER_VERSION}`,
      component: name,
      precision,
    });
  } finally {
    sink.close();
    ckpt.close();
  }
  await Deno.writeFile(`${outDir}/${spec.file}.onnx`, bytes);
  progress(total, total);

  const model = decodeModel(bytes);
  const violations = precision === "fp16" ? precisionViolations(model) : [];
  if (violations.length > 0) {
    const v = violations[0];
    throw new Error(
      `${name}: builder bug: ${violations.length} normalization node(s) not in fp32, first ` +
        `${v.opType} "${v.node}": ${v.detail}`,
    );
  }
  const io = graphIo(model);
  return {
    entry: {
      backend: "onnx",
      file: `${spec.file}.onnx`,
      weights: `${spec.file}.weights`,
      precision,
      config,
      inputs: io.inputs,
      outputs: io.outputs,
      buildSeconds: (performance.now() - started) / 1000,
    },
    seconds: (performance.now() - started) / 1000,
  };
}

/** Loads a written graph on ONNX Runtime and checks it reports the IO the manifest records. */
async function verifyWithRuntime(dir: string, entry: ComponentEntry, threads: number) {
  const engine = await loadOnnxEngine(`${dir}/${entry.file}`, { threads });
  try {
    const got = engine.inputs.map((s) => `${s.name}:${s.dtype}`).join(",");
    const want = entry.inputs.map((s) => `${s.name}:${s.dtype}`).join(",");
    if (got !== want) {
      throw new Error(`${entry.file}: ONNX Runtime sees inputs ${got}, expected ${want}`);
    }
  } finally {
    await engine.close();
  }
}

/** Parsed command line. */
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

/** Checks model_index.json (required for a full build) against the components to build. */
async function checkModelIndex(
  opts: BuildOptions,
): Promise<Record<string, unknown> | null> {
  const path = `${opts.checkpoint}/model_index.json`;
  const full = opts.only.length === COMPONENT_NAMES.length;
  if (!(await exists(path))) {
    if (full) throw new Error(`${path}: missing; a full build needs a diffusers pipeline folder`);
    return null;
  }
  const index = await readJson(path);
  if (index["_class_name"] !== "HunyuanDiTPipeline") {
    throw new Error(
      `${path}: key "_class_name" is ${
        JSON.stringify(index["_class_name"])
      }, expected "HunyuanDiTPipeline"`,
    );
  }
  for (const name of opts.only) {
    const [lib, cls] = COMPONENTS[name].modelIndexClass;
    const got = index[name];
    if (!Array.isArray(got) || got[0] !== lib || got[1] !== cls) {
      throw new Error(
        `${path}: key "${name}" is ${JSON.stringify(got)}, expected ${JSON.stringify([lib, cls])}`,
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
      if (full) throw new Error(`${src}/${required}: missing; the pipeline needs it`);
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
    const config = await readJson(scheduler);
    await Deno.mkdir(`${outDir}/scheduler`, { recursive: true });
    await Deno.copyFile(scheduler, `${outDir}/${SCHEDULER_FILE}`);
    result.scheduler = { file: SCHEDULER_FILE, config };
  } else if (full) {
    throw new Error(`${scheduler}: missing; the pipeline needs it`);
  }
  return result;
}

async function modelVersionOf(checkpoint: string): Promise<Manifest["modelVersion"]> {
  const path = `${checkpoint}/transformer/config.json`;
  if (!(await exists(path))) return null;
  try {
    return ditModelVersion(parseDitConfig(await readJson(path)));
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.startsWith(path) ? msg : `${path}: ${msg}`, { cause: e });
  }
}

async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...await listFiles(dir, rel));
    else if (e.isFile) out.push(rel);
  }
  return out.sort();
}

/** A one-line progress bar on stderr (plain start/finish lines when stderr is not a terminal). */
function progressBar(label: string): { update: ProgressFn; finish(note: string): void } {
  const tty = Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  const write = (s: string) => Deno.stderr.writeSync(enc.encode(s));
  let shown = -1;
  if (!tty) write(`${label}: building\n`);
  return {
    update(done, total) {
      if (!tty) return;
      const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
      if (pct === shown) return;
      shown = pct;
      const bar = "#".repeat(Math.round(pct / 4)).padEnd(25, ".");
      write(
        `\r${label.padEnd(15)} [${bar}] ${String(pct).padStart(3)}%  ${(done / 1e6).toFixed(1)} MB`,
      );
    },
    finish(note) {
      write(tty ? `\r\x1b[2K${label.padEnd(15)} done ${note}\n` : `${label}: done ${note}\n`);
    },
  };
}

/** Runs a whole build as described by `opts`; returns the manifest it wrote. */
export async function runBuild(
  opts: BuildOptions,
  log: (line: string) => void = (s) => console.error(s),
): Promise<Manifest> {
  if ((await exists(opts.out)) && !opts.force) {
    throw new Error(`${opts.out}: already exists; pass --force to replace it`);
  }
  const modelIndex = await checkModelIndex(opts);
  const modelVersion = await modelVersionOf(opts.checkpoint);
  const partial = `${opts.out}.partial-${Deno.pid}`;
  await Deno.mkdir(partial, { recursive: true });
  const cleanup = () => Deno.removeSync(partial, { recursive: true });
  const onSignal = () => {
    cleanup();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    const components: Manifest["components"] = {};
    for (const name of opts.only) {
      const bar = progressBar(name);
      const built = await buildComponent(
        opts.checkpoint,
        name,
        partial,
        opts.precision,
        bar.update,
      );
      if (opts.verify) await verifyWithRuntime(partial, built.entry, opts.threads);
      components[name] = built.entry;
      bar.finish(`${built.entry.precision} in ${built.seconds.toFixed(1)} s`);
    }
    const support = await copySupportFiles(opts, partial);
    const tensorrt = await maybeBuildPlans(opts, partial, components, log);
    const files: Manifest["files"] = {};
    for (const rel of await listFiles(partial)) files[rel] = await fileEntry(`${partial}/${rel}`);
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      formatVersion: MANIFEST_VERSION,
      builder: { name: "engines/build.ts", version: BUILDER_VERSION },
      createdAt: new Date().toISOString(),
      modelVersion,
      precision: opts.precision,
      source: { checkpoint: opts.checkpoint, modelIndex },
      components,
      ...support,
      ...(tensorrt ? { tensorrt } : {}),
      files,
    };
    await writeManifest(partial, manifest);
    await publish(partial, opts.out);
    return manifest;
  } catch (e) {
    cleanup();
    throw e;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}

/** `--trt` builds plans in the staging folder; `--dry-run` prints the commands for OUT. */
async function maybeBuildPlans(
  opts: BuildOptions,
  staging: string,
  components: Manifest["components"],
  log: (s: string) => void,
): Promise<Manifest["tensorrt"]> {
  if (!opts.trt && !opts.dryRun) return undefined;
  const sourcesIn = (dir: string): PlanSource[] =>
    Object.entries(components).map(([name, c]) => ({
      component: COMPONENTS[name as ComponentName].file,
      onnx: `${dir}/${c.file}`,
      inputs: c.inputs.map(toTensorSpec),
    }));
  if (opts.dryRun) {
    await buildTrtPlans(opts.out, sourcesIn(opts.out), { dryRun: true, log });
    return undefined;
  }
  return (await buildTrtPlans(staging, sourcesIn(staging), { log })) ?? undefined;
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

if (import.meta.main) {
  try {
    const opts = parseBuildArgs(Deno.args);
    const started = performance.now();
    const manifest = await runBuild(opts);
    const names = Object.keys(manifest.components).join(", ");
    console.error(
      `wrote ${opts.out} (${names}; ${manifest.precision}; model ${
        manifest.modelVersion ?? "?"
      }) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  } catch (e) {
    console.error(`engines:build: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
