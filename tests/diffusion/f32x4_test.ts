/**
 * The WebAssembly SIMD fp32 kernels against the same expressions evaluated with Math.fround after
 * every op in JS: bit for bit (Object.is, so signed zeros count), including subnormals, lengths
 * that are not multiples of 4, an output that is also an input, and memory growth.
 */
import assert from "node:assert/strict";
import {
  add,
  compileKernel,
  div,
  input,
  mul,
  output,
  scalar,
  sub,
} from "../../lib/diffusion/_f32x4.ts";

const f = Math.fround;

/** Deterministic fp32 values mixing ordinary, tiny (subnormal products), zero and negative zero. */
function values(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, (_, i) => {
    s = (s * 1103515245 + 12345) % 2147483648;
    const u = s / 2147483648 * 2 - 1;
    return i % 97 === 0 ? -0 : i % 31 === 0 ? u * 1e-38 : u * 3;
  });
}

function assertSame(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

// out0 = (a - s0 * b) / s1; out1 = (s2 * out0 + a * a) - s0 * (out0 - c)
const kernel = compileKernel(3, 3, [
  div(sub(input(0), mul(scalar(0), input(1))), scalar(1)),
  sub(
    add(mul(scalar(2), output(0)), mul(input(0), input(0))),
    mul(scalar(0), sub(output(0), input(2))),
  ),
]);

function reference(a: Float32Array, b: Float32Array, c: Float32Array, k: number[]) {
  const [s0, s1, s2] = k.map(f);
  const x = a.map((v, i) => f(f(v - f(s0 * b[i])) / s1));
  const y = x.map((v, i) => f(f(f(s2 * v) + f(a[i] * a[i])) - f(s0 * f(v - c[i]))));
  return [x, y];
}

Deno.test("f32x4 kernels equal op-by-op Math.fround results bit for bit", () => {
  const coefficients = [0.3141592653589793, -1.7, 1e-3];
  for (const n of [0, 1, 3, 4, 5, 63, 1000, 65536, 300001]) {
    const [a, b, c] = [values(n, 1), values(n, 2), values(n, 3)];
    const [x, y] = reference(a, b, c, coefficients);
    const [gotX, gotY] = [new Float32Array(n), new Float32Array(n)];
    kernel([a, b, c], coefficients, [gotX, gotY]);
    assertSame(gotX, x, `n=${n} out0`);
    assertSame(gotY, y, `n=${n} out1`);
  }
});

Deno.test("f32x4 kernel output may be one of its inputs", () => {
  const n = 1027;
  const [a, b, c] = [values(n, 4), values(n, 5), values(n, 6)];
  const [x, y] = reference(a, b, c, [2, 3, 4]);
  const x0 = new Float32Array(n);
  kernel([a, b, c], [2, 3, 4], [x0, a]);
  assertSame(x0, x, "out0");
  assertSame(a, y, "out1 written over input 0");
});

Deno.test("f32x4 kernel rejects wrong arity, mismatched lengths and forward output uses", () => {
  const a = new Float32Array(8);
  assert.throws(() => kernel([a, a], [1, 2, 3], [a, a]), /3 inputs, 3 scalars, 2 outputs/);
  assert.throws(
    () => kernel([a, a, new Float32Array(4)], [1, 2, 3], [a, a]),
    /must all have 8 values/,
  );
  const bad = compileKernel(1, 0, [output(0)]);
  assert.throws(() => bad([a], [], [a]), /output 0 uses output 0/);
});
