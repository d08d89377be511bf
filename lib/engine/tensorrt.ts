/**
 * The `tensorrt` engine backend: TensorRT plans run through Deno FFI and the C shim in ffi/
 * (`libhydit_trt.so`). Calls that wait on the GPU (load, version query, run) are `nonblocking`
 * symbols, so the event loop keeps serving HTTP while the GPU works; runs on one engine are
 * serialized, and every buffer handed to the shim stays referenced until its call settles.
 *
 * @module
 */

import {
  type DType,
  DTYPE_SIZE,
  elementCount,
  type Engine,
  type EngineDescription,
  type Tensor,
  type TensorData,
  type TensorSpec,
} from "./engine.ts";
import {
  checkPlanCompatibility,
  type TrtManifest,
  type TrtRuntime,
} from "../../engines/trt_plan.ts";

/** ABI version this binding was written for (HYDIT_TRT_API_VERSION in ffi/hydit_trt.h). */
export const SHIM_API_VERSION = 1;

/** The shim's exported functions as Deno FFI declarations; mirrors ffi/hydit_trt.h one to one. */
export const SHIM_SYMBOLS = {
  hydit_trt_api_version: { parameters: [], result: "i32" },
  hydit_trt_last_error: { parameters: [], result: "pointer" },
  hydit_trt_status_name: { parameters: ["i32"], result: "pointer" },
  hydit_trt_get_version_info: {
    parameters: ["i32", "buffer", "buffer", "usize"],
    result: "i32",
    nonblocking: true,
  },
  hydit_trt_load_options_init: { parameters: ["buffer"], result: "void" },
  hydit_trt_load: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "usize"],
    result: "i32",
    nonblocking: true,
  },
  hydit_trt_get_io_count: { parameters: ["pointer", "buffer"], result: "i32" },
  hydit_trt_get_io_info: { parameters: ["pointer", "i32", "buffer"], result: "i32" },
  hydit_trt_set_input_shape: {
    parameters: ["pointer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  hydit_trt_tensor_shape: { parameters: ["pointer", "buffer", "buffer", "buffer"], result: "i32" },
  hydit_trt_run: {
    parameters: ["pointer", "buffer", "i32", "buffer", "usize"],
    result: "i32",
    nonblocking: true,
  },
  hydit_trt_unload: { parameters: ["pointer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

type Shim = Deno.DynamicLibrary<typeof SHIM_SYMBOLS>["symbols"];

// Struct layouts, asserted by static_assert in ffi/hydit_trt.cpp.
const MAX_DIMS = 8;
const NAME_CAPACITY = 256;
const VERSION_INFO_SIZE = 304;
const LOAD_OPTIONS_SIZE = 16;
const IO_INFO_SIZE = 528;
const BINDING_SIZE = 96;
const ERROR_CAPACITY = 4096;

/** nvinfer1::DataType values the engine contract carries. */
const TRT_DTYPES: Record<number, DType> = { 0: "float32", 1: "float16", 3: "int32", 8: "int64" };
const TRT_DTYPE_NAMES = [
  "float32",
  "float16",
  "int8",
  "int32",
  "bool",
  "uint8",
  "fp8",
  "bf16",
  "int64",
  "int4",
  "fp4",
  "e8m0",
];
const DTYPE_CODES: Record<DType, number> = { float32: 0, float16: 1, int32: 3, int64: 8 };

/** Raised for every failure reported by the shim; `status` is its status name. */
export class TensorRtError extends Error {
  /** Shim status name, e.g. "HYDIT_TRT_NOT_FOUND". */
  readonly status: string;
  /** Creates the error from the shim's status name and message. */
  constructor(status: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TensorRtError";
    this.status = status;
  }
}

/** TensorRT, CUDA and device facts reported by the shim. */
export interface TensorRtVersionInfo {
  apiVersion: number;
  /** TensorRT the shim was compiled against, "M.m.p". */
  tensorrtHeaders: string;
  /** TensorRT library loaded at run time, "M.m.p". */
  tensorrt: string;
  /** CUDA runtime, "M.m". */
  cudaRuntime: string;
  /** Highest CUDA version the driver supports, "M.m". */
  cudaDriver: string;
  device: number;
  gpu: string;
  /** Compute capability "major.minor". */
  sm: string;
  freeMemory: number;
  totalMemory: number;
}

/** An IO tensor as the plan describes it, with its profile range for inputs. */
export interface TensorRtIo extends TensorSpec {
  index: number;
  mode: "input" | "output";
  min: number[];
  opt: number[];
  max: number[];
}

/** Options for {@linkcode openTensorRtEngine}. */
export interface TensorRtEngineOptions {
  /** Path of libhydit_trt.so. @default `HYDIT_TRT_SHIM`, else ffi/build/libhydit_trt.so */
  library?: string;
  /** Name reported by describe(). @default the plan's file name */
  name?: string;
  /** CUDA device ordinal. @default 0 */
  device?: number;
  /** Capture one CUDA graph per input-shape set (for the DiT step). @default false */
  cudaGraphs?: boolean;
  /** When given, refuse the plan unless this manifest section matches the runtime and GPU. */
  expect?: Pick<TrtManifest, "version" | "gpu" | "sm">;
}

const libraries = new Map<string, Deno.DynamicLibrary<typeof SHIM_SYMBOLS>>();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The shim's default location: `HYDIT_TRT_SHIM`, else ffi/build/libhydit_trt.so in this repo. */
export function defaultShimPath(env: Record<string, string | undefined> = {}): string {
  return env.HYDIT_TRT_SHIM ||
    new URL("../../ffi/build/libhydit_trt.so", import.meta.url).pathname;
}

/** Opens (once per path) the shim and checks its ABI version. */
export function openShim(path: string): Shim {
  let library = libraries.get(path);
  if (!library) {
    try {
      library = Deno.dlopen(path, SHIM_SYMBOLS);
    } catch (cause) {
      throw new TensorRtError(
        "HYDIT_TRT_NOT_LOADED",
        `Cannot load the TensorRT shim "${path}": ${(cause as Error).message}`,
        { cause },
      );
    }
    const version = library.symbols.hydit_trt_api_version();
    if (version !== SHIM_API_VERSION) {
      library.close();
      throw new TensorRtError(
        "HYDIT_TRT_INCOMPATIBLE",
        `Cannot use the TensorRT shim "${path}": ABI version ${version}, expected ${SHIM_API_VERSION}; rebuild it with ffi/build.sh`,
      );
    }
    libraries.set(path, library);
  }
  return library.symbols;
}

function cString(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(`${text}\0`);
}

function readCString(bytes: Uint8Array, offset = 0, capacity = bytes.length - offset): string {
  const end = bytes.subarray(offset, offset + capacity).indexOf(0);
  return decoder.decode(bytes.subarray(offset, offset + (end < 0 ? capacity : end)));
}

function statusName(shim: Shim, status: number): string {
  const pointer = shim.hydit_trt_status_name(status);
  return pointer ? Deno.UnsafePointerView.getCString(pointer) : `status ${status}`;
}

/** Throws the thread-local last error after a failed synchronous call. */
function checkSync(shim: Shim, status: number): void {
  if (status === 0) return;
  const pointer = shim.hydit_trt_last_error();
  const message = pointer ? Deno.UnsafePointerView.getCString(pointer) : "";
  throw new TensorRtError(statusName(shim, status), message || statusName(shim, status));
}

/** Throws the message a nonblocking call left in its error buffer. */
function checkAsync(shim: Shim, status: number, error: Uint8Array): void {
  if (status === 0) return;
  throw new TensorRtError(statusName(shim, status), readCString(error) || statusName(shim, status));
}

function versionText(code: number, parts: 2 | 3): string {
  if (parts === 3) {
    return `${Math.floor(code / 10000)}.${Math.floor(code / 100) % 100}.${code % 100}`;
  }
  return `${Math.floor(code / 1000)}.${Math.floor(code / 10) % 100}`;
}

/** Decodes a hydit_trt_version_info struct (304 bytes). */
export function decodeVersionInfo(bytes: Uint8Array): TensorRtVersionInfo {
  const view = new DataView(bytes.buffer, bytes.byteOffset, VERSION_INFO_SIZE);
  const i32 = (offset: number) => view.getInt32(offset, true);
  return {
    apiVersion: i32(0),
    tensorrtHeaders: versionText(i32(4), 3),
    tensorrt: versionText(i32(8), 3),
    cudaRuntime: versionText(i32(12), 2),
    cudaDriver: versionText(i32(16), 2),
    device: i32(20),
    sm: `${i32(24)}.${i32(28)}`,
    freeMemory: Number(view.getBigUint64(32, true)),
    totalMemory: Number(view.getBigUint64(40, true)),
    gpu: readCString(bytes, 48, NAME_CAPACITY),
  };
}

/** Decodes a hydit_trt_io_info struct (528 bytes); throws for dtypes the engine contract lacks. */
export function decodeIoInfo(bytes: Uint8Array, index: number): TensorRtIo {
  const view = new DataView(bytes.buffer, bytes.byteOffset, IO_INFO_SIZE);
  const name = readCString(bytes, 0, NAME_CAPACITY);
  const mode = view.getInt32(256, true);
  const code = view.getInt32(260, true);
  const rank = view.getInt32(264, true);
  const dims = (offset: number) =>
    Array.from({ length: rank }, (_, i) => Number(view.getBigInt64(offset + 8 * i, true)));
  const dtype = TRT_DTYPES[code];
  if (dtype === undefined) {
    throw new TensorRtError(
      "HYDIT_TRT_INCOMPATIBLE",
      `Tensor "${name}" has dtype ${
        TRT_DTYPE_NAMES[code] ?? code
      }, which the engine contract does not carry (float32, float16, int32, int64)`,
    );
  }
  return {
    index,
    name,
    mode: mode === 1 ? "input" : "output",
    dtype,
    shape: dims(272),
    min: dims(336),
    opt: dims(400),
    max: dims(464),
  };
}

/** Reads TensorRT/CUDA versions and the GPU's name, SM and memory through the shim. */
export async function tensorRtVersionInfo(
  options: { library?: string; device?: number } = {},
): Promise<TensorRtVersionInfo> {
  const shim = openShim(options.library ?? defaultShimPath(Deno.env.toObject()));
  const out = new Uint8Array(VERSION_INFO_SIZE);
  const error = new Uint8Array(ERROR_CAPACITY);
  const status = await shim.hydit_trt_get_version_info(
    options.device ?? 0,
    out,
    error,
    BigInt(ERROR_CAPACITY),
  );
  checkAsync(shim, status, error);
  return decodeVersionInfo(out);
}

/** The runtime facts {@linkcode checkPlanCompatibility} compares a manifest against. */
export function runtimeOf(info: TensorRtVersionInfo): TrtRuntime {
  return { version: info.tensorrt, gpu: info.gpu, sm: info.sm };
}

/** Typed-array class per dtype, for validation and output allocation. */
const ARRAY_OF: Record<DType, new (buffer: ArrayBuffer) => TensorData> = {
  float32: Float32Array,
  float16: Uint16Array,
  int32: Int32Array,
  int64: BigInt64Array,
};

function checkFeed(spec: TensorRtIo, tensor: Tensor | undefined): Tensor {
  if (tensor === undefined) {
    throw new TypeError(`Cannot run the engine: input "${spec.name}" is missing`);
  }
  if (tensor.dtype !== spec.dtype) {
    throw new TypeError(
      `Cannot run the engine: input "${spec.name}" must be ${spec.dtype}, got ${tensor.dtype}`,
    );
  }
  if (!(tensor.data instanceof ARRAY_OF[spec.dtype])) {
    throw new TypeError(
      `Cannot run the engine: input "${spec.name}" data must be a ${
        ARRAY_OF[spec.dtype].name
      } for ${spec.dtype}`,
    );
  }
  if (tensor.dims.length !== spec.shape.length) {
    throw new RangeError(
      `Cannot run the engine: input "${spec.name}" has rank ${tensor.dims.length}, expected ${spec.shape.length}`,
    );
  }
  if (tensor.data.length !== elementCount(tensor.dims)) {
    throw new RangeError(
      `Cannot run the engine: input "${spec.name}" holds ${tensor.data.length} values for shape [${tensor.dims}]`,
    );
  }
  return tensor;
}

/**
 * A host buffer the shim may read or write during a nonblocking call. Small typed arrays can live
 * inside V8's heap, where the garbage collector may move them, so anything short is copied into a
 * fresh ArrayBuffer (whose backing store never moves); large ones are passed in place.
 */
function stableBytes(data: TensorData): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.byteLength > 4096) return bytes;
  const copy = new Uint8Array(new ArrayBuffer(Math.max(bytes.byteLength, 8)), 0, bytes.byteLength);
  copy.set(bytes);
  return copy;
}

function address(bytes: Uint8Array): bigint {
  return bytes.byteLength === 0
    ? 0n
    : BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
}

/** Writes one hydit_trt_binding (96 bytes) into slot `slot` of a bindings table. */
export function writeBinding(
  view: DataView,
  slot: number,
  spec: TensorRtIo,
  bytes: Uint8Array,
  dims: readonly number[],
): void {
  const base = slot * BINDING_SIZE;
  view.setBigUint64(base, address(bytes), true);
  view.setBigUint64(base + 8, BigInt(bytes.byteLength), true);
  view.setInt32(base + 16, spec.index, true);
  view.setInt32(base + 20, DTYPE_CODES[spec.dtype], true);
  view.setInt32(base + 24, dims.length, true);
  view.setInt32(base + 28, 0, true);
  for (let i = 0; i < MAX_DIMS; i++) {
    view.setBigInt64(base + 32 + 8 * i, BigInt(dims[i] ?? 0), true);
  }
}

/**
 * Loads a TensorRT plan through the shim and returns it as an {@linkcode Engine}. With
 * `options.expect`, the runtime's TensorRT version and GPU are checked against it first.
 */
export async function openTensorRtEngine(
  planPath: string,
  options: TensorRtEngineOptions = {},
): Promise<Engine> {
  const library = options.library ?? defaultShimPath(Deno.env.toObject());
  const shim = openShim(library);
  const device = options.device ?? 0;
  const info = await tensorRtVersionInfo({ library, device });
  if (options.expect) checkPlanCompatibility(options.expect, runtimeOf(info));

  const loadOptions = new Uint8Array(LOAD_OPTIONS_SIZE);
  shim.hydit_trt_load_options_init(loadOptions);
  const opts = new DataView(loadOptions.buffer);
  opts.setInt32(4, device, true);
  opts.setInt32(8, options.cudaGraphs ? 1 : 0, true);
  const handleOut = new BigUint64Array(1);
  const error = new Uint8Array(ERROR_CAPACITY);
  const path = cString(planPath);
  checkAsync(
    shim,
    await shim.hydit_trt_load(path, loadOptions, handleOut, error, BigInt(ERROR_CAPACITY)),
    error,
  );
  const handle = Deno.UnsafePointer.create(handleOut[0]);
  if (handle === null) {
    throw new TensorRtError(
      "HYDIT_TRT_INTERNAL",
      `Cannot load plan "${planPath}": the shim returned no engine`,
    );
  }

  let io: TensorRtIo[];
  try {
    const countOut = new Int32Array(1);
    checkSync(shim, shim.hydit_trt_get_io_count(handle, countOut));
    const infoBytes = new Uint8Array(IO_INFO_SIZE);
    io = Array.from({ length: countOut[0] }, (_, index) => {
      checkSync(shim, shim.hydit_trt_get_io_info(handle, index, infoBytes));
      return decodeIoInfo(infoBytes, index);
    });
  } catch (error) {
    shim.hydit_trt_unload(handle);
    throw error;
  }
  return tensorRtEngine(shim, handle, io, {
    name: options.name ?? planPath.split("/").pop() ?? planPath,
    plan: planPath,
    info,
    cudaGraphs: options.cudaGraphs ?? false,
  });
}

function tensorRtEngine(
  shim: Shim,
  handle: Deno.PointerObject,
  io: TensorRtIo[],
  meta: { name: string; plan: string; info: TensorRtVersionInfo; cudaGraphs: boolean },
): Engine {
  const inputs = io.filter((t) => t.mode === "input");
  const outputs = io.filter((t) => t.mode === "output");
  const names = new Map(io.map((t) => [t.name, cString(t.name)]));
  const bindings = new Uint8Array(BINDING_SIZE * io.length);
  const bindingView = new DataView(bindings.buffer);
  const error = new Uint8Array(ERROR_CAPACITY);
  const shapeOut = new BigInt64Array(MAX_DIMS);
  const rankOut = new Int32Array(1);
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;

  // Runs `task` after every earlier task settled: one shim call sequence per engine at a time.
  function serialize<T>(task: () => Promise<T>): Promise<T> {
    const result = queue.then(task);
    queue = result.catch(() => {});
    return result;
  }

  async function runOnce(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    if (closed) {
      throw new TensorRtError("HYDIT_TRT_CLOSED", `Cannot run engine "${meta.name}": it is closed`);
    }
    const held: Uint8Array[] = [];
    inputs.forEach((spec, slot) => {
      const tensor = checkFeed(spec, feeds[spec.name]);
      checkSync(
        shim,
        shim.hydit_trt_set_input_shape(
          handle,
          names.get(spec.name)!,
          BigInt64Array.from(tensor.dims, BigInt),
          tensor.dims.length,
        ),
      );
      const bytes = stableBytes(tensor.data);
      held.push(bytes);
      writeBinding(bindingView, slot, spec, bytes, tensor.dims);
    });
    const results: Record<string, Tensor> = {};
    outputs.forEach((spec, i) => {
      checkSync(
        shim,
        shim.hydit_trt_tensor_shape(handle, names.get(spec.name)!, shapeOut, rankOut),
      );
      const dims = Array.from(shapeOut.subarray(0, rankOut[0]), Number);
      const buffer = new ArrayBuffer(elementCount(dims) * DTYPE_SIZE[spec.dtype]);
      const bytes = new Uint8Array(buffer);
      held.push(bytes);
      writeBinding(bindingView, inputs.length + i, spec, bytes, dims);
      results[spec.name] = { dtype: spec.dtype, dims, data: new ARRAY_OF[spec.dtype](buffer) };
    });
    // `held`, `bindings` and `error` stay referenced by this frame until the call settles.
    const status = await shim.hydit_trt_run(
      handle,
      bindings,
      io.length,
      error,
      BigInt(ERROR_CAPACITY),
    );
    checkAsync(shim, status, error);
    held.length = 0;
    return results;
  }

  return {
    inputs,
    outputs,
    run: (feeds) => serialize(() => runOnce(feeds)),
    describe(): EngineDescription {
      return {
        backend: "tensorrt",
        name: meta.name,
        inputs: inputs.map(({ name, dtype, shape }) => ({ name, dtype, shape })),
        outputs: outputs.map(({ name, dtype, shape }) => ({ name, dtype, shape })),
        detail: {
          plan: meta.plan,
          tensorrt: meta.info.tensorrt,
          cuda: meta.info.cudaRuntime,
          gpu: meta.info.gpu,
          sm: meta.info.sm,
          cudaGraphs: meta.cudaGraphs ? 1 : 0,
        },
      };
    },
    close: () =>
      serialize(() => {
        if (!closed) {
          closed = true;
          checkSync(shim, shim.hydit_trt_unload(handle));
        }
        return Promise.resolve();
      }),
  };
}
