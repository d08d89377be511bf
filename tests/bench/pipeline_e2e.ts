/**
 * End-to-end benchmark of the whole pipeline on the tiny v1.2 checkpoint against diffusers'
 * HunyuanDiTPipeline on PyTorch CPU (issue 3). Builds fp32 engines into a temp dir, then per size
 * (64x64, 256x256; 20 DDPM steps, guidance 5, 2 threads on both sides) runs one warm-up and the
 * best of 5, alternating our run and diffusers' run so machine load hits both alike. Prints a
 * table and a JSON summary; diffusers is skipped when /opt/ref-venv/bin/python is missing.
 *
 * Run: deno run -A tests/bench/pipeline_e2e.ts  (or `deno task bench:e2e`)
 */

import { parseBuildArgs } from "../../engines/build.ts";
import { runBuild } from "../../engines/build_folder.ts";
import {
  type GenerationRequest,
  type GenerationTimings,
  loadPipeline,
  type Pipeline,
} from "../../lib/diffusion/pipeline.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CHECKPOINT = `${ROOT}tests/golden/data/tiny/tiny-v12`;
const DIFFUSERS_BENCH = `${ROOT}tests/golden/bench_diffusers.py`;
const PYTHON = "/opt/ref-venv/bin/python";
const SIZES = [64, 256];
const STEPS = 20;
const REPEATS = 5;
const THREADS = 2;
// Same prompt, negative prompt and seed as tests/golden/bench_diffusers.py.
const PROMPT = "一只可爱的猫坐在窗台上，a cute cat, oil painting";
const NEGATIVE = "模糊，blurry";
const SEED = 42;

/** One timed generation of ours. */
interface OurRun {
  seconds: number;
  timings: GenerationTimings;
}

/**
 * A persistent diffusers process: imports bench_diffusers.py (its pinned versions, checkpoint and
 * `run_once`) once, then times one generation per size written to its stdin.
 */
interface Diffusers {
  run(size: number): Promise<number>;
  info: Record<string, unknown>;
  close(): Promise<void>;
}

const DRIVER = `
import json, sys
sys.path.insert(0, sys.argv[1])
import torch, diffusers, bench_diffusers as b
diffusers.utils.logging.set_verbosity_error()
diffusers.utils.logging.disable_progress_bar()
torch.set_num_threads(int(sys.argv[2]))
torch.set_grad_enabled(False)
b.STEPS = int(sys.argv[3])
pipe = b.HunyuanDiTPipeline.from_pretrained(b.CHECKPOINT)
pipe.set_progress_bar_config(disable=True)
print(json.dumps({"torch": torch.__version__, "diffusers": diffusers.__version__,
                  "torch_threads": torch.get_num_threads(), "cpu": b.cpu_name()}), flush=True)
for line in sys.stdin:
    print(json.dumps(b.run_once(pipe, int(line))), flush=True)
`;

async function startDiffusers(): Promise<Diffusers | null> {
  try {
    await Deno.stat(PYTHON);
  } catch {
    return null;
  }
  const child = new Deno.Command(PYTHON, {
    args: ["-c", DRIVER, `${ROOT}tests/golden`, String(THREADS), String(STEPS)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const readLine = async (): Promise<string> => {
    while (!buffered.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`${DIFFUSERS_BENCH}: diffusers process ended early`);
      buffered += value;
    }
    const at = buffered.indexOf("\n");
    const line = buffered.slice(0, at);
    buffered = buffered.slice(at + 1);
    return line;
  };
  const info = JSON.parse(await readLine());
  return {
    info,
    async run(size) {
      await writer.write(new TextEncoder().encode(`${size}\n`));
      return Number(JSON.parse(await readLine()));
    },
    async close() {
      await writer.close();
      await child.status;
    },
  };
}

async function buildEngines(): Promise<{ dir: string; seconds: number }> {
  const tmp = await Deno.makeTempDir({ prefix: "pipeline_e2e_" });
  const dir = `${tmp}/engines`;
  const t0 = performance.now();
  await runBuild(
    parseBuildArgs(["--checkpoint", CHECKPOINT, "--out", dir, "--precision", "fp32"]),
    () => {},
  );
  return { dir, seconds: (performance.now() - t0) / 1000 };
}

async function ourRun(pipeline: Pipeline, size: number): Promise<OurRun> {
  const request: GenerationRequest = {
    prompt: PROMPT,
    negativePrompt: NEGATIVE,
    height: size,
    width: size,
    steps: STEPS,
    guidanceScale: 5,
    seed: SEED,
    sampler: "ddpm",
    resolutionBinning: false,
  };
  const t0 = performance.now();
  const result = await pipeline.generate(request);
  const seconds = (performance.now() - t0) / 1000;
  if (!result.timings) throw new Error("pipeline result carries no timings");
  return { seconds, timings: result.timings };
}

function loadAverage(): number[] {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).map(Number);
  } catch {
    return [];
  }
}

const round = (v: number, digits = 4) => Number(v.toFixed(digits));

async function main(): Promise<void> {
  const loadBefore = loadAverage();
  const build = await buildEngines();
  const pipeline = await loadPipeline(build.dir, { threads: THREADS });
  const diffusers = await startDiffusers();
  const results: Record<string, unknown> = {};
  const rows: string[][] = [];
  try {
    for (const size of SIZES) {
      await ourRun(pipeline, size); // warm-up
      await diffusers?.run(size);
      const ours: OurRun[] = [];
      const theirs: number[] = [];
      for (let i = 0; i < REPEATS; i++) {
        ours.push(await ourRun(pipeline, size));
        if (diffusers) theirs.push(await diffusers.run(size));
      }
      const best = ours.reduce((a, b) => (b.seconds < a.seconds ? b : a));
      const t = best.timings;
      const perStepMs = t.denoise / STEPS;
      const hostPerStepMs = (t.denoise - t.transformer) / STEPS;
      const outsideShare = (t.denoise - t.transformer) / t.denoise;
      const theirBest = theirs.length ? Math.min(...theirs) : null;
      const ratio = theirBest === null ? null : theirBest / best.seconds;
      results[`${size}x${size}`] = {
        ours_best_s: round(best.seconds),
        ours_all_s: ours.map((r) => round(r.seconds)),
        ours_phases_ms: {
          text: round(t.text, 2),
          denoise: round(t.denoise, 2),
          transformer: round(t.transformer, 2),
          decode: round(t.decode, 2),
        },
        step_ms: round(perStepMs, 3),
        host_per_step_ms: round(hostPerStepMs, 3),
        share_outside_dit: round(outsideShare, 4),
        diffusers_best_s: theirBest === null ? null : round(theirBest),
        diffusers_all_s: theirs.map((s) => round(s)),
        speedup_vs_diffusers: ratio === null ? null : round(ratio, 2),
      };
      rows.push([
        `${size}x${size}`,
        best.seconds.toFixed(3),
        theirBest === null ? "-" : theirBest.toFixed(3),
        ratio === null ? "-" : `${ratio.toFixed(2)}x`,
        t.text.toFixed(1),
        perStepMs.toFixed(2),
        hostPerStepMs.toFixed(3),
        `${(outsideShare * 100).toFixed(1)}%`,
        t.decode.toFixed(1),
      ]);
    }
  } finally {
    await pipeline.close();
    await diffusers?.close();
    await Deno.remove(build.dir.replace(/\/engines$/, ""), { recursive: true });
  }
  const loadAfter = loadAverage();

  const header = [
    "size",
    "ours s",
    "diffusers s",
    "speedup",
    "text ms",
    "step ms",
    "host/step ms",
    "outside DiT",
    "decode ms",
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join("  ");
  console.log(
    `pipeline e2e: tiny-v12 fp32, ${STEPS} DDPM steps, guidance 5, ${THREADS} threads, ` +
      `best of ${REPEATS} after one warm-up (speedup = diffusers s / ours s)`,
  );
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  console.log(JSON.stringify({
    checkpoint: "tiny-v12",
    precision: "fp32",
    steps: STEPS,
    guidance_scale: 5,
    sampler: "ddpm",
    threads: THREADS,
    repeats: REPEATS,
    engine_build_s: round(build.seconds, 2),
    diffusers: diffusers?.info ?? null,
    load_average_before: loadBefore,
    load_average_after: loadAfter,
    results,
  }));
}

if (import.meta.main) await main();
