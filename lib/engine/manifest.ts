/**
 * The engine folder's `manifest.json`: schema (zod), reader and writer. It records what was built
 * (model version, precision, per-component config and IO contract), the tokenizer and scheduler
 * files copied beside the engines, the TensorRT plans when `--trt` built them, and a size + sha256
 * for every file, so a loader can refuse a folder that is incomplete, altered, or built for
 * something else.
 *
 * @module
 */

import { z } from "zod";
import { createHash } from "node:crypto";
import { COMPONENT_NAMES, GRAPH_NAMES } from "./components.ts";

/** Value of `format` in every manifest. */
export const MANIFEST_FORMAT = "hunyuandit-engines";
/** Schema version; bump on incompatible changes. */
export const MANIFEST_VERSION = 1;
/**
 * Version of engines/build.ts recorded in each manifest; a change rebuilds the bundled engines.
 * 1.1.0: fused attention, RoPE and bias+GELU on the ONNX Runtime profile; Q pre-scaled for TensorRT.
 */
export const BUILDER_VERSION = "1.1.0";

const ioSchema = z.object({
  name: z.string().min(1),
  dtype: z.enum(["float32", "float16", "int64", "int32", "bool"]),
  shape: z.array(z.union([z.number().int().nonnegative(), z.string().min(1)])),
});

const relPath = z.string().min(1).refine(
  (p) => !p.startsWith("/") && !p.split("/").includes(".."),
  "must be a path inside the engine folder",
);

const componentSchema = z.object({
  /** Always "onnx": `file` is the ONNX graph; TensorRT plans are listed under `tensorrt.plans`. */
  backend: z.enum(["onnx"]),
  file: relPath,
  /** External weights file of the ONNX graph. */
  weights: relPath,
  precision: z.enum(["fp32", "fp16"]),
  /** The component's config.json as read from the checkpoint. */
  config: z.record(z.string(), z.unknown()),
  inputs: z.array(ioSchema).min(1),
  outputs: z.array(ioSchema).min(1),
  buildSeconds: z.number().nonnegative(),
});

const fileSchema = z.object({
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

const positive = z.number().int().positive();

/** What built the TensorRT plans (written by engines/trt_plan.ts). */
const tensorrtSchema = z.object({
  version: z.string(),
  gpu: z.string(),
  sm: z.string(),
  shapes: z.object({
    minSide: positive,
    maxSide: positive,
    optHeight: positive,
    optWidth: positive,
    maxImages: positive,
    patchSize: positive,
    textLength: positive,
    t5Length: positive,
  }),
  plans: z.partialRecord(z.enum(GRAPH_NAMES), relPath),
  builtAt: z.string(),
});

/**
 * The model's name, generation defaults and trained sizes: a checkpoint's `serving.json` when it
 * has one (engines/train writes it), else derived by the builder (lib/diffusion/model_card.ts).
 */
export const modelSpecSchema = z.strictObject({
  name: z.string().min(1).max(64),
  description: z.string().max(500).default(""),
  defaults: z.strictObject({
    width: positive,
    height: positive,
    steps: positive,
    guidanceScale: z.number().min(0).max(30),
    /** A sampler name of lib/diffusion (checked there). */
    sampler: z.string().min(1),
  }),
  /** The (width, height) pairs the model was trained at, native size first. */
  sizes: z.array(z.tuple([positive, positive])).min(1),
});

const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  formatVersion: z.literal(MANIFEST_VERSION),
  builder: z.object({ name: z.string(), version: z.string() }),
  createdAt: z.string(),
  /** "v1.1" (v1.0/v1.1: style + image-meta inputs) or "v1.2"; null when no transformer config was seen. */
  modelVersion: z.enum(["v1.1", "v1.2"]).nullable(),
  /** Requested profile; a component may differ (mT5 stays fp32 in the fp16 profile). */
  precision: z.enum(["fp32", "fp16"]),
  source: z.object({
    checkpoint: z.string(),
    modelIndex: z.record(z.string(), z.unknown()).nullable(),
    /** sha256 over the checkpoint's files (names and contents), to tell a stale build. */
    digest: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  }),
  /** Absent in folders built before it existed: lib/diffusion/model_card.ts derives it then. */
  model: modelSpecSchema.optional(),
  components: z.partialRecord(z.enum(COMPONENT_NAMES), componentSchema),
  tokenizers: z.object({
    bert: z.object({ vocab: relPath, files: z.array(relPath) }).optional(),
    mt5: z.object({ spiece: relPath, files: z.array(relPath) }).optional(),
  }),
  scheduler: z.object({ file: relPath, config: z.record(z.string(), z.unknown()) }).optional(),
  /** Present when `--trt` built plans next to the ONNX graphs. */
  tensorrt: tensorrtSchema.optional(),
  files: z.record(relPath, fileSchema),
});

/** A parsed, validated manifest. */
export type Manifest = z.infer<typeof manifestSchema>;
/** The `model` section: name, generation defaults and trained sizes. */
export type ModelSpec = z.infer<typeof modelSpecSchema>;
/** One component entry of a manifest. */
export type ComponentEntry = z.infer<typeof componentSchema>;
/** Size and checksum of one file. */
export type FileEntry = z.infer<typeof fileSchema>;
/** The `tensorrt` section: TensorRT version, GPU, profile sizes and plan files of the build. */
export type TrtManifest = z.infer<typeof tensorrtSchema>;

/** Raised when an engine folder's manifest is missing, unreadable or invalid; names the file. */
export class ManifestError extends Error {
  /** Creates the error; `cause` carries the file system or parse error, if any. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ManifestError";
  }
}

/** File name of the manifest inside an engine folder. */
export const MANIFEST_FILE = "manifest.json";

/** Validates a manifest object; throws naming the first bad field and the cross-reference errors. */
export function validateManifest(value: unknown, where = MANIFEST_FILE): Manifest {
  const parsed = manifestSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ManifestError(`${where}: field "${issue.path.join(".")}": ${issue.message}`);
  }
  const m = parsed.data;
  const listed = (path: string, field: string) => {
    if (!(path in m.files)) {
      throw new ManifestError(`${where}: ${field} "${path}" has no entry in "files"`);
    }
  };
  for (const [name, c] of Object.entries(m.components)) {
    listed(c.file, `components.${name}.file`);
    listed(c.weights, `components.${name}.weights`);
  }
  if (m.tokenizers.bert) listed(m.tokenizers.bert.vocab, "tokenizers.bert.vocab");
  if (m.tokenizers.mt5) listed(m.tokenizers.mt5.spiece, "tokenizers.mt5.spiece");
  if (m.scheduler) listed(m.scheduler.file, "scheduler.file");
  for (const [name, plan] of Object.entries(m.tensorrt?.plans ?? {})) {
    listed(plan, `tensorrt.plans.${name}`);
  }
  return m;
}

/** Reads and validates `dir/manifest.json`. */
export async function readManifest(dir: string): Promise<Manifest> {
  const path = `${dir}/${MANIFEST_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    throw new ManifestError(
      `${path}: cannot read the engine manifest (${(cause as Error).message})`,
      { cause },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ManifestError(`${path}: not valid JSON (${(cause as Error).message})`, { cause });
  }
  return validateManifest(value, path);
}

/** Writes `dir/manifest.json` after validating it (so a writer bug cannot produce a bad folder). */
export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  const checked = validateManifest(manifest);
  await Deno.writeTextFile(`${dir}/${MANIFEST_FILE}`, JSON.stringify(checked, null, 2) + "\n");
}

/** Streams a file through sha256 and returns its size and hex digest. */
export async function fileEntry(path: string): Promise<FileEntry> {
  const hash = createHash("sha256");
  const file = await Deno.open(path, { read: true });
  const buf = new Uint8Array(1 << 22);
  let bytes = 0;
  try {
    for (let n = await file.read(buf); n !== null; n = await file.read(buf)) {
      hash.update(buf.subarray(0, n));
      bytes += n;
    }
  } finally {
    file.close();
  }
  return { bytes, sha256: hash.digest("hex") };
}

/**
 * Checks every listed file of an engine folder: existence and size always, sha256 when `hash` is
 * set (slow for multi-GB weights). Throws naming the first file that does not match.
 */
export async function verifyFiles(dir: string, manifest: Manifest, hash: boolean): Promise<void> {
  for (const [rel, want] of Object.entries(manifest.files)) {
    const path = `${dir}/${rel}`;
    let size: number;
    try {
      size = (await Deno.stat(path)).size;
    } catch (cause) {
      throw new ManifestError(`${path}: listed in ${MANIFEST_FILE} but missing`, { cause });
    }
    if (size !== want.bytes) {
      throw new ManifestError(`${path}: ${size} bytes, ${MANIFEST_FILE} says ${want.bytes}`);
    }
    if (hash && (await fileEntry(path)).sha256 !== want.sha256) {
      throw new ManifestError(`${path}: sha256 differs from ${MANIFEST_FILE}`);
    }
  }
}
