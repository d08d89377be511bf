/**
 * Peak resident memory of one generation per image size (issue 12), on the real-width slice
 * (tests/bench/gen_real_width.py) and on the tiny-v12 checkpoint, for this checkout and optionally
 * for another git revision ("before"), each in a fresh process per size: fp32 engines built by that
 * revision's own builder, one generation (`--steps` DDPM steps, guidance 5: the DiT runs at
 * batch 2), then VmHWM (peak RSS of the process, engine load included) and the RSS before and
 * after the run (memory handed back after a job). Prints a table and a JSON summary.
 *
 * Without the CPU arena the peak is reached in the first step (one DiT run or the VAE decode);
 * with it (before) later steps can raise it, since freed blocks do not always fit the next run's.
 *
 * Run: deno run -A tests/bench/peak_rss.ts [--before main [--before-only]] [--sizes 512,1024,1280]
 *   [--models real,tiny] [--steps 2]
 */

import { parseArgs } from "node:util";
import { realWidthCheckpoint, runCommand as run } from "./_reference.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const TINY = `${ROOT}/tests/golden/data/tiny/tiny-v12`;
const THREADS = 2;

/** What one child process measured, or why it has no numbers (e.g. killed for memory). */
type Measurement = {
  peakMiB: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  seconds: number;
} | { failed: string };

// The child: loads the pipeline of the given checkout and engines, runs one generation, reports
// /proc/self/status. Run with the checkout's deno.json (--config) so its npm imports resolve.
const CHILD = `
const [repo, engines, size, steps, threads] = Deno.args;
const { loadPipeline } = await import("file://" + repo + "/lib/diffusion/pipeline.ts");
const status = () => Object.fromEntries(Deno.readTextFileSync("/proc/self/status").split("\\n")
  .filter((l) => l.startsWith("Vm")).map((l) => [l.split(":")[0], Number(l.split(/\\s+/)[1]) / 1024]));
const pipeline = await loadPipeline(engines, { threads: Number(threads) });
const before = status().VmRSS;
const t0 = performance.now();
await pipeline.generate({ prompt: "一只可爱的猫坐在窗台上，a cute cat, oil painting", negativePrompt: "模糊，blurry",
  height: Number(size), width: Number(size), steps: Number(steps), guidanceScale: 5, seed: 42, sampler: "ddpm",
  resolutionBinning: false });
const seconds = (performance.now() - t0) / 1000;
const after = status();
console.log(JSON.stringify({ peakMiB: after.VmHWM, rssBeforeMiB: before, rssAfterMiB: after.VmRSS, seconds }));
await pipeline.close();
`;

async function buildEngines(repo: string, checkpoint: string, out: string): Promise<void> {
  await run(Deno.execPath(), [
    "run",
    "-A",
    "--config",
    `${repo}/deno.json`,
    `${repo}/engines/build.ts`,
    "--checkpoint",
    checkpoint,
    "--out",
    out,
    "--precision",
    "fp32",
  ]);
}

async function measure(
  repo: string,
  engines: string,
  size: number,
  steps: number,
): Promise<Measurement> {
  const child = await Deno.makeTempFile({ prefix: "peak_rss_child_", suffix: ".ts" });
  await Deno.writeTextFile(child, CHILD);
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        `${repo}/deno.json`,
        child,
        repo,
        engines,
        String(size),
        String(steps),
        String(THREADS),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      const why = out.signal ? `killed by ${out.signal} (out of memory?)` : `exit ${out.code}`;
      return { failed: `${why}: ${new TextDecoder().decode(out.stderr).slice(-500)}` };
    }
    return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
  } finally {
    await Deno.remove(child).catch(() => {});
  }
}

/** A checkout of `ref` in a temporary git worktree, with this checkout's node_modules linked. */
async function checkout(ref: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "peak_rss_before_" });
  await Deno.remove(dir);
  await run("git", ["worktree", "add", "--detach", dir, ref], ROOT);
  await Deno.symlink(`${ROOT}/node_modules`, `${dir}/node_modules`);
  return {
    dir,
    remove: async () => {
      await run("git", ["worktree", "remove", "--force", dir], ROOT);
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      before: { type: "string" },
      sizes: { type: "string", default: "512,1024,1280" },
      models: { type: "string", default: "real,tiny" },
      steps: { type: "string", default: "2" },
      "before-only": { type: "boolean", default: false },
    },
  });
  const steps = Number(values.steps);
  const sizes = values.sizes.split(",").map(Number);
  const models = values.models.split(",");
  const checkpoints: Record<string, string> = {};
  if (models.includes("real")) checkpoints.real = await realWidthCheckpoint();
  if (models.includes("tiny")) checkpoints.tiny = TINY;

  const revisions: { label: string; dir: string; remove?: () => Promise<void> }[] = [];
  if (!values["before-only"]) revisions.push({ label: "after (this checkout)", dir: ROOT });
  if (values.before) {
    const c = await checkout(values.before);
    const commit = (await run("git", ["rev-parse", "--short", values.before], ROOT)).trim();
    revisions.push({ label: `before (${commit})`, dir: c.dir, remove: c.remove });
  }

  const tmp = await Deno.makeTempDir({ prefix: "peak_rss_" });
  const results: Record<string, Record<string, Record<string, Measurement>>> = {};
  try {
    for (const rev of revisions) {
      results[rev.label] = {};
      for (const [model, ckpt] of Object.entries(checkpoints)) {
        const engines = `${tmp}/${revisions.indexOf(rev)}-${model}`;
        await buildEngines(rev.dir, ckpt, engines);
        results[rev.label][model] = {};
        for (const size of sizes) {
          const m = await measure(rev.dir, engines, size, steps);
          results[rev.label][model][`${size}`] = m;
          console.error(
            `${rev.label} ${model} ${size}x${size}: ` +
              ("failed" in m
                ? m.failed
                : `peak ${m.peakMiB.toFixed(0)} MiB, RSS ${m.rssBeforeMiB.toFixed(0)} -> ` +
                  `${m.rssAfterMiB.toFixed(0)} MiB, ${m.seconds.toFixed(1)} s`),
          );
        }
        await Deno.remove(engines, { recursive: true });
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
    for (const rev of revisions) await rev.remove?.();
  }

  console.log(
    `peak RSS (MiB) of one generation, fp32 ONNX Runtime, ${steps} steps, guidance 5, ` +
      `${THREADS} threads; "after job" = RSS once the generation returned`,
  );
  const header = ["model", "size", ...revisions.flatMap((r) => [r.label, "after job"])];
  const rows = Object.keys(checkpoints).flatMap((model) =>
    sizes.map((size) => [
      model,
      `${size}x${size}`,
      ...revisions.flatMap((r) => {
        const m = results[r.label][model][`${size}`];
        return "failed" in m ? ["failed", "-"] : [m.peakMiB.toFixed(0), m.rssAfterMiB.toFixed(0)];
      }),
    ])
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join("  ");
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  console.log(JSON.stringify({ steps, threads: THREADS, results }));
}

if (import.meta.main) await main();
