/**
 * Reads the engine goldens of tests/golden/data/engines (written by gen_engine_goldens.py) and
 * compares engine outputs with them.
 */

import type { Engine, Tensor } from "../../lib/engine/engine.ts";
import { asFloat32 } from "../../lib/engine/tensors.ts";
import { toHalfArray } from "../../lib/onnx/half.ts";

/** Root of the golden data. */
export const GOLDEN = new URL("../golden/data/", import.meta.url).pathname;

interface TensorDesc {
  file: string;
  dtype: "float32" | "int64" | "uint8";
  shape: number[];
}

/** One case of index.json: its parameters plus input and output tensor descriptions. */
export interface GoldenCase {
  checkpoint: string;
  inputs: Record<string, TensorDesc>;
  outputs: Record<string, TensorDesc>;
  [key: string]: unknown;
}

let index: Record<string, GoldenCase> | undefined;

/**
 * The cases of index.json. Python's json writes non-finite floats as bare -Infinity/Infinity/NaN
 * (e.g. a scheduler's lambda_min_clipped), which JSON.parse rejects; they are read as null.
 */
export async function goldenCases(): Promise<Record<string, GoldenCase>> {
  if (!index) {
    const text = await Deno.readTextFile(`${GOLDEN}engines/index.json`);
    const strict = text.replace(/(?<=[:\[,]\s*)(-?Infinity|NaN)(?=\s*[,\]}])/g, "null");
    index = JSON.parse(strict).cases as Record<string, GoldenCase>;
  }
  return index;
}

async function readTensor(desc: TensorDesc): Promise<Tensor> {
  const bytes = await Deno.readFile(`${GOLDEN}engines/${desc.file}`);
  switch (desc.dtype) {
    case "float32":
      return { dtype: "float32", dims: desc.shape, data: new Float32Array(bytes.buffer) };
    case "int64":
      return { dtype: "int64", dims: desc.shape, data: new BigInt64Array(bytes.buffer) };
    default:
      throw new Error(`${desc.file}: ${desc.dtype} is not an engine tensor type`);
  }
}

/** A case's inputs as feeds for `engine`, float32 data converted to fp16 where it expects fp16. */
export async function goldenFeeds(c: GoldenCase, engine: Engine): Promise<Record<string, Tensor>> {
  const feeds: Record<string, Tensor> = {};
  for (const spec of engine.inputs) {
    const desc = c.inputs[spec.name];
    if (!desc) throw new Error(`golden case has no input "${spec.name}"`);
    const t = await readTensor(desc);
    feeds[spec.name] = spec.dtype === "float16" && t.dtype === "float32"
      ? { dtype: "float16", dims: t.dims, data: toHalfArray(t.data as Float32Array) }
      : t;
  }
  return feeds;
}

/** A case's float32 output tensor. */
export async function goldenOutput(c: GoldenCase, name: string): Promise<Tensor> {
  return await readTensor(c.outputs[name]);
}

/** Relative L2 error and max absolute error of `got` against `want` (each fp32 or fp16 bits). */
export function compare(got: Tensor, want: Tensor): { relL2: number; maxAbs: number } {
  if (got.dims.join("x") !== want.dims.join("x")) {
    throw new Error(`shape [${got.dims}] differs from reference [${want.dims}]`);
  }
  const g = asFloat32(got);
  const w = asFloat32(want);
  let num = 0, den = 0, maxAbs = 0;
  for (let i = 0; i < w.length; i++) {
    const d = g[i] - w[i];
    num += d * d;
    den += w[i] * w[i];
    maxAbs = Math.max(maxAbs, Math.abs(d));
  }
  return { relL2: Math.sqrt(num / Math.max(den, 1e-30)), maxAbs };
}
