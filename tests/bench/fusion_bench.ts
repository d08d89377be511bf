/**
 * Each fused form of the ONNX Runtime profile against the explicit form it replaced (issue 12), at
 * HunyuanDiT's real widths (hidden 1408 = 16 heads x 88, FFN 6144, batch 2) and 1024x1024 (4096
 * image tokens): attention, RoPE, bias + tanh-GELU, and the MatMul + bias fold into Gemm (kept
 * out of the graphs: no gain). Each pair runs on ONNX Runtime CPU, 2 threads, alternating, best of
 * 5 after a warm-up; checks the two agree; prints a table and JSON.
 *
 * Run: deno run -A tests/bench/fusion_bench.ts [tokens]   (a square number: 4096 = 1024x1024)
 */

import * as ort from "onnxruntime-node";
import { ropeTables } from "../../lib/diffusion/rope.ts";
import { createGraph, float, type Graph, type WeightSink } from "../../lib/onnx/graph.ts";
import { relL2 } from "./_reference.ts";

const B = 2;
const HEADS = 16;
const HEAD_DIM = 88;
const D = HEADS * HEAD_DIM;
const FF = 6144;
const THREADS = 2;
const REPEATS = 5;

/** Every value here is a graph input: nothing goes to an external weights file. */
const NO_WEIGHTS: WeightSink = {
  location: "none",
  write: () => {
    throw new Error("fusion_bench graphs take their tensors as inputs");
  },
  size: () => 0,
};

interface Case {
  name: string;
  inputs: Record<string, number[]>;
  /** Inputs with fixed contents (the RoPE tables); the others are random. */
  data?: Record<string, Float32Array>;
  output: number[];
  explicit: (g: Graph, io: Record<string, string>) => string;
  fused: (g: Graph, io: Record<string, string>) => string;
  /** Floating-point operations of one run (for GFLOP/s), 0 when not meaningful. */
  flops: number;
}

function splitHeads(g: Graph, x: string): string {
  return g.op("Transpose", [g.op("Reshape", [x, g.ints([0, 0, HEADS, HEAD_DIM])])], {
    perm: [0, 2, 1, 3],
  });
}

function geluChain(g: Graph, x: string): string {
  const c = (v: number) => g.scalar(v, "float32");
  const inner = g.op("Mul", [
    c(Math.sqrt(2 / Math.PI)),
    g.op("Add", [x, g.op("Mul", [c(0.044715), g.op("Mul", [x, g.op("Mul", [x, x])])])]),
  ]);
  return g.op("Mul", [g.op("Mul", [c(0.5), x]), g.op("Add", [c(1), g.op("Tanh", [inner])])]);
}

function cases(n: number): Case[] {
  const scale = 1 / Math.sqrt(HEAD_DIM);
  const side = Math.sqrt(n) * 16; // image pixels per side: 16 per token (VAE 8 x patch 2)
  const rope = ropeTables(side, side, { headDim: HEAD_DIM });
  return [
    {
      name: "attention (self, N x N)",
      inputs: { q: [B, n, D], k: [B, n, D], v: [B, n, D] },
      output: [B, n, D],
      explicit: (g, io) => {
        const s = g.op("MatMul", [
          splitHeads(g, io.q),
          g.op("Transpose", [splitHeads(g, io.k)], { perm: [0, 1, 3, 2] }),
        ]);
        const p = g.op("Softmax", [g.op("Mul", [s, g.scalar(scale, "float32")])], { axis: -1 });
        const o = g.op("MatMul", [p, splitHeads(g, io.v)]);
        return g.op("Reshape", [g.op("Transpose", [o], { perm: [0, 2, 1, 3] }), g.ints([0, 0, D])]);
      },
      fused: (g, io) =>
        g.contrib("MultiHeadAttention", [io.q, io.k, io.v], {
          num_heads: HEADS,
          scale: float(scale),
        }),
      flops: 4 * B * HEADS * n * n * HEAD_DIM,
    },
    {
      name: "RoPE (interleaved)",
      inputs: { x: [B, n, D], cos: [n, HEAD_DIM], sin: [n, HEAD_DIM] },
      data: { cos: rope.cos, sin: rope.sin },
      output: [B, n, D],
      explicit: (g, io) => {
        const x4 = g.op("Reshape", [io.x, g.ints([0, 0, HEADS, HEAD_DIM])]);
        const [re, im] = g.opN("Split", [g.op("Reshape", [x4, g.ints([0, 0, 0, -1, 2])])], 2, {
          axis: -1,
        });
        const rotated = g.op("Reshape", [
          g.op("Concat", [g.op("Neg", [im]), re], { axis: -1 }),
          g.ints([0, 0, 0, HEAD_DIM]),
        ]);
        const per = (t: string) => g.op("Unsqueeze", [t, g.ints([1])]);
        const y = g.op("Add", [
          g.op("Mul", [x4, per(io.cos)]),
          g.op("Mul", [rotated, per(io.sin)]),
        ]);
        return g.op("Reshape", [y, g.ints([0, 0, D])]);
      },
      fused: (g, io) => {
        const pairs = (t: string) =>
          g.op("Slice", [t, g.ints([0]), g.ints([HEAD_DIM]), g.ints([1]), g.ints([2])]);
        return g.contrib("RotaryEmbedding", [io.x, g.ints([0]), pairs(io.cos), pairs(io.sin)], {
          interleaved: 1,
          num_heads: HEADS,
        });
      },
      flops: 0,
    },
    {
      name: "bias + tanh-GELU (FFN)",
      inputs: { x: [B, n, FF], b: [FF] },
      output: [B, n, FF],
      explicit: (g, io) => geluChain(g, g.op("Add", [io.x, io.b])),
      fused: (g, io) => g.contrib("FastGelu", [io.x, io.b]),
      flops: 0,
    },
    {
      name: "MatMul + bias vs Gemm",
      inputs: { x: [B, n, D], w: [D, D], b: [D] },
      output: [B, n, D],
      explicit: (g, io) => g.op("Add", [g.op("MatMul", [io.x, io.w]), io.b]),
      fused: (g, io) => {
        const y = g.op("Gemm", [g.op("Reshape", [io.x, g.ints([-1, D])]), io.w, io.b]);
        return g.op("Reshape", [y, g.ints([B, -1, D])]);
      },
      flops: 2 * B * n * D * D,
    },
  ];
}

function model(c: Case, form: "explicit" | "fused"): Uint8Array {
  const g = createGraph(form, NO_WEIGHTS);
  const io = Object.fromEntries(
    Object.entries(c.inputs).map(([name, shape]) => [name, g.input(name, "float32", shape)]),
  );
  g.output(c[form](g, io), "out", "float32", c.output);
  return g.toBytes();
}

function random(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return await ort.InferenceSession.create(bytes, {
    executionProviders: ["cpu"],
    intraOpNumThreads: THREADS,
    graphOptimizationLevel: "all",
    enableCpuMemArena: false,
    extra: { session: { intra_op: { allow_spinning: "0" } } },
  });
}

async function main(): Promise<void> {
  const n = Number(Deno.args[0] ?? 4096);
  const rows: Record<string, unknown>[] = [];
  for (const c of cases(n)) {
    const feeds = Object.fromEntries(
      Object.entries(c.inputs).map(([name, shape], i) => {
        const size = shape.reduce((a, b) => a * b, 1);
        return [name, new ort.Tensor("float32", c.data?.[name] ?? random(size, 17 + i), shape)];
      }),
    );
    const sessions = {
      explicit: await session(model(c, "explicit")),
      fused: await session(model(c, "fused")),
    };
    const outs: Record<string, Float32Array> = {};
    const times: Record<string, number[]> = { explicit: [], fused: [] };
    for (const form of ["explicit", "fused"] as const) {
      outs[form] = (await sessions[form].run(feeds)).out.data as Float32Array; // warm-up
    }
    for (let i = 0; i < REPEATS; i++) {
      for (const form of ["explicit", "fused"] as const) {
        const t0 = performance.now();
        await sessions[form].run(feeds);
        times[form].push(performance.now() - t0);
      }
    }
    await sessions.explicit.release();
    await sessions.fused.release();
    const explicitMs = Math.min(...times.explicit);
    const fusedMs = Math.min(...times.fused);
    rows.push({
      case: c.name,
      explicit_ms: Number(explicitMs.toFixed(1)),
      fused_ms: Number(fusedMs.toFixed(1)),
      speedup: Number((explicitMs / fusedMs).toFixed(2)),
      fused_gflops: c.flops ? Number((c.flops / fusedMs / 1e6).toFixed(1)) : null,
      rel_l2: Number(relL2(outs.fused, outs.explicit).toExponential(2)),
    });
  }
  console.log(
    `fusion bench: B=${B}, ${n} tokens, hidden ${D} (${HEADS}x${HEAD_DIM}), FFN ${FF}, ` +
      `${THREADS} threads, best of ${REPEATS}`,
  );
  console.log("| case | explicit ms | fused ms | speedup | fused GFLOP/s | rel L2 |");
  console.log("| --- | --: | --: | --: | --: | --: |");
  for (const r of rows) {
    console.log(
      `| ${r.case} | ${r.explicit_ms} | ${r.fused_ms} | ${r.speedup}x | ${
        r.fused_gflops ?? "-"
      } | ${r.rel_l2} |`,
    );
  }
  console.log(JSON.stringify({ batch: B, tokens: n, hidden: D, threads: THREADS, rows }));
}

if (import.meta.main) await main();
