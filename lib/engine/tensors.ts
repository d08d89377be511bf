/** Host-side conversions between float32 arrays and engine tensors of a given dtype. */

import type { DType, Engine, Tensor } from "./engine.ts";
import { fromHalfArray, toHalfArray } from "../onnx/mod.ts";

/** Wraps float32 data as a tensor of `dtype` (float32 as is, float16 converted to half bits). */
export function floatTensor(data: Float32Array, dims: number[], dtype: DType): Tensor {
  switch (dtype) {
    case "float32":
      return { dtype, dims, data };
    case "float16":
      return { dtype, dims, data: toHalfArray(data) };
    default:
      throw new TypeError(`cannot feed float data to a ${dtype} input`);
  }
}

/** Wraps integer ids/masks as an int64 or int32 tensor. */
export function intTensor(data: Int32Array, dims: number[], dtype: DType): Tensor {
  switch (dtype) {
    case "int64":
      return { dtype, dims, data: BigInt64Array.from(data, (v) => BigInt(v)) };
    case "int32":
      return { dtype, dims, data };
    default:
      throw new TypeError(`cannot feed integer data to a ${dtype} input`);
  }
}

/** Reads a float tensor (float32 or float16) as float32. */
export function asFloat32(t: Tensor): Float32Array {
  if (t.dtype === "float32") return t.data as Float32Array;
  if (t.dtype === "float16") return fromHalfArray(t.data as Uint16Array);
  throw new TypeError(`expected a float tensor, got ${t.dtype}`);
}

/** Re-types a float tensor to `dtype` (no copy when it already matches). */
export function convertFloat(t: Tensor, dtype: DType): Tensor {
  return t.dtype === dtype ? t : floatTensor(asFloat32(t), t.dims, dtype);
}

/** The declared dtype of an engine input; throws naming the engine input when absent. */
export function inputType(engine: Engine, name: string): DType {
  const spec = engine.inputs.find((s) => s.name === name);
  if (!spec) {
    throw new Error(`engine ${engine.describe().name} has no input "${name}"`);
  }
  return spec.dtype;
}
