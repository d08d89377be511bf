/**
 * The C ABI of the TensorRT shim (ffi/hydit_trt.h) as TypeScript sees it: the FFI symbol table, the
 * struct layouts, and pure encoders and decoders for them. tests/ffi/shim_abi_test.ts checks every
 * declaration and offset against the header.
 *
 * @module
 */

import type { DType, TensorSpec } from "./engine.ts";

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

/** The shim's symbols as Deno exposes them. */
export type Shim = Deno.DynamicLibrary<typeof SHIM_SYMBOLS>["symbols"];

// Struct layouts, asserted by static_assert in ffi/hydit_trt.cpp.
/** Most dimensions of a tensor (HYDIT_TRT_MAX_DIMS). */
export const MAX_DIMS = 8;
const NAME_CAPACITY = 256;
/** Bytes of a hydit_trt_version_info. */
export const VERSION_INFO_SIZE = 304;
/** Bytes of a hydit_trt_load_options. */
export const LOAD_OPTIONS_SIZE = 16;
/** Bytes of a hydit_trt_io_info. */
export const IO_INFO_SIZE = 528;
/** Bytes of a hydit_trt_binding. */
export const BINDING_SIZE = 96;
/** Size of the error buffers handed to nonblocking calls. */
export const ERROR_CAPACITY = 4096;

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

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `text` as a NUL-terminated UTF-8 buffer. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(`${text}\0`);
}

/** The NUL-terminated string at `offset` of `bytes`, at most `capacity` bytes long. */
export function readCString(
  bytes: Uint8Array,
  offset = 0,
  capacity = bytes.length - offset,
): string {
  const end = bytes.subarray(offset, offset + capacity).indexOf(0);
  return decoder.decode(bytes.subarray(offset, offset + (end < 0 ? capacity : end)));
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

/** A hydit_trt_load_options for `device`, with CUDA-graph capture on or off, after `init` filled defaults. */
export function writeLoadOptions(
  options: Uint8Array,
  settings: { device: number; cudaGraphs: boolean },
): void {
  const view = new DataView(options.buffer, options.byteOffset, LOAD_OPTIONS_SIZE);
  view.setInt32(4, settings.device, true);
  view.setInt32(8, settings.cudaGraphs ? 1 : 0, true);
}
