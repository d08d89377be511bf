/**
 * The CPU backend: an ONNX graph (with external weights) on ONNX Runtime's CPU provider.
 *
 * @module
 */

import * as ort from "onnxruntime-node";
import { checkedEngine } from "./checked_engine.ts";
import type { DType, Engine, Tensor, TensorData, TensorSpec } from "./engine.ts";

/** Options for loading an ONNX engine. */
export interface OnnxEngineOptions {
  /** Intra-op threads (0 = ONNX Runtime's default). */
  threads?: number;
  /** Name reported by `describe()`; defaults to the file name. */
  name?: string;
  /**
   * Let idle intra-op threads spin. Off by default: on small shared machines spinning threads fight
   * over the cores (measured on 2 cores: DiT step 3.1 ms without, 4.4-11.7 ms with).
   */
  spin?: boolean;
  /**
   * Keep ONNX Runtime's CPU memory arena. Off by default: the arena keeps the largest activations
   * of the biggest image ever generated for the life of the session, while without it every
   * buffer is freed after its run, so memory goes back after a job (tests/bench/peak_rss.ts).
   */
  arena?: boolean;
}

const DTYPES: readonly DType[] = ["float32", "float16", "int64", "int32"];

/**
 * onnxruntime-common maps "float16" to the runtime's Float16Array when one exists (Deno has it),
 * but the Node-API binding only accepts Uint16Array bits. Its type map is fixed on the first
 * Tensor construction, so build one tensor while Float16Array is hidden to pin the Uint16Array
 * mapping that our engine contract (fp16 as raw bits) uses anyway.
 */
function pinFloat16AsBits(): void {
  const g = globalThis as { Float16Array?: unknown };
  const saved = g.Float16Array;
  delete g.Float16Array;
  try {
    new ort.Tensor("float32", new Float32Array(1), [1]);
  } finally {
    g.Float16Array = saved;
  }
}
pinFloat16AsBits();

function toDType(type: string, where: string): DType {
  if ((DTYPES as readonly string[]).includes(type)) return type as DType;
  throw new Error(`${where}: unsupported tensor type ${type}`);
}

function specsOf(meta: readonly ort.InferenceSession.ValueMetadata[], where: string): TensorSpec[] {
  return meta.map((m) => {
    if (!m.isTensor) throw new Error(`${where}: "${m.name}" is not a tensor`);
    return {
      name: m.name,
      dtype: toDType(m.type, `${where} "${m.name}"`),
      shape: m.shape.map((d) => typeof d === "number" ? d : -1),
    };
  });
}

/** Loads `path` into an ONNX Runtime CPU session behind the engine interface. */
export async function loadOnnxEngine(path: string, opts: OnnxEngineOptions = {}): Promise<Engine> {
  const name = opts.name ?? path.slice(path.lastIndexOf("/") + 1).replace(/\.onnx$/, "");
  const session = await ort.InferenceSession.create(path, {
    executionProviders: ["cpu"],
    intraOpNumThreads: opts.threads ?? 0,
    graphOptimizationLevel: "all",
    enableCpuMemArena: opts.arena ?? false,
    extra: { session: { intra_op: { allow_spinning: opts.spin ? "1" : "0" } } },
  });
  const inputs = specsOf(session.inputMetadata, name);
  const outputs = specsOf(session.outputMetadata, name);

  async function run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const spec of inputs) {
      const t = feeds[spec.name];
      ortFeeds[spec.name] = new ort.Tensor(t.dtype, t.data, t.dims);
    }
    const result = await session.run(ortFeeds);
    const out: Record<string, Tensor> = {};
    for (const spec of outputs) {
      const r = result[spec.name];
      out[spec.name] = {
        dtype: toDType(r.type, `${name} output "${spec.name}"`),
        dims: [...r.dims],
        data: r.data as TensorData,
      };
    }
    return out;
  }

  return checkedEngine({
    name,
    inputs,
    outputs,
    run,
    release: () => session.release(),
    describe: () => ({
      backend: "onnx",
      name,
      inputs,
      outputs,
      detail: {
        provider: "cpu",
        threads: opts.threads ?? 0,
        onnxruntime: ort.env.versions.node ?? "",
      },
    }),
  });
}
