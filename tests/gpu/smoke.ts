/**
 * GPU smoke test, `deno task test:gpu`: on a machine with an NVIDIA GPU and TensorRT it
 *
 * 1. builds fp16 ONNX graphs and TensorRT plans for the tiny checkpoint
 *    (`engines:build --precision fp16 --trt`, default 768..1280 profiles),
 * 2. runs every plan through the shim and the same ONNX graph through ONNX Runtime (CPU) on
 *    identical random inputs at the profile's opt and min shapes, within a tolerance per precision,
 * 3. checks the profile validation on a real engine (shape outside the profile) and that
 *    CUDA-graph replay matches plain enqueue,
 * 4. times the DiT step (plain and CUDA graph), then runs a full generation on both backends and
 *    compares the images,
 * 5. runs the engine conformance suite (tests/engine/conformance.ts) on TensorRT, with plans whose
 *    profiles cover the golden inputs,
 *
 * and prints a summary. Without a GPU, trtexec or a buildable shim it refuses with the reason
 * (exit 2). Any failed check exits 1. Environment: HYDIT_TINY_CHECKPOINT (default the committed
 * tiny v1.2 checkpoint), TRTEXEC, HYDIT_TRT_SHIM, TENSORRT_ROOT (for ffi/build.sh).
 *
 * @module
 */

import { planProfile } from "../../engines/trt_profile.ts";
import { loadConfig } from "../../lib/config.ts";
import { loadPipeline } from "../../lib/diffusion/pipeline.ts";
import { type ComponentName, graphName } from "../../lib/engine/components.ts";
import {
  type Engine,
  EngineFeedError,
  type Tensor,
  type TensorSpec,
} from "../../lib/engine/engine.ts";
import { type Manifest, readManifest } from "../../lib/engine/manifest.ts";
import { loadOnnxEngine } from "../../lib/engine/onnx.ts";
import { checkPlanCompatibility } from "../../lib/engine/plan_compat.ts";
import { openTensorRtEngine, runtimeOf, tensorRtVersionInfo } from "../../lib/engine/tensorrt.ts";
import type { TensorRtVersionInfo } from "../../lib/engine/tensorrt_abi.ts";
import { floatTensor } from "../../lib/engine/tensors.ts";
import { compare } from "../engine/goldens.ts";
import { runTrtConformance } from "./_trt_conformance.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CHECKPOINT = Deno.env.get("HYDIT_TINY_CHECKPOINT") ??
  `${ROOT}tests/golden/data/tiny/tiny-v12`;
/** Relative L2 error allowed between TensorRT and ONNX Runtime, by the component's precision. */
const TOLERANCE: Record<string, number> = {
  fp16: 1e-2, // both fp16; kernels differ in accumulation order and fused attention
  fp32: 5e-3, // TensorRT uses TF32 in fp32 matmuls by default
};
/** Mean absolute difference allowed between the two backends' 8-bit images. */
const IMAGE_MEAN_ABS = 3;

const failures: string[] = [];
const summary: string[] = [];

function check(ok: boolean, line: string): void {
  summary.push(`${ok ? "PASS" : "FAIL"}  ${line}`);
  console.log(`${ok ? "PASS" : "FAIL"}  ${line}`);
  if (!ok) failures.push(line);
}

function refuse(reason: string): never {
  console.error(`test:gpu refused: ${reason}`);
  Deno.exit(2);
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function findOnPath(program: string): string | undefined {
  return (Deno.env.get("PATH") ?? "").split(":").map((d) => `${d}/${program}`).find(isFile);
}

/** Checks GPU, trtexec and shim before anything is built. */
async function preflight(): Promise<{ library: string; info: TensorRtVersionInfo }> {
  if (!isFile("/dev/nvidiactl") && !findOnPath("nvidia-smi")) {
    refuse(
      "no NVIDIA GPU is visible (no /dev/nvidiactl, no nvidia-smi); run on a GPU host, in Docker with --gpus all",
    );
  }
  const trtexec = Deno.env.get("TRTEXEC") ?? findOnPath("trtexec") ??
    ["/usr/src/tensorrt/bin/trtexec", "/opt/tensorrt/bin/trtexec"].find(isFile);
  if (!trtexec) refuse("trtexec not found (set TRTEXEC, or put TensorRT's bin/ on PATH)");
  Deno.env.set("TRTEXEC", trtexec);
  const library = loadConfig([]).trtShim;
  if (!isFile(library)) {
    const built = await new Deno.Command("bash", { args: [`${ROOT}ffi/build.sh`] }).output();
    const text = new TextDecoder().decode(built.stdout) + new TextDecoder().decode(built.stderr);
    if (!isFile(library)) {
      refuse(`the TensorRT shim ${library} could not be built:\n${text.trim()}`);
    }
  }
  try {
    return { library, info: await tensorRtVersionInfo({ library }) };
  } catch (error) {
    refuse(`the shim cannot reach the GPU: ${(error as Error).message}`);
  }
}

/** A small deterministic generator (mulberry32) so both backends see the same inputs. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Plausible inputs for every tensor: ids below the vocabulary, prefix masks, timesteps, N(0,1)-ish floats. */
function feedsFor(
  inputs: readonly TensorSpec[],
  dims: Record<string, number[]>,
  vocab: number,
  seed: number,
) {
  const next = random(seed);
  const feeds: Record<string, Tensor> = {};
  for (const spec of inputs) {
    const shape = dims[spec.name] ?? spec.shape;
    const n = shape.reduce((a, b) => a * b, 1);
    if (spec.dtype === "int64" || spec.dtype === "int32") {
      const values = new Array<number>(n);
      const row = shape.at(-1) ?? 1;
      for (let i = 0; i < n; i++) {
        const col = i % row;
        if (/mask/.test(spec.name)) values[i] = col < Math.max(1, Math.floor(row / 3)) ? 1 : 0;
        else if (spec.name === "style") values[i] = 0;
        else values[i] = Math.floor(next() * vocab);
      }
      feeds[spec.name] = spec.dtype === "int64"
        ? { dtype: "int64", dims: shape, data: BigInt64Array.from(values, BigInt) }
        : { dtype: "int32", dims: shape, data: Int32Array.from(values) };
      continue;
    }
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      if (spec.name === "t") data[i] = Math.floor(next() * 1000);
      else if (spec.name === "image_meta_size") data[i] = [1024, 1024, 768, 768, 0, 0][i % 6];
      else if (/^(cos|sin)_cis_img$/.test(spec.name)) data[i] = 2 * next() - 1;
      else data[i] = (next() + next() + next() - 1.5) * 2; // roughly N(0, 1)
    }
    feeds[spec.name] = floatTensor(data, shape, spec.dtype);
  }
  return feeds;
}

function specsOf(entry: NonNullable<Manifest["components"]["transformer"]>): TensorSpec[] {
  return entry.inputs.map((io) => ({
    name: io.name,
    dtype: io.dtype as TensorSpec["dtype"],
    shape: io.shape.map((d) => typeof d === "number" ? d : -1),
  }));
}

async function buildEngines(dir: string): Promise<void> {
  const started = performance.now();
  const args = [
    "run",
    "-A",
    `${ROOT}engines/build.ts`,
    "--checkpoint",
    CHECKPOINT,
    "--out",
    dir,
    "--precision",
    "fp16",
    "--trt",
  ];
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`engines:build --trt failed (exit ${out.code})`);
  console.log(
    `built ONNX graphs and TensorRT plans in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
}

/** Runs each plan against ONNX Runtime at the profile's opt and min shapes. */
async function compareComponents(dir: string, manifest: Manifest, library: string): Promise<void> {
  const trt = manifest.tensorrt!;
  for (const [name, entry] of Object.entries(manifest.components)) {
    const component = graphName(name as ComponentName);
    const plan = trt.plans[component];
    if (!plan) {
      check(false, `${name}: no plan in the manifest`);
      continue;
    }
    const inputs = specsOf(entry);
    const profile = planProfile({ component, onnx: entry.file, inputs }, trt.shapes);
    const vocab = Number(entry.config.vocab_size ?? 100);
    const cpu = await loadOnnxEngine(`${dir}/${entry.file}`, { name });
    const gpu = await openTensorRtEngine(`${dir}/${plan}`, {
      library,
      expect: trt,
      name,
      cudaGraphs: false,
    });
    try {
      for (const pick of ["opt", "min"] as const) {
        const dims = Object.fromEntries(Object.entries(profile).map(([k, p]) => [k, p[pick]]));
        const feeds = feedsFor(inputs, dims, vocab, 7);
        const [want, got] = [await cpu.run(feeds), await gpu.run(feeds)];
        for (const spec of cpu.outputs) {
          const { relL2, maxAbs } = compare(got[spec.name], want[spec.name]);
          const limit = TOLERANCE[entry.precision];
          check(
            relL2 <= limit && got[spec.name].dims.join() === want[spec.name].dims.join(),
            `${name} ${pick} ${spec.name} [${got[spec.name].dims}] ${entry.precision}: rel L2 ${
              relL2.toExponential(2)
            } ` +
              `(limit ${limit}), max abs ${maxAbs.toExponential(2)}`,
          );
        }
      }
    } finally {
      await cpu.close();
      await gpu.close();
    }
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Shim validation on a real engine, CUDA-graph equivalence, and DiT step latency. */
async function ditStep(dir: string, manifest: Manifest, library: string): Promise<void> {
  const trt = manifest.tensorrt!;
  const entry = manifest.components.transformer!;
  const inputs = specsOf(entry);
  const profile = planProfile({ component: "transformer", onnx: entry.file, inputs }, trt.shapes);
  const opt = Object.fromEntries(Object.entries(profile).map(([k, p]) => [k, p.opt]));
  const feeds = feedsFor(inputs, opt, 100, 11);
  const results: Record<string, Tensor> = {};
  for (const cudaGraphs of [false, true]) {
    const engine: Engine = await openTensorRtEngine(`${dir}/${trt.plans.transformer}`, {
      library,
      expect: trt,
      cudaGraphs,
    });
    try {
      if (!cudaGraphs) {
        const tooBig = {
          ...feeds,
          x: { ...feeds.x, dims: feeds.x.dims.map((d, i) => i >= 2 ? d * 4 : d) },
        };
        tooBig.x.data = new Uint16Array(tooBig.x.dims.reduce((a, b) => a * b, 1));
        const refused = await engine.run(tooBig).then(() => null, (e: Error) => e);
        check(
          refused instanceof EngineFeedError && refused.problem === "shape" &&
            /outside the plan's range/.test(refused.message),
          `an input outside the profile is refused: ${refused?.message ?? "no error"}`,
        );
      }
      for (let i = 0; i < 3; i++) await engine.run(feeds); // warm-up (and graph capture)
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        results[String(cudaGraphs)] = (await engine.run(feeds)).output;
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      const mean = times.reduce((a, b) => a + b, 0) / times.length;
      const line = `DiT step at [${feeds.x.dims}] (${cudaGraphs ? "CUDA graph" : "enqueueV3"}): ` +
        `mean ${mean.toFixed(2)} ms, p50 ${percentile(times, 0.5).toFixed(2)} ms, p90 ${
          percentile(times, 0.9).toFixed(2)
        } ms`;
      summary.push(`INFO  ${line}`);
      console.log(line);
    } finally {
      await engine.close();
    }
  }
  const { maxAbs } = compare(results["true"], results["false"]);
  check(maxAbs <= 1e-3, `CUDA-graph replay matches enqueueV3: max abs ${maxAbs.toExponential(2)}`);
}

/** A full generation on both backends; per-step latency from the pipeline's progress hook. */
async function generation(dir: string, library: string): Promise<void> {
  const request = {
    prompt: "a red fox in the snow, 一只红狐狸",
    height: 768,
    width: 768,
    steps: 20,
    guidanceScale: 5,
    seed: 42,
    resolutionBinning: false,
  };
  const images: Record<string, Uint8Array> = {};
  for (const backend of ["onnx", "tensorrt"] as const) {
    const pipeline = await loadPipeline(dir, { backend, trtShim: library });
    try {
      const used = pipeline.describe().backend;
      check(used === backend, `pipeline runs on ${backend} (describe() says ${used})`);
      const stamps: number[] = [];
      const t0 = performance.now();
      const result = await pipeline.generate(request, {
        onStep: () => stamps.push(performance.now()),
      });
      const total = performance.now() - t0;
      const steps = stamps.slice(1).map((t, i) => t - stamps[i]).sort((a, b) => a - b);
      const line =
        `generation ${request.width}x${request.height}, ${request.steps} steps on ${backend}: ` +
        `${total.toFixed(0)} ms total, step p50 ${percentile(steps, 0.5).toFixed(2)} ms`;
      summary.push(`INFO  ${line}`);
      console.log(line);
      check(
        result.image.length === request.width * request.height * 3,
        `${backend} image is ${result.width}x${result.height} RGB`,
      );
      images[backend] = result.image;
    } finally {
      await pipeline.close();
    }
  }
  let sum = 0;
  let max = 0;
  for (let i = 0; i < images.onnx.length; i++) {
    const d = Math.abs(images.onnx[i] - images.tensorrt[i]);
    sum += d;
    max = Math.max(max, d);
  }
  const mean = sum / images.onnx.length;
  check(
    mean <= IMAGE_MEAN_ABS,
    `TensorRT image vs ONNX Runtime image: mean abs ${
      mean.toFixed(2)
    } (limit ${IMAGE_MEAN_ABS}), max ${max}`,
  );
}

if (import.meta.main) {
  const { library, info } = await preflight();
  console.log(
    `GPU ${info.gpu} (SM ${info.sm}, ${
      (info.freeMemory / 2 ** 30).toFixed(1)
    } GiB free); TensorRT ${info.tensorrt} ` +
      `(shim compiled against ${info.tensorrtHeaders}); CUDA runtime ${info.cudaRuntime}, driver ${info.cudaDriver}`,
  );
  const dir = await Deno.makeTempDir({ prefix: "hydit-gpu-" });
  const stages: [string, () => Promise<void>][] = [];
  let manifest: Manifest | undefined;
  stages.push(["build", async () => {
    await buildEngines(dir);
    manifest = await readManifest(dir);
    check(manifest.tensorrt !== undefined, "manifest records the TensorRT build");
    checkPlanCompatibility(manifest.tensorrt!, runtimeOf(info));
    check(
      true,
      `plans built by TensorRT ${manifest.tensorrt!.version} for ${manifest.tensorrt!.gpu} (SM ${
        manifest.tensorrt!.sm
      })`,
    );
  }]);
  stages.push(["compare", () => compareComponents(dir, manifest!, library)]);
  stages.push(["dit", () => ditStep(dir, manifest!, library)]);
  stages.push(["generation", () => generation(dir, library)]);
  stages.push(["conformance", async () => {
    for (const r of await runTrtConformance(`${dir}/conformance`, library, console.log)) {
      if (r.outcome === "skip") summary.push(`SKIP  conformance: ${r.name} (${r.detail})`);
      else check(r.outcome === "pass", `conformance: ${r.name}${r.detail ? `: ${r.detail}` : ""}`);
    }
  }]);
  for (const [name, stage] of stages) {
    try {
      await stage();
    } catch (error) {
      check(false, `${name} stage threw: ${(error as Error).stack ?? error}`);
      if (name === "build") break;
    }
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  console.log(`\n== test:gpu summary ==\n${summary.join("\n")}`);
  console.log(
    failures.length === 0
      ? "test:gpu: all checks passed"
      : `test:gpu: ${failures.length} check(s) failed`,
  );
  Deno.exit(failures.length === 0 ? 0 : 1);
}
