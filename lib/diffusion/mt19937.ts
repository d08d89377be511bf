/**
 * MT19937 Mersenne Twister as used by PyTorch's CPU generator
 * (aten/src/ATen/core/MT19937RNGEngine.h): standard `init_genrand` seeding from a 32-bit seed,
 * one tempered 32-bit output per draw.
 */

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

/** Mutable engine state: the 624-word state vector and the index of the next word to temper. */
export interface Mt19937 {
  readonly state: Uint32Array;
  index: number;
}

/** Seeds an engine like `mt19937_engine(seed)` with a 32-bit seed (0..2^32-1). */
export function seedMt19937(seed32: number): Mt19937 {
  const state = new Uint32Array(N);
  state[0] = seed32 >>> 0;
  for (let j = 1; j < N; j++) {
    const prev = state[j - 1];
    state[j] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + j) >>> 0;
  }
  return { state, index: N };
}

function regenerate(mt: Mt19937): void {
  const s = mt.state;
  let k = 0;
  for (; k < N - M; k++) {
    const y = (s[k] & UPPER_MASK) | (s[k + 1] & LOWER_MASK);
    s[k] = s[k + M] ^ (y >>> 1) ^ ((s[k + 1] & 1) === 0 ? 0 : MATRIX_A);
  }
  for (; k < N - 1; k++) {
    const y = (s[k] & UPPER_MASK) | (s[k + 1] & LOWER_MASK);
    s[k] = s[k + M - N] ^ (y >>> 1) ^ ((s[k + 1] & 1) === 0 ? 0 : MATRIX_A);
  }
  const y = (s[N - 1] & UPPER_MASK) | (s[0] & LOWER_MASK);
  s[N - 1] = s[M - 1] ^ (y >>> 1) ^ ((s[0] & 1) === 0 ? 0 : MATRIX_A);
  mt.index = 0;
}

/** Draws the next tempered 32-bit output (as an unsigned number). */
export function nextUint32(mt: Mt19937): number {
  if (mt.index >= N) regenerate(mt);
  let y = mt.state[mt.index++];
  y ^= y >>> 11;
  y ^= (y << 7) & 0x9d2c5680;
  y ^= (y << 15) & 0xefc60000;
  y ^= y >>> 18;
  return y >>> 0;
}
