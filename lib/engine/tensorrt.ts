/**
 * The `tensorrt` engine backend: TensorRT plans run through Deno FFI and the C shim in ffi/
 * (`libhydit_trt.so`, whose path the caller passes: `Config.trtShim` in the service). Calls that
 * wait on the GPU (load, version query, run) are `nonblocking` symbols, so the event loop keeps
 * serving HTTP while the GPU works; every buffer handed to the shim stays referenced until its call
 * settles. Struct layouts live in tensorrt_abi.ts.
 *
 * @module
 */

import { ARRAY_OF, checkedEngine } from "./checked_engine.ts";
import {
  DTYPE_SIZE,
  elementCount,
  type Engine,
  EngineFeedError,
  type Tensor,
  type TensorData,
  type TensorSpec,
} from "./engine.ts";
import type { TrtManifest } from "./manifest.ts";
import { checkPlanCompatibility, type TrtRuntime } from "./plan_compat.ts";
import {
  BINDING_SIZE,
  cString,
  decodeIoInfo,
  decodeVersionInfo,
  ERROR_CAPACITY,
  IO_INFO_SIZE,
  LOAD_OPTIONS_SIZE,
  MAX_DIMS,
  readCString,
  type Shim,
  SHIM_API_VERSION,
  SHIM_SYMBOLS,
  TensorRtError,
  type TensorRtIo,
  type TensorRtVersionInfo,
  VERSION_INFO_SIZE,
  writeBinding,
  writeLoadOptions,
} from "./tensorrt_abi.ts";

/** Options for {@linkcode openTensorRtEngine}. */
export interface TensorRtEngineOptions {
  /** Path of libhydit_trt.so. */
  library: string;
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

/** Reads TensorRT/CUDA versions and the GPU's name, SM and memory through the shim at `library`. */
export async function tensorRtVersionInfo(
  options: { library: string; device?: number },
): Promise<TensorRtVersionInfo> {
  const shim = openShim(options.library);
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

/**
 * Refuses dynamic dimensions outside the plan's optimization profile before the shim sees them (the
 * shim checks the same; static dimensions were checked with the feed).
 */
function checkProfile(engine: string, spec: TensorRtIo, dims: readonly number[]): void {
  dims.forEach((d, axis) => {
    if (spec.shape[axis] < 0 && (d < spec.min[axis] || d > spec.max[axis])) {
      throw new EngineFeedError(
        engine,
        spec.name,
        "shape",
        `Cannot run engine "${engine}": input "${spec.name}" dimension ${axis} is ${d}, outside ` +
          `the plan's range ${spec.min[axis]}..${spec.max[axis]}`,
      );
    }
  });
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

/**
 * Loads a TensorRT plan through the shim and returns it as an {@linkcode Engine}. With
 * `options.expect`, the runtime's TensorRT version and GPU are checked against it first.
 */
export async function openTensorRtEngine(
  planPath: string,
  options: TensorRtEngineOptions,
): Promise<Engine> {
  const shim = openShim(options.library);
  const device = options.device ?? 0;
  const info = await tensorRtVersionInfo({ library: options.library, device });
  if (options.expect) checkPlanCompatibility(options.expect, runtimeOf(info));

  const loadOptions = new Uint8Array(LOAD_OPTIONS_SIZE);
  shim.hydit_trt_load_options_init(loadOptions);
  writeLoadOptions(loadOptions, { device, cudaGraphs: options.cudaGraphs ?? false });
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

  async function run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    for (const spec of inputs) checkProfile(meta.name, spec, feeds[spec.name].dims);
    const held: Uint8Array[] = [];
    inputs.forEach((spec, slot) => {
      const tensor = feeds[spec.name];
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

  const spec = ({ name, dtype, shape }: TensorRtIo): TensorSpec => ({ name, dtype, shape });
  const [inputSpecs, outputSpecs] = [inputs.map(spec), outputs.map(spec)];
  return checkedEngine({
    name: meta.name,
    inputs: inputSpecs,
    outputs: outputSpecs,
    run,
    release: () => checkSync(shim, shim.hydit_trt_unload(handle)),
    describe: () => ({
      backend: "tensorrt",
      name: meta.name,
      inputs: inputSpecs,
      outputs: outputSpecs,
      detail: {
        plan: meta.plan,
        tensorrt: meta.info.tensorrt,
        cuda: meta.info.cudaRuntime,
        gpu: meta.info.gpu,
        sm: meta.info.sm,
        cudaGraphs: meta.cudaGraphs ? 1 : 0,
      },
    }),
  });
}
