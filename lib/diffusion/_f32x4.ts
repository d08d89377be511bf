/**
 * Elementwise fp32 kernels compiled to WebAssembly SIMD (folder-private). The samplers and CFG do
 * a handful of fp32 ops per latent value; in plain JS every op is a double op plus a `Math.fround`
 * (two conversions), which caps them near 3 ns per value. Here each op is one IEEE fp32 lane op
 * (f32x4.add/sub/mul/div round to nearest even, subnormals kept, like torch's CPU kernels), so a
 * kernel gives bit-for-bit what the op-by-op `Math.fround` form gives, about 5x faster.
 *
 * @module
 */

/** An fp32 expression per element: an input value, a scalar (rounded to fp32), an earlier output, or an op. */
export type Expr =
  | { input: number }
  | { scalar: number }
  | { output: number }
  | { op: "add" | "sub" | "mul" | "div"; a: Expr; b: Expr };

/** Input `i` at the current element. */
export const input = (i: number): Expr => ({ input: i });
/** Scalar argument `i` (rounded to fp32 once per call). */
export const scalar = (i: number): Expr => ({ scalar: i });
/** The value output `i` got at the current element (only outputs listed before the one using it). */
export const output = (i: number): Expr => ({ output: i });
/** fp32 a + b. */
export const add = (a: Expr, b: Expr): Expr => ({ op: "add", a, b });
/** fp32 a - b. */
export const sub = (a: Expr, b: Expr): Expr => ({ op: "sub", a, b });
/** fp32 a * b. */
export const mul = (a: Expr, b: Expr): Expr => ({ op: "mul", a, b });
/** fp32 a / b. */
export const div = (a: Expr, b: Expr): Expr => ({ op: "div", a, b });

/**
 * A compiled kernel: for every k < outputs[0].length, evaluates each output expression on
 * inputs[*][k] and writes it to outputs[*][k]. All arrays have the same length; an output may be
 * one of the inputs (inputs are read in full before any output is written).
 */
export type Kernel = (
  inputs: readonly Float32Array[],
  scalars: readonly number[],
  outputs: readonly Float32Array[],
) => void;

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const OPCODE = { add: 0xe4, sub: 0xe5, mul: 0xe6, div: 0xe7 } as const; // f32x4.<op>
const PAGE = 65536;

function leb(v: number): number[] {
  const out: number[] = [];
  do {
    const low = v & 0x7f;
    v >>>= 7;
    out.push(v === 0 ? low : low | 0x80);
  } while (v !== 0);
  return out;
}
const vec = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];
const name = (s: string): number[] => vec([...new TextEncoder().encode(s)].map((b) => [b]));
const simd = (op: number): number[] => [0xfd, ...leb(op)];
const localGet = (i: number): number[] => [0x20, ...leb(i)];
const localSet = (i: number): number[] => [0x21, ...leb(i)];

/**
 * Builds the module: one exported function `run(bytes, inPtr..., outPtr..., scalar...)` looping
 * over 16-byte lanes of an imported memory. Locals: k, one splat per scalar, one per output.
 */
function moduleBytes(
  inputs: number,
  scalars: number,
  outputs: readonly Expr[],
): Uint8Array<ArrayBuffer> {
  const params = [I32, ...Array(inputs + outputs.length).fill(I32), ...Array(scalars).fill(F32)];
  const inPtr = (i: number) => 1 + i;
  const outPtr = (i: number) => 1 + inputs + i;
  const scalarParam = (i: number) => 1 + inputs + outputs.length + i;
  const k = params.length;
  const splat = (i: number) => k + 1 + i;
  const outLocal = (i: number) => k + 1 + scalars + i;
  const address = (ptr: number) => [...localGet(ptr), ...localGet(k), 0x6a]; // ptr + k
  const emit = (e: Expr, at: number): number[] => {
    if ("op" in e) return [...emit(e.a, at), ...emit(e.b, at), ...simd(OPCODE[e.op])];
    if ("input" in e) return [...address(inPtr(e.input)), ...simd(0x00), 4, 0]; // v128.load
    if ("scalar" in e) return localGet(splat(e.scalar));
    if (e.output >= at) throw new RangeError(`kernel output ${at} uses output ${e.output}`);
    return localGet(outLocal(e.output));
  };
  const body = [
    ...Array.from({ length: scalars }, (_, i) => [
      ...localGet(scalarParam(i)),
      ...simd(0x13), // f32x4.splat
      ...localSet(splat(i)),
    ]).flat(),
    0x03, // loop (void)
    0x40,
    ...outputs.flatMap((e, i) => [...emit(e, i), ...localSet(outLocal(i))]),
    ...outputs.flatMap((_, i) => [
      ...address(outPtr(i)),
      ...localGet(outLocal(i)),
      ...simd(0x0b), // v128.store
      4,
      0,
    ]),
    ...localGet(k),
    0x41, // i32.const 16
    16,
    0x6a,
    0x22, // local.tee k
    ...leb(k),
    ...localGet(0),
    0x49, // i32.lt_u
    0x0d, // br_if loop
    0,
    0x0b, // end loop
    0x0b, // end function
  ];
  const code = [...vec([[1, I32], [...leb(scalars + outputs.length), V128]]), ...body];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(1, vec([[0x60, ...vec(params.map((p) => [p])), 0]])),
    ...section(2, vec([[...name("env"), ...name("mem"), 0x02, 0x00, 1]])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name("run"), 0x00, 0]])),
    ...section(10, vec([[...leb(code.length), ...code]])),
  ]);
}

/**
 * Defines an elementwise kernel with `inputs` input arrays and `scalars` scalar arguments,
 * compiled on its first call. Each kernel owns a memory that grows to the largest call; arrays
 * are copied in and out (a few microseconds for a 1024x1024 latent).
 *
 * @param inputs number of input arrays
 * @param scalars number of scalar arguments
 * @param outputs one expression per output array, evaluated in order
 * @returns the kernel
 */
export function compileKernel(inputs: number, scalars: number, outputs: readonly Expr[]): Kernel {
  const memory = new WebAssembly.Memory({ initial: 1 });
  let run: ((...args: number[]) => void) | null = null;
  let heap = new Float32Array(memory.buffer);
  const args: number[] = [];
  return (ins, values, outs) => {
    if (run === null) {
      const module = new WebAssembly.Module(moduleBytes(inputs, scalars, outputs));
      const instance = new WebAssembly.Instance(module, { env: { mem: memory } });
      run = instance.exports.run as (...args: number[]) => void;
    }
    const n = outs[0].length;
    const lanes = Math.ceil(n / 4) * 4 || 4; // each array padded to whole 16-byte lanes
    const arrays = inputs + outputs.length;
    if (ins.length !== inputs || values.length !== scalars || outs.length !== outputs.length) {
      throw new RangeError(
        `kernel takes ${inputs} inputs, ${scalars} scalars, ${outputs.length} outputs`,
      );
    }
    if ([...ins, ...outs].some((a) => a.length !== n)) {
      throw new RangeError(`kernel arrays must all have ${n} values`);
    }
    const need = arrays * lanes * 4;
    if (memory.buffer.byteLength < need) {
      memory.grow(Math.ceil((need - memory.buffer.byteLength) / PAGE));
      heap = new Float32Array(memory.buffer);
    }
    args.length = 0;
    args.push(lanes * 4);
    for (let i = 0; i < arrays; i++) args.push(i * lanes * 4);
    for (const v of values) args.push(v);
    for (let i = 0; i < inputs; i++) heap.set(ins[i], i * lanes);
    run(...args);
    for (let i = 0; i < outputs.length; i++) {
      const at = (inputs + i) * lanes;
      outs[i].set(heap.subarray(at, at + n));
    }
  };
}
