/**
 * End-to-end benchmark against diffusers on PyTorch CPU, runnable on a fresh machine: the reference
 * venv is created on first use by tests/golden/ref_venv.sh (PyTorch CPU wheel, pinned diffusers and
 * transformers), and one persistent PyTorch process (tests/bench/torch_driver.py) answers our runs
 * turn by turn, so machine load hits both sides alike. 2 threads on both sides. Three parts:
 *
 * 1. tiny-v12 (tests/golden/data/tiny) at 64x64 and 256x256, 20 DDPM steps, guidance 5: one
 *    warm-up, best of 5, with our per-phase times.
 * 2. The bundled hydit-tiny at its model-card defaults (engines/models/hydit-tiny/serving.json),
 *    engines from engines/bundled.ts (engines/out/hydit-tiny): best of 5.
 * 3. A real-width DiT step (tests/bench/gen_real_width.py: hidden 1408 = 16 x 88, FFN 6144, text
 *    widths 1024/2048, 4 layers, random weights) at batch 2 (CFG) per size: best of 3 after a
 *    warm-up, GFLOP/s from the analytic count, the outputs compared, and each side's peak RSS
 *    (ours and PyTorch each in a fresh process per size); our explicit graph (the TensorRT-target
 *    form in fp32) runs alongside to show what the fused operators gain.
 *
 * Prints tables and one JSON summary. Run: deno task bench:e2e [--parts 1,2,3]
 */

import { parseArgs } from "node:util";
import { parseBuildArgs } from "../../engines/build.ts";
import { buildComponent } from "../../engines/build_component.ts";
import { runBuild } from "../../engines/build_folder.ts";
import { BUNDLED_CHECKPOINT, bundledEngines } from "../../engines/bundled.ts";
import {
  type GenerationRequest,
  type GenerationTimings,
  loadPipeline,
  type Pipeline,
} from "../../lib/diffusion/pipeline.ts";
import { ropeTables } from "../../lib/diffusion/rope.ts";
import { type DitConfig, parseDitConfig } from "../../lib/onnx/dit_config.ts";
import { type LineChild, lineChild, realWidthCheckpoint, refPython, relL2 } from "./_reference.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const TINY = `${ROOT}tests/golden/data/tiny/tiny-v12`;
const THREADS = 2;
const PROMPT = "一只可爱的猫坐在窗台上，a cute cat, oil painting";
const NEGATIVE = "模糊，blurry";
const SEED = 42;
const TINY_SIZES = [64, 256];
const TINY_STEPS = 20;
const REPEATS = 5;
const DIT_SIZES = [512, 1024];
const DIT_REPEATS = 3;

const round = (v: number, digits = 4) => Number(v.toFixed(digits));

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join("  ");
  return [line(header), ...rows.map(line)].join("\n");
}

async function torchDriver(): Promise<LineChild> {
  return await lineChild(await refPython(), [
    `${ROOT}tests/bench/torch_driver.py`,
    String(THREADS),
  ]);
}

/** One timed generation of ours. */
async function ourRun(
  pipeline: Pipeline,
  request: GenerationRequest,
): Promise<{ seconds: number; timings: GenerationTimings }> {
  const t0 = performance.now();
  const result = await pipeline.generate(request);
  const seconds = (performance.now() - t0) / 1000;
  if (!result.timings) throw new Error("pipeline result carries no timings");
  return { seconds, timings: result.timings };
}

interface Generation {
  size: number;
  steps: number;
  guidance: number;
  sampler: "ddpm" | "dpmpp";
}

/** Alternates our generation and diffusers' `REPEATS` times after a warm-up of each. */
async function compareGenerations(pipeline: Pipeline, torch: LineChild, g: Generation) {
  const request: GenerationRequest = {
    prompt: PROMPT,
    negativePrompt: NEGATIVE,
    height: g.size,
    width: g.size,
    steps: g.steps,
    guidanceScale: g.guidance,
    seed: SEED,
    sampler: g.sampler,
    resolutionBinning: false,
  };
  const theirs = () =>
    torch.ask({ generate: g.size, steps: g.steps, guidance: g.guidance }) as Promise<number>;
  await ourRun(pipeline, request);
  await theirs();
  const ours = [];
  const their: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    ours.push(await ourRun(pipeline, request));
    their.push(await theirs());
  }
  const best = ours.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const theirBest = Math.min(...their);
  return {
    ours_best_s: round(best.seconds),
    ours_all_s: ours.map((r) => round(r.seconds)),
    ours_phases_ms: {
      text: round(best.timings.text, 2),
      denoise: round(best.timings.denoise, 2),
      transformer: round(best.timings.transformer, 2),
      decode: round(best.timings.decode, 2),
    },
    step_ms: round(best.timings.denoise / g.steps, 3),
    diffusers_best_s: round(theirBest),
    diffusers_all_s: their.map((s) => round(s)),
    speedup_vs_diffusers: round(theirBest / best.seconds, 2),
  };
}

/** Part 1: the tiny-v12 golden checkpoint, DDPM. */
async function tinyV12(torch: LineChild) {
  const tmp = await Deno.makeTempDir({ prefix: "pipeline_e2e_" });
  try {
    await runBuild(
      parseBuildArgs(["--checkpoint", TINY, "--out", `${tmp}/engines`, "--precision", "fp32"]),
      () => {},
    );
    const pipeline = await loadPipeline(`${tmp}/engines`, { threads: THREADS });
    await torch.ask({ pipeline: TINY, sampler: "ddpm" });
    const results: Record<string, Awaited<ReturnType<typeof compareGenerations>>> = {};
    try {
      for (const size of TINY_SIZES) {
        results[`${size}x${size}`] = await compareGenerations(pipeline, torch, {
          size,
          steps: TINY_STEPS,
          guidance: 5,
          sampler: "ddpm",
        });
      }
    } finally {
      await pipeline.close();
    }
    return results;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/** Part 2: the bundled hydit-tiny at its model card's defaults. */
async function bundled(torch: LineChild) {
  const card = JSON.parse(await Deno.readTextFile(`${BUNDLED_CHECKPOINT}/serving.json`));
  const d = card.defaults;
  if (d.width !== d.height) throw new Error("serving.json: the benchmark assumes a square default");
  const pipeline = await loadPipeline(await bundledEngines(() => {}), { threads: THREADS });
  await torch.ask({ pipeline: BUNDLED_CHECKPOINT, sampler: d.sampler });
  try {
    const g = { size: d.width, steps: d.steps, guidance: d.guidanceScale, sampler: d.sampler };
    return { defaults: d, ...(await compareGenerations(pipeline, torch, g)) };
  } finally {
    await pipeline.close();
  }
}

/** Floating-point operations of one DiT forward at `batch` over `n` image tokens (2 per MAC). */
export function ditFlops(cfg: DitConfig, n: number, batch: number): number {
  const D = cfg.inner;
  const L = cfg.textLen + cfg.textLenT5;
  let perImage = 2 * n * (cfg.inChannels * cfg.patch ** 2) * D; // patch embedding
  for (let i = 0; i < cfg.layers; i++) {
    if (i > cfg.layers / 2) perImage += 2 * n * 2 * D * D; // skip linear
    perImage += 4 * 2 * n * D * D + 2 * 2 * n * n * D; // self attention: q k v out, QK^T and PV
    perImage += 2 * 2 * n * D * D + 2 * 2 * L * cfg.textDim * D + 2 * 2 * n * L * D; // cross
    perImage += 2 * 2 * n * D * cfg.ffInner; // FFN
  }
  perImage += 2 * n * D * cfg.patch ** 2 * cfg.outChannels; // proj_out
  return batch * perImage;
}

function random(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 31 - 1) * scale;
  });
}

/** Writes the DiT inputs of one CFG step at `size` (batch 2) as raw arrays + shapes.json. */
async function writeStepInputs(dir: string, cfg: DitConfig, size: number): Promise<void> {
  const h = size / 8;
  const rope = ropeTables(size, size, { headDim: cfg.headDim, patchSize: cfg.patch });
  const n = rope.gridH * rope.gridW;
  const tensors: Record<string, { dtype: string; shape: number[]; data: ArrayBufferView }> = {
    x: { dtype: "float32", shape: [2, cfg.inChannels, h, h], data: random(2 * 4 * h * h, 1) },
    t: { dtype: "float32", shape: [2], data: Float32Array.of(500, 500) },
    encoder_hidden_states: {
      dtype: "float32",
      shape: [2, cfg.textLen, cfg.textDim],
      data: random(2 * cfg.textLen * cfg.textDim, 2),
    },
    text_embedding_mask: {
      dtype: "int64",
      shape: [2, cfg.textLen],
      data: new BigInt64Array(2 * cfg.textLen).fill(1n),
    },
    encoder_hidden_states_t5: {
      dtype: "float32",
      shape: [2, cfg.textLenT5, cfg.t5Dim],
      data: random(2 * cfg.textLenT5 * cfg.t5Dim, 3, 0.2),
    },
    text_embedding_mask_t5: {
      dtype: "int64",
      shape: [2, cfg.textLenT5],
      data: new BigInt64Array(2 * cfg.textLenT5).fill(1n),
    },
    cos_cis_img: { dtype: "float32", shape: [n, cfg.headDim], data: rope.cos },
    sin_cis_img: { dtype: "float32", shape: [n, cfg.headDim], data: rope.sin },
  };
  const shapes: Record<string, { dtype: string; shape: number[] }> = {};
  for (const [name, t] of Object.entries(tensors)) {
    shapes[name] = { dtype: t.dtype, shape: t.shape };
    await Deno.writeFile(
      `${dir}/${name}.bin`,
      new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    );
  }
  await Deno.writeTextFile(`${dir}/shapes.json`, JSON.stringify(shapes));
}

/**
 * This CPU's fp32 peak at its nominal clock: threads x 2 FMA units x lanes (16 with AVX-512) x 2
 * flop x the `cpu MHz` of /proc/cpuinfo. Boost clocks run higher, so measured rates can exceed it.
 */
function fp32PeakGflops(): number | null {
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    const mhz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(info)?.[1]);
    const lanes = /\bavx512f\b/.test(info) ? 16 : 8;
    return mhz ? (THREADS * 2 * lanes * 2 * mhz) / 1000 : null;
  } catch {
    return null;
  }
}

/**
 * Part 3: one real-width DiT step per size, ours (the fused fp32 graph) against PyTorch, and our
 * explicit graph (the TensorRT-target form, fp32) to show what the fused operators gain.
 */
async function ditStep() {
  const checkpoint = await realWidthCheckpoint();
  const config = JSON.parse(await Deno.readTextFile(`${checkpoint}/transformer/config.json`));
  const cfg = parseDitConfig(config);
  const tmp = await Deno.makeTempDir({ prefix: "dit_step_" });
  const results: Record<string, unknown> = {};
  try {
    const built = await buildComponent(checkpoint, "transformer", tmp, "fp32");
    const onnx = `${tmp}/${built.entry.file}`;
    await Deno.mkdir(`${tmp}/explicit`);
    const explicitBuilt = await buildComponent(
      checkpoint,
      "transformer",
      `${tmp}/explicit`,
      "fp32",
      () => {},
      "tensorrt",
    );
    const explicitOnnx = `${tmp}/explicit/${explicitBuilt.entry.file}`;
    for (const size of DIT_SIZES) {
      const inputs = `${tmp}/inputs-${size}`;
      await Deno.mkdir(inputs);
      await writeStepInputs(inputs, cfg, size);
      const child = () =>
        lineChild(Deno.execPath(), [
          "run",
          "-A",
          `${ROOT}tests/bench/_dit_step_child.ts`,
          String(THREADS),
        ]);
      const ours = await child();
      const explicit = await child();
      const torch = await torchDriver();
      try {
        await ours.ask({ dit: onnx, inputs });
        await explicit.ask({ dit: explicitOnnx, inputs });
        await explicit.ask({ step: true });
        await torch.ask({ dit: `${checkpoint}/transformer`, inputs });
        await ours.ask({ step: true, save: `${inputs}/ours.out` });
        await torch.ask({ step: true, save: `${inputs}/torch.out` });
        const oursS: number[] = [];
        const torchS: number[] = [];
        const explicitS: number[] = [];
        for (let i = 0; i < DIT_REPEATS; i++) {
          oursS.push(await ours.ask({ step: true }) as number);
          explicitS.push(await explicit.ask({ step: true }) as number);
          torchS.push(await torch.ask({ step: true }) as number);
        }
        const a = new Float32Array((await Deno.readFile(`${inputs}/ours.out`)).buffer);
        const b = new Float32Array((await Deno.readFile(`${inputs}/torch.out`)).buffer);
        const n = (size / 8 / cfg.patch) ** 2;
        const flops = ditFlops(cfg, n, 2);
        const best = Math.min(...oursS);
        const theirs = Math.min(...torchS);
        results[`${size}x${size}`] = {
          tokens: n,
          gflop: round(flops / 1e9, 1),
          ours_ms: round(best * 1000, 1),
          torch_ms: round(theirs * 1000, 1),
          speedup_vs_torch: round(theirs / best, 2),
          explicit_ms: round(Math.min(...explicitS) * 1000, 1),
          fused_vs_explicit: round(Math.min(...explicitS) / best, 2),
          ours_gflops: round(flops / best / 1e9, 1),
          torch_gflops: round(flops / theirs / 1e9, 1),
          ours_peak_mib: round(await ours.ask({ peak: true }) as number, 0),
          torch_peak_mib: round(await torch.ask({ peak: true }) as number, 0),
          output_rel_l2: Number(relL2(a, b).toExponential(2)),
          ours_all_ms: oursS.map((s) => round(s * 1000, 1)),
          torch_all_ms: torchS.map((s) => round(s * 1000, 1)),
          explicit_all_ms: explicitS.map((s) => round(s * 1000, 1)),
        };
      } finally {
        await ours.close();
        await explicit.close();
        await torch.close();
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
  return { layers: cfg.layers, hidden: cfg.inner, heads: cfg.heads, batch: 2, results };
}

function loadAverage(): number[] {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).map(Number);
  } catch {
    return [];
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: { parts: { type: "string", default: "1,2,3" } },
  });
  const parts = values.parts.split(",");
  const loadBefore = loadAverage();
  const torch = await torchDriver();
  let tiny, card;
  try {
    if (parts.includes("1")) tiny = await tinyV12(torch);
    if (parts.includes("2")) card = await bundled(torch);
  } finally {
    await torch.close();
  }
  const dit = parts.includes("3") ? await ditStep() : undefined;
  const peak = fp32PeakGflops();
  if (tiny) printTiny(tiny);
  if (card) printCard(card);
  if (dit) printDit(dit, peak);
  console.log(JSON.stringify({
    threads: THREADS,
    torch: torch.info,
    cpu_fp32_peak_gflops_nominal: peak,
    load_average_before: loadBefore,
    load_average_after: loadAverage(),
    tiny_v12: tiny ?? null,
    hydit_tiny_defaults: card ?? null,
    dit_step: dit ?? null,
  }));
}

function printTiny(tiny: Awaited<ReturnType<typeof tinyV12>>): void {
  console.log(
    `\n1. tiny-v12 fp32, ${TINY_STEPS} DDPM steps, guidance 5, ${THREADS} threads, best of ` +
      `${REPEATS} after a warm-up, alternating (speedup = diffusers s / ours s)`,
  );
  console.log(table(
    ["size", "ours s", "diffusers s", "speedup", "text ms", "step ms", "decode ms"],
    Object.entries(tiny).map(([size, r]) => [
      size,
      r.ours_best_s.toFixed(3),
      r.diffusers_best_s.toFixed(3),
      `${r.speedup_vs_diffusers.toFixed(2)}x`,
      r.ours_phases_ms.text.toFixed(1),
      r.step_ms.toFixed(2),
      r.ours_phases_ms.decode.toFixed(1),
    ]),
  ));
}

function printCard(card: Awaited<ReturnType<typeof bundled>>): void {
  const d = card.defaults;
  console.log(
    `\n2. hydit-tiny (engines/out/hydit-tiny) at its model-card defaults: ${d.width}x${d.height}, ` +
      `${d.steps} ${d.sampler} steps, guidance ${d.guidanceScale}`,
  );
  console.log(table(["ours s", "diffusers s", "speedup"], [[
    card.ours_best_s.toFixed(3),
    card.diffusers_best_s.toFixed(3),
    `${card.speedup_vs_diffusers.toFixed(2)}x`,
  ]]));
}

function printDit(dit: Awaited<ReturnType<typeof ditStep>>, peak: number | null): void {
  console.log(
    `\n3. real-width DiT step (hidden ${dit.hidden}, ${dit.heads} heads, ${dit.layers} layers, ` +
      `batch 2), fp32, best of ${DIT_REPEATS}; CPU fp32 peak at the nominal clock ${
        peak ? `${peak.toFixed(0)} GFLOP/s (boost runs higher)` : "unknown"
      }`,
  );
  console.log(table(
    [
      "size",
      "ours ms",
      "torch ms",
      "speedup",
      "GFLOP",
      "ours GFLOP/s",
      "torch GFLOP/s",
      "ours peak MiB",
      "torch peak MiB",
      "rel L2",
      "explicit ms",
      "fused gain",
    ],
    Object.entries(dit.results).map(([size, r]) => {
      const x = r as Record<string, number>;
      return [
        size,
        x.ours_ms.toFixed(0),
        x.torch_ms.toFixed(0),
        `${x.speedup_vs_torch.toFixed(2)}x`,
        x.gflop.toFixed(0),
        x.ours_gflops.toFixed(0),
        x.torch_gflops.toFixed(0),
        x.ours_peak_mib.toFixed(0),
        x.torch_peak_mib.toFixed(0),
        x.output_rel_l2.toExponential(1),
        x.explicit_ms.toFixed(0),
        `${x.fused_vs_explicit.toFixed(2)}x`,
      ];
    }),
  ));
}

if (import.meta.main) await main();
