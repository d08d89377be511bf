/**
 * The half of the engine contract every backend shares: feed validation, one run at a time, no run
 * after `close()`, and a `close()` that releases once. A backend supplies only its raw run and
 * release as an {@linkcode EngineCore}.
 *
 * @module
 */

import {
  type DType,
  elementCount,
  type Engine,
  EngineClosedError,
  type EngineDescription,
  EngineFeedError,
  type Tensor,
  type TensorData,
  type TensorSpec,
} from "./engine.ts";

/** Typed-array class that carries each dtype (fp16 as raw bits in a Uint16Array). */
export const ARRAY_OF: Record<DType, new (buffer: ArrayBuffer) => TensorData> = {
  float32: Float32Array,
  float16: Uint16Array,
  int32: Int32Array,
  int64: BigInt64Array,
};

/** A backend's raw engine, before the shared checks. */
export interface EngineCore {
  /** Name used in errors and `describe()`. */
  name: string;
  inputs: readonly TensorSpec[];
  outputs: readonly TensorSpec[];
  /** Runs once on feeds that passed {@linkcode checkFeeds}; never concurrently, never after release. */
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /** Frees native resources; called at most once. */
  release(): Promise<void> | void;
  describe(): EngineDescription;
}

/**
 * Checks that `feeds` cover every input with its dtype, typed array, rank, static dimensions and
 * value count; throws {@linkcode EngineFeedError} naming the first input that does not fit.
 */
export function checkFeeds(
  engine: string,
  inputs: readonly TensorSpec[],
  feeds: Record<string, Tensor>,
): void {
  for (const spec of inputs) {
    const fail = (problem: EngineFeedError["problem"], detail: string) =>
      new EngineFeedError(
        engine,
        spec.name,
        problem,
        `Cannot run engine "${engine}": input "${spec.name}" ${detail}`,
      );
    const tensor = feeds[spec.name];
    if (tensor === undefined) throw fail("missing", "is missing");
    if (tensor.dtype !== spec.dtype) {
      throw fail("dtype", `must be ${spec.dtype}, got ${tensor.dtype}`);
    }
    if (!(tensor.data instanceof ARRAY_OF[spec.dtype])) {
      throw fail("data", `data must be a ${ARRAY_OF[spec.dtype].name} for ${spec.dtype}`);
    }
    if (tensor.dims.length !== spec.shape.length) {
      throw fail("rank", `has rank ${tensor.dims.length}, expected ${spec.shape.length}`);
    }
    tensor.dims.forEach((d, axis) => {
      if (!Number.isInteger(d) || d < 0) {
        throw fail("shape", `has dimensions [${tensor.dims}], not non-negative integers`);
      }
      if (spec.shape[axis] >= 0 && d !== spec.shape[axis]) {
        throw fail("shape", `dimension ${axis} is ${d}, expected ${spec.shape[axis]}`);
      }
    });
    if (tensor.data.length !== elementCount(tensor.dims)) {
      throw fail("data", `holds ${tensor.data.length} values for shape [${tensor.dims}]`);
    }
  }
}

/** Wraps a backend's raw engine in the shared half of the contract. */
export function checkedEngine(core: EngineCore): Engine {
  let queue: Promise<unknown> = Promise.resolve();
  let closing: Promise<void> | null = null;

  // Runs `task` after every earlier task settled.
  function serialize<T>(task: () => Promise<T>): Promise<T> {
    const result = queue.then(task);
    queue = result.catch(() => undefined);
    return result;
  }

  return {
    inputs: core.inputs,
    outputs: core.outputs,
    run(feeds) {
      if (closing) return Promise.reject(new EngineClosedError(core.name));
      try {
        checkFeeds(core.name, core.inputs, feeds);
      } catch (error) {
        return Promise.reject(error);
      }
      return serialize(() => core.run(feeds));
    },
    describe: () => core.describe(),
    close() {
      closing ??= serialize(async () => await core.release());
      return closing;
    },
  };
}
