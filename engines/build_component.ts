/**
 * One pipeline component of a diffusers checkpoint -> `<graph>.onnx` + `<graph>.weights`: reads and
 * validates its config.json, opens its safetensors, declares the graph, checks the written graph's
 * types (fp16: every normalization in fp32) and returns its manifest entry. Failures are
 * {@linkcode CheckpointFileError}s naming the config or weights file at fault.
 *
 * @module
 */

import {
  BUILDER_VERSION,
  type ComponentEntry,
  type ComponentName,
  type DType,
  graphName,
  loadOnnxEngine,
  onnxFile,
  type TensorSpec,
  weightsFile,
} from "../lib/engine/mod.ts";
import {
  buildBert,
  buildDit,
  buildT5,
  buildVaeDecoder,
  type Checkpoint,
  createFileSink,
  createGraph,
  type Ctx,
  decodeModel,
  graphIo,
  type GraphTarget,
  type IoSpec,
  makeCtx,
  openComponentWeights,
  parseBertConfig,
  parseDitConfig,
  parseT5Config,
  parseVaeConfig,
  type Precision,
  precisionViolations,
  SafetensorsError,
} from "../lib/onnx/mod.ts";

/** Raised for a checkpoint file that cannot be built from; `file` is the file at fault. */
export class CheckpointFileError extends Error {
  /** Path of the config, weights or index file at fault. */
  readonly file: string;
  /** Creates the error; the message is `<file>: <detail>`. */
  constructor(file: string, detail: string, options?: ErrorOptions) {
    super(`${file}: ${detail}`, options);
    this.name = "CheckpointFileError";
    this.file = file;
  }
}

/** How one pipeline component becomes a graph. */
interface Recipe {
  /** Weight file bases tried in order (single or sharded safetensors). */
  weightBases: string[];
  /** [library, class] expected in model_index.json. */
  modelIndexClass: [string, string];
  /** Validates config.json; throws naming the key. */
  parseConfig: (config: Record<string, unknown>) => unknown;
  build: (ctx: Ctx, config: Record<string, unknown>) => Promise<void>;
  /** Precision actually built for a requested profile. */
  precisionFor: (requested: Precision) => Precision;
}

/** The four networks; mT5 stays fp32 in the fp16 profile because its activations overflow fp16. */
export const RECIPES: Record<ComponentName, Recipe> = {
  transformer: {
    weightBases: ["diffusion_pytorch_model", "model"],
    modelIndexClass: ["diffusers", "HunyuanDiT2DModel"],
    parseConfig: parseDitConfig,
    build: buildDit,
    precisionFor: (p) => p,
  },
  text_encoder: {
    weightBases: ["model", "pytorch_model"],
    modelIndexClass: ["transformers", "BertModel"],
    parseConfig: parseBertConfig,
    build: buildBert,
    precisionFor: (p) => p,
  },
  text_encoder_2: {
    weightBases: ["model", "pytorch_model"],
    modelIndexClass: ["transformers", "T5EncoderModel"],
    parseConfig: parseT5Config,
    build: buildT5,
    precisionFor: () => "fp32",
  },
  vae: {
    weightBases: ["diffusion_pytorch_model", "model"],
    modelIndexClass: ["diffusers", "AutoencoderKL"],
    parseConfig: parseVaeConfig,
    build: buildVaeDecoder,
    precisionFor: (p) => p,
  },
};

/** Reports bytes of weights consumed. */
export type ProgressFn = (done: number, total: number) => void;

/** Result of building one component. */
export interface BuiltComponent {
  entry: ComponentEntry;
  /** Seconds spent, graph writing included. */
  seconds: number;
}

/** Reads a JSON object file; throws {@linkcode CheckpointFileError} naming it. */
export async function readJsonObject(path: string): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(await Deno.readTextFile(path));
  } catch (cause) {
    const what = cause instanceof SyntaxError ? "not valid JSON" : "cannot read";
    throw new CheckpointFileError(path, `${what} (${(cause as Error).message})`, { cause });
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new CheckpointFileError(path, "expected a JSON object");
  }
  return value as Record<string, unknown>;
}

/** Runs `parse` on a config object read from `path`; its errors become the file's. */
export function parseConfigFile<T>(
  path: string,
  config: Record<string, unknown>,
  parse: (config: Record<string, unknown>) => T,
): T {
  try {
    return parse(config);
  } catch (cause) {
    throw new CheckpointFileError(path, (cause as Error).message, { cause });
  }
}

function countingReads(ckpt: Checkpoint, onBytes: (n: number) => void): Checkpoint {
  const size = (name: string) => ckpt.entries.get(name)?.byteLength ?? 0;
  return {
    path: ckpt.path,
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

/** A manifest IO entry as an engine tensor spec (-1 for named dimensions). */
export function toTensorSpec(io: IoSpec): TensorSpec {
  if (io.dtype === "bool") {
    throw new TypeError(`Cannot use graph IO "${io.name}": bool is not an engine dtype`);
  }
  return {
    name: io.name,
    dtype: io.dtype as DType,
    shape: io.shape.map((d) => typeof d === "number" ? d : -1),
  };
}

/**
 * Declares the graph of `name` from its checkpoint and writes its weights through `sink`; the
 * config was validated. Any failure but a safetensors one (which names its file) is the weights'.
 */
async function writeGraph(
  ckpt: Checkpoint,
  name: ComponentName,
  outDir: string,
  config: Record<string, unknown>,
  precision: Precision,
  target: GraphTarget,
): Promise<Uint8Array> {
  const graph = graphName(name);
  const sink = createFileSink(`${outDir}/${weightsFile(name)}`, weightsFile(name));
  try {
    const g = createGraph(graph, sink);
    try {
      await RECIPES[name].build(makeCtx(g, ckpt, precision, target), config);
    } catch (cause) {
      if (cause instanceof SafetensorsError) throw cause;
      throw new CheckpointFileError(ckpt.path, (cause as Error).message, { cause });
    }
    return g.toBytes({
      builder: `engines/build.ts ${BUILDER_VERSION}`,
      component: name,
      precision,
      target,
    });
  } finally {
    sink.close();
  }
}

/**
 * Builds one component of the pipeline folder `checkpoint` into `outDir` as `<graph>.onnx` +
 * `<graph>.weights`, checks the written graph's types (and, for fp16, that every normalization
 * runs in fp32), and returns its manifest entry. `target` "tensorrt" keeps to standard ONNX ops
 * (no ONNX Runtime fused operators) so trtexec can compile the graph.
 */
export async function buildComponent(
  checkpoint: string,
  name: ComponentName,
  outDir: string,
  requested: Precision,
  progress: ProgressFn = () => {},
  target: GraphTarget = "onnxruntime",
): Promise<BuiltComponent> {
  const started = performance.now();
  const recipe = RECIPES[name];
  const dir = `${checkpoint}/${name}`;
  const configPath = `${dir}/config.json`;
  const config = await readJsonObject(configPath);
  parseConfigFile(configPath, config, recipe.parseConfig);
  const raw = await openComponentWeights(dir, recipe.weightBases);
  const total = [...raw.entries.values()].reduce((n, e) => n + e.byteLength, 0);
  let done = 0;
  const ckpt = countingReads(raw, (n) => progress(done += n, total));
  const precision = recipe.precisionFor(requested);
  let bytes: Uint8Array;
  try {
    bytes = await writeGraph(ckpt, name, outDir, config, precision, target);
  } finally {
    ckpt.close();
  }
  await Deno.writeFile(`${outDir}/${onnxFile(name)}`, bytes);
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
  const seconds = (performance.now() - started) / 1000;
  return {
    entry: {
      backend: "onnx",
      file: onnxFile(name),
      weights: weightsFile(name),
      precision,
      config,
      inputs: io.inputs,
      outputs: io.outputs,
      buildSeconds: seconds,
    },
    seconds,
  };
}

/** Loads a written graph on ONNX Runtime and checks it reports the IO the manifest records. */
export async function verifyWithRuntime(
  dir: string,
  entry: ComponentEntry,
  threads: number,
): Promise<void> {
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
