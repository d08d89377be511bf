/**
 * Seeded standard-normal noise that reproduces `torch.randn(count, generator=g)` for a CPU
 * generator `g = torch.Generator("cpu").manual_seed(seed)` bit for bit (PyTorch 2.13,
 * aten/src/ATen/native/cpu/DistributionTemplates.h, core/DistributionsHelper.h).
 *
 * - count < 16: one double-precision Box-Muller per value; the second normal of each pair is
 *   cached in the generator and returned by the next value drawn below 16 (across calls too).
 * - count >= 16: float32 uniforms fill the output, then Box-Muller runs on blocks of 16
 *   (slot j pairs with slot j + 8); a partial tail redraws 16 uniforms into the last 16 slots.
 *   Path "avx2" (default) follows `NormalFill16<float>` of the AVX2 kernel, which x86 CPUs with
 *   AVX2 or AVX-512 run (libtorch_cpu.so 2.13 has only DEFAULT and AVX2 builds of this kernel):
 *   Cephes `log256_ps` / `sincos256_ps` of avx_mathfun.h with the multiply-adds that the shipped
 *   binary fuses (read from its disassembly; unfused, ~1% of values differ).
 *   Path "libm" follows the scalar kernel (ATEN_CPU_CAPABILITY=default, or x86 CPUs without
 *   AVX2) with glibc's logf and sincosf (see glibc_f32.ts); other C libraries may differ.
 * Both block kernels match torch on every one of the 2^24 possible float32 uniforms
 * (tests/diffusion/noise_test.ts). Below 16 values JS Math.log1p/sin/cos stand in for glibc's
 * double functions; they can only disagree in a double's last bit, which the cast to float32
 * hides except with probability ~2^-29 per value (none seen in 640k checked values).
 */

import { type Mt19937, nextUint32, seedMt19937 } from "./mt19937.ts";
import { glibcLogf, glibcSincosf } from "./glibc_f32.ts";

/** Which torch CPU kernel to reproduce for draws of 16 or more values. */
export type NormalPath = "avx2" | "libm";

/** Options for {@link createGenerator} and {@link randn}. */
export interface NoiseOptions {
  /** Kernel to reproduce for counts >= 16; default "avx2" (torch on AVX2 / AVX-512 x86 CPUs). */
  path?: NormalPath;
}

/** A stateful noise source: successive calls equal successive `torch.randn` calls on one generator. */
export interface NoiseGenerator {
  /** Draws `count` standard normals as float32, advancing the generator. */
  randn(count: number): Float32Array;
}

const MAX_U64 = (1n << 64n) - 1n;
const MIN_I64 = -(1n << 63n);

/** Reduces a torch-acceptable seed (-2^63..2^64-1) to the 32 bits MT19937 is seeded with. */
function seedLow32(seed: number | bigint): number {
  let s: bigint;
  if (typeof seed === "bigint") {
    s = seed;
  } else if (Number.isInteger(seed)) {
    s = BigInt(seed);
  } else {
    throw new RangeError(`seed must be an integer, got ${seed}`);
  }
  if (s < MIN_I64 || s > MAX_U64) {
    throw new RangeError(`seed must be in [-2^63, 2^64-1], got ${s}`);
  }
  return Number(BigInt.asUintN(32, s));
}

function checkCount(count: number): void {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`count must be a non-negative integer, got ${count}`);
  }
}

// ---------------------------------------------------------------------------------------------
// float32 arithmetic helpers

const f32 = Math.fround;

/**
 * float32 fused multiply-add: a*b+c rounded once. The product of two float32 is exact in a
 * double; the double sum s is then the correctly rounded sum, and rounding s to float32 is
 * only wrong when s lands exactly on a float32 midpoint while the exact sum does not.
 */
function fma32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const r = f32(s);
  if (r === s) return r;
  const other = 2 * s - r; // the float32 on the other side of s when s is a midpoint
  return f32(other) !== other ? r : roundMidpoint(p, c, s, r, other);
}

/** Rounds p + c, whose double sum s is the midpoint of floats r and other, by the sign of the error. */
function roundMidpoint(p: number, c: number, s: number, r: number, other: number): number {
  const bv = s - p;
  const err = (p - (s - bv)) + (c - bv); // exact (p + c) - s (TwoSum)
  if (err === 0) return r;
  return err > 0 ? Math.max(r, other) : Math.min(r, other);
}

const F32_BUF = new Float32Array(1);
const U32_BUF = new Uint32Array(F32_BUF.buffer);

function bitsOf(x: number): number {
  F32_BUF[0] = x;
  return U32_BUF[0];
}

function fromBits(b: number): number {
  U32_BUF[0] = b;
  return F32_BUF[0];
}

// ---------------------------------------------------------------------------------------------
// avx_mathfun.h constants (float32 values as stored in libtorch_cpu.so)

const SQRTHF = f32(0.707106781186547524);
const LOG_P = [
  7.0376836292e-2,
  -1.1514610310e-1,
  1.1676998740e-1,
  -1.2420140846e-1,
  1.4249322787e-1,
  -1.6668057665e-1,
  2.0000714765e-1,
  -2.4999993993e-1,
  3.3333331174e-1,
].map(f32);
const LOG_Q1 = f32(-2.12194440e-4);
const LOG_Q2 = f32(0.693359375);
const MINUS_DP1 = f32(-0.78515625);
const MINUS_DP2 = f32(-2.4187564849853515625e-4);
const MINUS_DP3 = f32(-3.77489497744594108e-8);
const SINCOF_P0 = f32(-1.9515295891e-4);
const SINCOF_P1 = f32(8.3321608736e-3);
const SINCOF_P2 = f32(-1.6666654611e-1);
const COSCOF_P0 = f32(2.443315711809948e-5);
const COSCOF_P1 = f32(-1.388731625493765e-3);
const COSCOF_P2 = f32(4.166664568298827e-2);
const FOPI = f32(1.27323954473516);
const TWO_PI_F32 = f32(2 * Math.PI);
const TWO_PI_F64 = 2 * Math.PI;

/** `log256_ps` for one lane, x in (0, 1], with the compiled code's FMAs. */
function cephesLog(xIn: number): number {
  const bits = bitsOf(xIn); // x > 0 and normal here, so the max with min_norm_pos is a no-op
  let e = ((bits >>> 23) - 127) + 1;
  let x = fromBits((bits & 0x807fffff) | 0x3f000000);
  const small = x < SQRTHF;
  if (small) e -= 1;
  x = f32(f32(x - 1) + (small ? x : 0));
  const z = f32(x * x);
  let y = LOG_P[0];
  for (let k = 1; k < 9; k++) y = fma32(y, x, LOG_P[k]);
  y = f32(y * x);
  y = fma32(y, z, f32(e * LOG_Q1));
  y = fma32(-z, 0.5, y);
  x = f32(x + y);
  return fma32(e, LOG_Q2, x);
}

/**
 * Writes one block of 16 normals into out[o..o+16) from the uniforms already there, following
 * the AVX2 `NormalFill16<float>` (8 lanes: log of 1-u[j], sincos of 2*pi*u[j+8]).
 */
function fillBlockAvx2(out: Float32Array, o: number): void {
  for (let j = 0; j < 8; j++) {
    const u1 = f32(1 - out[o + j]);
    const radius = f32(Math.sqrt(-2 * cephesLog(u1)));
    const theta = f32(TWO_PI_F32 * out[o + j + 8]); // >= 0: the sign bit of theta is clear
    // sincos256_ps
    let q = Math.trunc(f32(theta * FOPI));
    q = (q + 1) & ~1;
    const qf = q;
    const negSin = (q & 4) !== 0;
    const negCos = (~(q - 2) & 4) !== 0;
    const polyMask = (q & 2) === 0;
    let x = fma32(qf, MINUS_DP1, theta);
    x = fma32(MINUS_DP2, qf, x);
    x = fma32(qf, MINUS_DP3, x);
    const z = f32(x * x);
    let yc = fma32(COSCOF_P0, z, COSCOF_P1);
    yc = fma32(yc, z, COSCOF_P2);
    yc = f32(z * yc);
    yc = fma32(z, yc, -f32(z * 0.5));
    yc = f32(yc + 1);
    let ys = fma32(SINCOF_P0, z, SINCOF_P1);
    ys = fma32(ys, z, SINCOF_P2);
    ys = fma32(x, f32(z * ys), x);
    const sinPart2 = polyMask ? ys : 0;
    const sinPart1 = polyMask ? 0 : yc;
    let sin = sinPart2 + sinPart1;
    let cos = (ys - sinPart2) + (yc - sinPart1);
    if (negSin) sin = -sin;
    if (negCos) cos = -cos;
    // fma(n, std = 1, mean = 0): adding +0 maps -0 to +0 like the hardware FMA.
    out[o + j] = f32(radius * cos) + 0;
    out[o + j + 8] = f32(radius * sin) + 0;
  }
}

const SINCOS = new Float64Array(2);

/** The scalar `NormalFill16<float>` with glibc logf / sincosf and fmaf(n, 1, 0). */
function fillBlockLibm(out: Float32Array, o: number): void {
  const sc = SINCOS;
  for (let j = 0; j < 8; j++) {
    const u1 = f32(1 - out[o + j]);
    const radius = f32(Math.sqrt(f32(-2 * glibcLogf(u1))));
    const theta = f32(TWO_PI_F64 * out[o + j + 8]);
    glibcSincosf(theta, sc);
    out[o + j] = f32(radius * sc[1]) + 0;
    out[o + j + 8] = f32(radius * sc[0]) + 0;
  }
}

/**
 * Runs torch's Box-Muller block in place on 16 float32 uniforms in [0, 1) at block[offset..offset+16):
 * slot j (0..7) becomes radius(u[j]) * cos(theta(u[j+8])) and slot j + 8 the matching sine.
 */
export function normalBlock16(block: Float32Array, offset: number, path: NormalPath): void {
  if (path === "avx2") fillBlockAvx2(block, offset);
  else fillBlockLibm(block, offset);
}

// ---------------------------------------------------------------------------------------------
// generator

const TWO_POW_M24 = 2 ** -24;
const TWO_POW_32 = 2 ** 32;
const TWO_POW_M53 = 2 ** -53;

/** `uniform_real_distribution<double>(0, 1)`: low 53 bits of (first << 32 | second) / 2^53. */
function uniformDouble(mt: Mt19937): number {
  const hi = nextUint32(mt) & 0x1fffff;
  const lo = nextUint32(mt);
  return (hi * TWO_POW_32 + lo) * TWO_POW_M53;
}

function fillUniformFloat(mt: Mt19937, out: Float32Array, from: number, to: number): void {
  for (let i = from; i < to; i++) out[i] = (nextUint32(mt) & 0xffffff) * TWO_POW_M24;
}

/** Creates a generator equal to `torch.Generator("cpu").manual_seed(seed)`. */
export function createGenerator(seed: number | bigint, options: NoiseOptions = {}): NoiseGenerator {
  const path = options.path ?? "avx2";
  if (path !== "avx2" && path !== "libm") {
    throw new RangeError(`unknown noise path ${String(path)}; expected "avx2" or "libm"`);
  }
  const fillBlock = path === "avx2" ? fillBlockAvx2 : fillBlockLibm;
  const mt = seedMt19937(seedLow32(seed));
  let cachedNormal: number | null = null;

  function randnSmall(out: Float32Array): void {
    for (let i = 0; i < out.length; i++) {
      let v: number;
      if (cachedNormal !== null) {
        v = cachedNormal;
        cachedNormal = null;
      } else {
        const u1 = uniformDouble(mt);
        const u2 = uniformDouble(mt);
        const r = Math.sqrt(-2 * Math.log1p(-u2));
        const theta = 2 * Math.PI * u1;
        cachedNormal = r * Math.sin(theta);
        v = r * Math.cos(theta);
      }
      out[i] = v + 0; // fma(v, std = 1, mean = 0) in double, then cast to float32
    }
  }

  function randnVector(out: Float32Array): void {
    const n = out.length;
    fillUniformFloat(mt, out, 0, n);
    for (let i = 0; i + 16 <= n; i += 16) fillBlock(out, i);
    if (n % 16 !== 0) {
      fillUniformFloat(mt, out, n - 16, n);
      fillBlock(out, n - 16);
    }
  }

  return {
    randn(count: number): Float32Array {
      checkCount(count);
      const out = new Float32Array(count);
      if (count >= 16) randnVector(out);
      else randnSmall(out);
      return out;
    },
  };
}

/** `torch.randn(count, generator=torch.Generator("cpu").manual_seed(seed))` as float32. */
export function randn(
  seed: number | bigint,
  count: number,
  options: NoiseOptions = {},
): Float32Array {
  return createGenerator(seed, options).randn(count);
}
