/**
 * The engine contract shared by every backend (ONNX Runtime on CPU, TensorRT through the FFI shim).
 * The pipeline only ever sees this interface, never the backend behind it.
 */

/** Element types that cross the engine boundary. fp16 travels as raw IEEE half bits in a Uint16Array. */
export type DType = "float32" | "float16" | "int64" | "int32";

/** Typed array backing each dtype. */
export type TensorData = Float32Array | Uint16Array | BigInt64Array | Int32Array;

/** A dense row-major host tensor. */
export interface Tensor {
  dtype: DType;
  dims: number[];
  data: TensorData;
}

/** One named input or output; -1 marks a dynamic dimension. */
export interface TensorSpec {
  name: string;
  dtype: DType;
  shape: number[];
}

/** What `/readyz` and logs report about a loaded engine. */
export interface EngineDescription {
  backend: "onnx" | "tensorrt";
  name: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  detail: Record<string, string | number>;
}

/** A loaded network that maps named host tensors to named host tensors. */
export interface Engine {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** Runs one inference; feeds must cover every input. At most one run is in flight per engine. */
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  describe(): EngineDescription;
  /** Frees native resources; the engine is unusable afterwards. */
  close(): Promise<void>;
}

/** Bytes per element for each dtype. */
export const DTYPE_SIZE: Record<DType, number> = {
  float32: 4,
  float16: 2,
  int64: 8,
  int32: 4,
};

/** Number of elements of a shape. */
export function elementCount(dims: readonly number[]): number {
  return dims.reduce((n, d) => n * d, 1);
}
