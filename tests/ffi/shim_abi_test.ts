import assert from "node:assert/strict";
import {
  decodeIoInfo,
  decodeVersionInfo,
  SHIM_API_VERSION,
  SHIM_SYMBOLS,
  type TensorRtIo,
  writeBinding,
} from "../../lib/engine/tensorrt_abi.ts";

const HEADER = await Deno.readTextFile(new URL("../../ffi/hydit_trt.h", import.meta.url));

interface CFunction {
  name: string;
  result: string;
  params: string[];
}

/** Every `HYDIT_TRT_API <result> <name>(<params>);` declaration of the header. */
function headerFunctions(header: string): CFunction[] {
  const found: CFunction[] = [];
  const pattern = /HYDIT_TRT_API\s+([\w\s*]+?)\s*\b(hydit_trt_\w+)\s*\(([^)]*)\)\s*;/g;
  for (const [, result, name, params] of header.matchAll(pattern)) {
    const list = params.split(",").map((p) => p.replace(/\s+/g, " ").trim());
    found.push({
      name,
      result: result.replace(/\s+/g, " "),
      params: list[0] === "void" ? [] : list,
    });
  }
  return found;
}

/** The Deno FFI type a C parameter must be declared as. */
function ffiParam(param: string): string {
  const type = param.replace(/\s*\w+$/, "").replace(/\s+/g, "");
  if (type === "int32_t") return "i32";
  if (type === "size_t") return "usize";
  if (type === "hydit_trt_engine*") return "pointer";
  if (type.endsWith("*")) return "buffer";
  throw new Error(`No FFI mapping for C parameter "${param}"`);
}

function ffiResult(result: string): string {
  const map: Record<string, string> = { int32_t: "i32", "const char*": "pointer", void: "void" };
  const type = result.replace(/\s*\*/, "*");
  if (!(type in map)) throw new Error(`No FFI mapping for C result "${result}"`);
  return map[type];
}

const defines = Object.fromEntries(
  [...HEADER.matchAll(/#define (HYDIT_TRT_\w+) (\d+)/g)].map(([, k, v]) => [k, Number(v)]),
);

/** Byte offsets and size of a header struct, by C's natural alignment rules. */
function structLayout(name: string): { size: number; offsets: Record<string, number> } {
  const body = HEADER.match(new RegExp(`typedef struct ${name} \\{([\\s\\S]*?)\\} ${name};`));
  if (!body) throw new Error(`struct ${name} not found in the header`);
  const sizes: Record<string, number> = {
    char: 1,
    int32_t: 4,
    uint32_t: 4,
    int64_t: 8,
    uint64_t: 8,
  };
  const offsets: Record<string, number> = {};
  let offset = 0;
  let align = 1;
  const fields = body[1].replace(/\/\*[\s\S]*?\*\//g, "").matchAll(/(\w+)\s+(\w+)(?:\[(\w+)\])?;/g);
  for (const [, type, field, count] of fields) {
    const size = sizes[type];
    if (size === undefined) throw new Error(`Unknown field type ${type} in ${name}`);
    const n = count === undefined ? 1 : Number(defines[count] ?? count);
    offset = Math.ceil(offset / size) * size;
    offsets[field] = offset;
    offset += size * n;
    align = Math.max(align, size);
  }
  return { size: Math.ceil(offset / align) * align, offsets };
}

Deno.test("SHIM_SYMBOLS declares exactly the functions of ffi/hydit_trt.h with matching types", () => {
  const functions = headerFunctions(HEADER);
  assert.ok(functions.length >= 10, `parsed only ${functions.length} declarations`);
  assert.deepEqual(
    Object.keys(SHIM_SYMBOLS).sort(),
    functions.map((f) => f.name).sort(),
  );
  for (const f of functions) {
    const symbol = SHIM_SYMBOLS[f.name as keyof typeof SHIM_SYMBOLS];
    assert.deepEqual([...symbol.parameters], f.params.map(ffiParam), `${f.name} parameters`);
    assert.equal(symbol.result, ffiResult(f.result), `${f.name} result`);
  }
});

Deno.test("only the calls that wait on the GPU are nonblocking, and they report errors in a buffer", () => {
  const nonblocking = Object.entries(SHIM_SYMBOLS)
    .filter(([, s]) => "nonblocking" in s && s.nonblocking)
    .map(([name]) => name)
    .sort();
  assert.deepEqual(nonblocking, ["hydit_trt_get_version_info", "hydit_trt_load", "hydit_trt_run"]);
  for (const name of nonblocking) {
    const params = headerFunctions(HEADER).find((f) => f.name === name)!.params;
    assert.deepEqual(params.slice(-2), ["char* error", "size_t error_capacity"], name);
  }
});

Deno.test("the binding's ABI version equals HYDIT_TRT_API_VERSION", () => {
  assert.equal(SHIM_API_VERSION, defines.HYDIT_TRT_API_VERSION);
});

Deno.test("struct sizes computed from the header match the shim's static_asserts", async () => {
  const source = await Deno.readTextFile(new URL("../../ffi/hydit_trt.cpp", import.meta.url));
  for (
    const name of [
      "hydit_trt_version_info",
      "hydit_trt_load_options",
      "hydit_trt_io_info",
      "hydit_trt_binding",
    ]
  ) {
    const asserted = source.match(new RegExp(`sizeof\\(${name}\\) == (\\d+)`));
    assert.ok(asserted, `no static_assert for ${name}`);
    assert.equal(structLayout(name).size, Number(asserted[1]), name);
  }
});

Deno.test("decodeVersionInfo() reads every field at the header's offsets", () => {
  const { size, offsets } = structLayout("hydit_trt_version_info");
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setInt32(offsets.api_version, 1, true);
  view.setInt32(offsets.tensorrt_header_version, 110100, true);
  view.setInt32(offsets.tensorrt_library_version, 101601, true);
  view.setInt32(offsets.cuda_runtime_version, 13000, true);
  view.setInt32(offsets.cuda_driver_version, 12080, true);
  view.setInt32(offsets.device, 1, true);
  view.setInt32(offsets.sm_major, 8, true);
  view.setInt32(offsets.sm_minor, 9, true);
  view.setBigUint64(offsets.free_memory, 20n * 2n ** 30n, true);
  view.setBigUint64(offsets.total_memory, 24n * 2n ** 30n, true);
  bytes.set(new TextEncoder().encode("NVIDIA L4\0garbage"), offsets.device_name);
  assert.deepEqual(decodeVersionInfo(bytes), {
    apiVersion: 1,
    tensorrtHeaders: "11.1.0",
    tensorrt: "10.16.1",
    cudaRuntime: "13.0",
    cudaDriver: "12.8",
    device: 1,
    gpu: "NVIDIA L4",
    sm: "8.9",
    freeMemory: 20 * 2 ** 30,
    totalMemory: 24 * 2 ** 30,
  });
});

Deno.test("decodeIoInfo() reads name, mode, dtype, shape and profile at the header's offsets", () => {
  const { size, offsets } = structLayout("hydit_trt_io_info");
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode("cos_cis_img\0"), offsets.name);
  view.setInt32(offsets.mode, 1, true);
  view.setInt32(offsets.dtype, 0, true);
  view.setInt32(offsets.nb_dims, 2, true);
  const put = (field: string, dims: number[]) =>
    dims.forEach((d, i) => view.setBigInt64(offsets[field] + 8 * i, BigInt(d), true));
  put("shape", [-1, 88]);
  put("min", [2304, 88]);
  put("opt", [4096, 88]);
  put("max", [6400, 88]);
  assert.deepEqual(decodeIoInfo(bytes, 6), {
    index: 6,
    name: "cos_cis_img",
    mode: "input",
    dtype: "float32",
    shape: [-1, 88],
    min: [2304, 88],
    opt: [4096, 88],
    max: [6400, 88],
  });
  view.setInt32(offsets.dtype, 7, true);
  assert.throws(
    () => decodeIoInfo(bytes, 6),
    /"cos_cis_img" has dtype bf16, which the engine contract does not carry/,
  );
});

Deno.test("writeBinding() fills a hydit_trt_binding at the header's offsets", () => {
  const { size, offsets } = structLayout("hydit_trt_binding");
  const table = new Uint8Array(size * 2);
  const view = new DataView(table.buffer);
  const spec: TensorRtIo = {
    index: 3,
    name: "x",
    mode: "input",
    dtype: "float16",
    shape: [-1, 4, -1, -1],
    min: [],
    opt: [],
    max: [],
  };
  const data = new Uint8Array(new ArrayBuffer(2 * 4 * 8 * 8 * 2));
  writeBinding(view, 1, spec, data, [2, 4, 8, 8]);
  const at = (field: string) => size + offsets[field];
  assert.equal(
    view.getBigUint64(at("data"), true),
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(data))),
  );
  assert.equal(view.getBigUint64(at("bytes"), true), 1024n);
  assert.equal(view.getInt32(at("io_index"), true), 3);
  assert.equal(view.getInt32(at("dtype"), true), 1);
  assert.equal(view.getInt32(at("nb_dims"), true), 4);
  const dims = Array.from(
    { length: 8 },
    (_, i) => Number(view.getBigInt64(at("dims") + 8 * i, true)),
  );
  assert.deepEqual(dims, [2, 4, 8, 8, 0, 0, 0, 0]);
  assert.deepEqual([...table.subarray(0, size)], new Array(size).fill(0));
});
