/**
 * The engine contract shared by every backend (ONNX Runtime on CPU, TensorRT through the FFI shim).
 * The pipeline only ever sees this interface, never the backend behind it. tests/engine/conformance.ts
 * is the suite every backend passes.
 *
 * @module
 */

/** Which runtime executes an engine. */
export type Backend = "onnx" | "tensorrt";

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
  backend: Backend;
  name: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  detail: Record<string, string | number>;
}

/** A loaded network that maps named host tensors to named host tensors. */
export interface Engine {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /**
   * Runs one inference; runs on one engine are serialized. Feeds must cover every input with its
   * dtype, rank and static dimensions (feeds for names it lacks are ignored); a feed that does not
   * fit rejects with {@linkcode EngineFeedError}, a closed engine with {@linkcode EngineClosedError}.
   */
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  describe(): EngineDescription;
  /** Frees native resources after the runs already started; a second call does nothing. */
  close(): Promise<void>;
}

/** What was wrong with a feed. */
export type FeedProblem = "missing" | "dtype" | "rank" | "shape" | "data";

/** Raised by `run()` for a feed that does not fit the engine's inputs; names engine and input. */
export class EngineFeedError extends Error {
  /** The engine that refused the feed. */
  readonly engine: string;
  /** The input at fault. */
  readonly input: string;
  /** What was wrong with it. */
  readonly problem: FeedProblem;
  /** Creates the error; `message` says what the input needs. */
  constructor(engine: string, input: string, problem: FeedProblem, message: string) {
    super(message);
    this.name = "EngineFeedError";
    this.engine = engine;
    this.input = input;
    this.problem = problem;
  }
}

/** Raised by `run()` on an engine whose `close()` was called. */
export class EngineClosedError extends Error {
  /** The closed engine. */
  readonly engine: string;
  /** Creates the error for one engine. */
  constructor(engine: string) {
    super(`Cannot run engine "${engine}": it is closed`);
    this.name = "EngineClosedError";
    this.engine = engine;
  }
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
