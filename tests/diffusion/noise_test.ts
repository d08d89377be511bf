import assert from "node:assert/strict";
import { hex } from "../../lib/bytes.ts";
import {
  createGenerator,
  normalBlock16,
  type NormalPath,
  randn,
} from "../../lib/diffusion/noise.ts";
import { nextUint32, seedMt19937 } from "../../lib/diffusion/mt19937.ts";

const DATA = new URL("../golden/data/noise/", import.meta.url);

interface BlockRef {
  offset: number;
  length: number;
}

interface DrawGolden {
  count: number;
  sha256: string;
  values?: BlockRef;
  head?: BlockRef;
  tail?: BlockRef;
}

interface ExhaustiveGolden {
  radius_one_k: number;
  chunk: number;
  radius: string[];
  cos: string[];
  sin: string[];
}

interface PathGolden {
  single: (DrawGolden & { seed: string })[];
  sequences: { seed: string; calls: DrawGolden[] }[];
  exhaustive: ExhaustiveGolden;
}

interface NoiseIndex {
  capability: Record<NormalPath, string>;
  paths: Record<NormalPath, PathGolden>;
}

const INDEX = JSON.parse(Deno.readTextFileSync(new URL("index.json", DATA))) as NoiseIndex;
const BLOB = Deno.readFileSync(new URL("noise.bin", DATA));

/** Golden float32 bits of a block (little-endian file). */
function goldenBits(ref: BlockRef): Uint32Array {
  const view = new DataView(BLOB.buffer, BLOB.byteOffset + ref.offset, ref.length * 4);
  return Uint32Array.from({ length: ref.length }, (_, i) => view.getUint32(4 * i, true));
}

function bitsOf(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

async function sha256Hex(values: Float32Array): Promise<string> {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
  return hex(await crypto.subtle.digest("SHA-256", bytes));
}

/** Counts bit mismatches of `got` against the stored values / head / tail and checks the hash. */
async function mismatches(got: Float32Array, golden: DrawGolden, label: string): Promise<number> {
  assert.equal(got.length, golden.count, `${label}: length`);
  const bits = bitsOf(got);
  let bad = 0;
  const compare = (ref: BlockRef, start: number) => {
    const want = goldenBits(ref);
    for (let i = 0; i < want.length; i++) if (bits[start + i] !== want[i]) bad++;
  };
  if (golden.values) compare(golden.values, 0);
  if (golden.head) compare(golden.head, 0);
  if (golden.tail) compare(golden.tail, golden.count - golden.tail.length);
  if (bad === 0 && (await sha256Hex(got)) !== golden.sha256) {
    throw new Error(`${label}: sha256 differs although stored values match`);
  }
  return bad;
}

for (const path of ["avx2", "libm"] as const) {
  const golden = INDEX.paths[path];

  Deno.test(`randn(${path}) equals torch.randn for every golden seed and size, bit for bit`, async () => {
    let bad = 0;
    const failing: string[] = [];
    for (const c of golden.single) {
      const label = `seed ${c.seed} count ${c.count}`;
      const n = await mismatches(randn(BigInt(c.seed), c.count, { path }), c, label);
      if (n > 0) failing.push(`${label}: ${n}`);
      bad += n;
    }
    assert.ok(golden.single.length >= 5 * 52, "golden covers 5 seeds x 52 sizes");
    assert.equal(bad, 0, `bit mismatches: ${failing.join(", ")}`);
  });

  Deno.test(`createGenerator(${path}) reproduces successive torch.randn calls on one generator`, async () => {
    for (const seq of golden.sequences) {
      const gen = createGenerator(BigInt(seq.seed), { path });
      for (const [k, call] of seq.calls.entries()) {
        const label = `seed ${seq.seed} call ${k} (count ${call.count})`;
        assert.equal(await mismatches(gen.randn(call.count), call, label), 0, label);
      }
    }
  });
}

/**
 * Every uniform is k / 2^24, so radius(k), cos(theta(k)) and sin(theta(k)) over all k < 2^24 cover every value the
 * block kernel can produce (each output is one float32 product of a radius and a cos / sin). The goldens were read
 * back from torch by injecting MT19937 outputs (see gen_noise.py); compared as sha256 per chunk of 2^18 results.
 */
async function exhaustiveMismatchedChunks(
  path: NormalPath,
  g: ExhaustiveGolden,
): Promise<string[]> {
  const all = 1 << 24;
  const radius = new Float32Array(all);
  const cos = new Float32Array(all);
  const sin = new Float32Array(all);
  const block = new Float32Array(16);
  const radiusOne = g.radius_one_k * 2 ** -24;
  for (let k = 0; k < all; k += 8) {
    for (let j = 0; j < 8; j++) {
      block[j] = (k + j) * 2 ** -24;
      block[j + 8] = 0;
    }
    normalBlock16(block, 0, path);
    radius.set(block.subarray(0, 8), k);
    for (let j = 0; j < 8; j++) {
      block[j] = radiusOne;
      block[j + 8] = (k + j) * 2 ** -24;
    }
    normalBlock16(block, 0, path);
    cos.set(block.subarray(0, 8), k);
    sin.set(block.subarray(8, 16), k);
  }
  const bad: string[] = [];
  for (
    const [name, values, hashes] of [["radius", radius, g.radius], ["cos", cos, g.cos], [
      "sin",
      sin,
      g.sin,
    ]] as const
  ) {
    assert.equal(hashes.length * g.chunk, all);
    for (let c = 0; c < hashes.length; c++) {
      const hash = await sha256Hex(values.subarray(c * g.chunk, (c + 1) * g.chunk));
      if (hash !== hashes[c]) bad.push(`${name} chunk ${c}`);
    }
  }
  return bad;
}

for (const path of ["avx2", "libm"] as const) {
  Deno.test(`the ${path} block kernel matches torch on every possible uniform input`, async () => {
    assert.deepEqual(await exhaustiveMismatchedChunks(path, INDEX.paths[path].exhaustive), []);
  });
}

Deno.test("the golden kernels were recorded on the capabilities they claim", () => {
  assert.ok(["AVX2", "AVX512"].includes(INDEX.capability.avx2));
  assert.equal(INDEX.capability.libm, "DEFAULT");
});

Deno.test("the two kernels differ somewhere, so each golden set pins its own path", () => {
  const a = bitsOf(randn(42, 65536, { path: "avx2" }));
  const b = bitsOf(randn(42, 65536, { path: "libm" }));
  assert.ok(a.some((v, i) => v !== b[i]));
  // Below 16 values both paths use the same double-precision Box-Muller.
  assert.deepEqual(randn(42, 15, { path: "avx2" }), randn(42, 15, { path: "libm" }));
});

Deno.test("seeds follow torch.manual_seed: low 32 bits, negative seeds wrap modulo 2^64", () => {
  assert.deepEqual(randn(42, 20), randn(42n, 20));
  assert.deepEqual(randn(2n ** 32n + 42n, 20), randn(42, 20));
  assert.deepEqual(randn(-1, 20), randn(2n ** 64n - 1n, 20));
  assert.deepEqual(randn(-(2n ** 63n), 5), randn(0, 5));
  assert.notDeepEqual(randn(0, 20), randn(1, 20));
});

Deno.test("randn rejects bad seeds, counts and paths with clear errors", () => {
  assert.throws(() => randn(2n ** 64n, 4), /seed must be in/);
  assert.throws(() => randn(-(2n ** 63n) - 1n, 4), /seed must be in/);
  assert.throws(() => randn(1.5, 4), /seed must be an integer/);
  assert.throws(() => randn(Number.NaN, 4), /seed must be an integer/);
  assert.throws(() => randn(0, -1), /count must be a non-negative integer/);
  assert.throws(() => randn(0, 2.5), /count must be a non-negative integer/);
  assert.throws(() => randn(0, 4, { path: "sse" as NormalPath }), /unknown noise path/);
  assert.equal(randn(0, 0).length, 0);
});

Deno.test("a zero-length draw consumes nothing from the generator", () => {
  const gen = createGenerator(3);
  gen.randn(0);
  assert.deepEqual(gen.randn(40), randn(3, 40));
});

Deno.test("mt19937 matches the reference sequence of init_genrand(5489)", () => {
  const mt = seedMt19937(5489);
  assert.deepEqual([nextUint32(mt), nextUint32(mt), nextUint32(mt)], [
    3499211612,
    581869302,
    3890346734,
  ]);
  for (let i = 3; i < 9999; i++) nextUint32(mt);
  assert.equal(nextUint32(mt), 4123659995); // the 10000th output (C++ std::mt19937 requirement)
});
