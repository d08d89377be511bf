import assert from "node:assert/strict";
import { openShim, tensorRtVersionInfo } from "../../lib/engine/tensorrt.ts";
import { TensorRtError } from "../../lib/engine/tensorrt_abi.ts";

const BUILD = new URL("../../ffi/build.sh", import.meta.url).pathname;
const DOUBLE = new URL("./fixtures/libnvinfer_double.c", import.meta.url).pathname;
const STANDARD_INCLUDES = [
  "/usr/include/x86_64-linux-gnu",
  "/usr/include/aarch64-linux-gnu",
  "/usr/local/tensorrt/include",
  "/opt/tensorrt/include",
];

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function onPath(program: string): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((dir) => isFile(`${dir}/${program}`));
}

const trtRoot = Deno.env.get("TENSORRT_ROOT") ?? "";
const trtHeaders = trtRoot !== "" && isFile(`${trtRoot}/include/NvInferRuntime.h`);
const cudaHome = Deno.env.get("CUDA_HOME") ?? "/usr/local/cuda";
const cudart = isFile(`${cudaHome}/lib64/libcudart.so`);
const compilers = onPath("g++") && onPath("gcc");
const hasGpu = isFile("/dev/nvidia0") || isFile("/dev/nvidiactl");

async function build(env: Record<string, string>, args: string[] = []) {
  const base = Deno.env.toObject();
  delete base.TENSORRT_ROOT;
  const out = await new Deno.Command("bash", {
    args: [BUILD, ...args],
    env: { ...base, ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

Deno.test("ffi/build.sh exits 0 and says it skipped when no TensorRT headers exist", async () => {
  const out = await Deno.makeTempDir();
  try {
    const { code, text } = await build({ OUT_DIR: out });
    assert.equal(code, 0, text);
    if (STANDARD_INCLUDES.some((dir) => isFile(`${dir}/NvInferRuntime.h`))) {
      assert.match(text, /compiled/); // a TensorRT machine: it builds instead
    } else {
      assert.match(text, /^ffi\/build\.sh: skipped: no TensorRT headers found/);
      assert.deepEqual([...Deno.readDirSync(out)], []);
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("ffi/build.sh fails clearly when TENSORRT_ROOT has no headers", async () => {
  const root = await Deno.makeTempDir();
  try {
    const { code, text } = await build({ TENSORRT_ROOT: root, OUT_DIR: `${root}/out` });
    assert.equal(code, 1);
    assert.match(text, /TENSORRT_ROOT=.* has no include\/NvInferRuntime\.h/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "ffi/build.sh compiles the shim with -Werror against TENSORRT_ROOT's headers",
  ignore: !(trtHeaders && compilers),
  async fn() {
    const out = await Deno.makeTempDir();
    try {
      const { code, text } = await build({ TENSORRT_ROOT: trtRoot, OUT_DIR: out }, [
        "--compile-only",
      ]);
      assert.equal(code, 0, text);
      assert.match(text, /TensorRT \d+\.\d+\.\d+ headers/);
      assert.ok((await Deno.stat(`${out}/hydit_trt.o`)).size > 0);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

// Links the real shim against a two-symbol libnvinfer double and the real CUDA runtime, then drives
// it through the real binding: every path below runs shim code that needs no GPU.
Deno.test({
  name: "the shim reports argument, plan and device errors through the FFI binding",
  ignore: !(trtHeaders && compilers && cudart),
  async fn() {
    const root = await Deno.makeTempDir();
    try {
      await Deno.mkdir(`${root}/lib`);
      await Deno.symlink(`${trtRoot}/include`, `${root}/include`);
      const gcc = await new Deno.Command("gcc", {
        args: ["-shared", "-fPIC", "-o", `${root}/lib/libnvinfer.so`, DOUBLE],
      }).output();
      assert.ok(gcc.success, new TextDecoder().decode(gcc.stderr));
      const linked = await build({
        TENSORRT_ROOT: root,
        OUT_DIR: `${root}/build`,
        CUDA_HOME: cudaHome,
      });
      assert.equal(linked.code, 0, linked.text);

      const library = `${root}/build/libhydit_trt.so`;
      const shim = openShim(library);
      const error = new Uint8Array(1024);
      const handle = new BigUint64Array(1);
      const message = () => new TextDecoder().decode(error.subarray(0, error.indexOf(0)));
      const load = (path: string) =>
        shim.hydit_trt_load(new TextEncoder().encode(`${path}\0`), null, handle, error, 1024n);
      const lastError = () => Deno.UnsafePointerView.getCString(shim.hydit_trt_last_error()!);

      assert.equal(await load(`${root}/missing.plan`), 2);
      assert.match(message(), /Cannot open plan ".*missing\.plan": No such file or directory/);
      assert.equal(handle[0], 0n);

      await Deno.writeTextFile(`${root}/model.onnx`, "this is an ONNX file, not a TensorRT plan");
      assert.equal(await load(`${root}/model.onnx`), 4);
      assert.match(message(), /not a TensorRT plan \(bad file tag\)/);

      const plan = new Uint8Array(64);
      new DataView(plan.buffer).setUint32(0, 0x74727466, true);
      plan.set([10, 16, 1, 11], 24);
      await Deno.writeFile(`${root}/old.plan`, plan);
      assert.equal(await load(`${root}/old.plan`), 4);
      assert.match(
        message(),
        /built by TensorRT 10\.16\.1 but this runtime is TensorRT 11\.1\.0; rebuild/,
      );

      plan.set([11, 1, 0, 106], 24);
      await Deno.writeFile(`${root}/current.plan`, plan);
      const status = await load(`${root}/current.plan`);
      if (hasGpu) {
        assert.equal(status, 5); // the double's createInferRuntime returns NULL
      } else {
        assert.equal(status, 6);
        assert.match(
          message(),
          /cudaGetDeviceCount \(is a GPU visible to this process\?\) failed: cuda/,
        );
        await assert.rejects(
          tensorRtVersionInfo({ library }),
          (e: Error) => e instanceof TensorRtError && e.status === "HYDIT_TRT_CUDA_ERROR",
        );
      }

      assert.equal(shim.hydit_trt_get_io_count(null, new Int32Array(1)), 1);
      assert.equal(lastError(), "hydit_trt_get_io_count: engine is NULL");
      assert.equal(await shim.hydit_trt_run(null, null, 0, error, 1024n), 1);
      assert.equal(message(), "hydit_trt_run: engine is NULL");
      assert.equal(shim.hydit_trt_unload(null), 0);
      assert.equal(lastError(), "");
      assert.equal(
        Deno.UnsafePointerView.getCString(shim.hydit_trt_status_name(42)!),
        "HYDIT_TRT_UNKNOWN_STATUS",
      );
      const options = new Uint8Array(16);
      shim.hydit_trt_load_options_init(options);
      assert.deepEqual([...new Int32Array(options.buffer)], [16, 0, 0, 2]);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
