import assert from "node:assert/strict";
import { cropRegion, ROPE_CACHE_BYTES, ropeTables } from "../../lib/diffusion/rope.ts";
import { arr, golden, maxUlps } from "./_golden.ts";

// Tolerance: 1 ulp. Positions, frequencies and angles repeat the reference's fp32 computation exactly; torch's
// vectorised CPU cos/sin are 1-ulp accurate while ours are correctly rounded from the same fp32 angle.
const MAX_ULPS = 1;

interface RopeCase {
  height: number;
  width: number;
  headDim?: number;
  gridH: number;
  gridW: number;
  crop: [[number, number], [number, number]];
  rows: number[];
  cosRows: { offset: number; length: number };
  sinRows: { offset: number; length: number };
  colCos?: { offset: number; length: number };
  colSin?: { offset: number; length: number };
  rowCos?: { offset: number; length: number };
  rowSin?: { offset: number; length: number };
  diffusersTorchMaxAbsDiff?: number;
}

const cases: RopeCase[] = golden.rope;

Deno.test("ropeTables() returns diffusers' grid and crop (round half to even) for 13 sizes", () => {
  assert.equal(cases.filter((c) => !c.headDim).length, 13);
  for (const c of cases) {
    const t = ropeTables(c.height, c.width, c.headDim ? { headDim: c.headDim } : {});
    assert.deepEqual(
      [t.gridH, t.gridW, t.crop],
      [c.gridH, c.gridW, c.crop],
      `${c.height}x${c.width}`,
    );
  }
  // 16:9 needs banker's rounding: round(6.5) = 6
  assert.deepEqual(cropRegion(48, 80), [[6, 0], [25, 32]]);
});

Deno.test("ropeTables() matches the numpy reference rows within 1 ulp (layout W-first, interleaved)", () => {
  for (const c of cases) {
    const d = c.headDim ?? 88;
    const t = ropeTables(c.height, c.width, c.headDim ? { headDim: c.headDim } : {});
    assert.equal(t.cos.length, c.gridH * c.gridW * d);
    const cos = arr(c.cosRows);
    const sin = arr(c.sinRows);
    c.rows.forEach((row, i) => {
      const label = `${c.height}x${c.width} token ${row}`;
      assert.ok(
        maxUlps(t.cos.subarray(row * d, (row + 1) * d), cos.subarray(i * d, (i + 1) * d)) <=
          MAX_ULPS,
        label,
      );
      assert.ok(
        maxUlps(t.sin.subarray(row * d, (row + 1) * d), sin.subarray(i * d, (i + 1) * d)) <=
          MAX_ULPS,
        label,
      );
    });
  }
});

Deno.test("ropeTables() matches the reference on every token within 1 ulp", () => {
  for (const c of cases.filter((x) => x.colCos)) {
    const t = ropeTables(c.height, c.width);
    const axes = {
      colCos: arr(c.colCos!),
      colSin: arr(c.colSin!),
      rowCos: arr(c.rowCos!),
      rowSin: arr(c.rowSin!),
    };
    let worst = 0;
    for (let r = 0; r < c.gridH; r++) {
      for (let col = 0; col < c.gridW; col++) {
        const base = (r * c.gridW + col) * 88;
        const expCos = new Float32Array(88);
        const expSin = new Float32Array(88);
        for (let k = 0; k < 22; k++) {
          expCos[2 * k] = expCos[2 * k + 1] = axes.colCos[col * 22 + k];
          expSin[2 * k] = expSin[2 * k + 1] = axes.colSin[col * 22 + k];
          expCos[44 + 2 * k] = expCos[45 + 2 * k] = axes.rowCos[r * 22 + k];
          expSin[44 + 2 * k] = expSin[45 + 2 * k] = axes.rowSin[r * 22 + k];
        }
        worst = Math.max(
          worst,
          maxUlps(t.cos.subarray(base, base + 88), expCos),
          maxUlps(t.sin.subarray(base, base + 88), expSin),
        );
      }
    }
    assert.ok(worst <= MAX_ULPS, `${c.height}x${c.width}: ${worst} ulps`);
  }
});

Deno.test("ropeTables() differs from diffusers' torch path only where the crop starts off zero", () => {
  for (const c of cases.filter((x) => x.diffusersTorchMaxAbsDiff !== undefined)) {
    const offZero = c.crop[0][0] !== 0 || c.crop[0][1] !== 0;
    assert.equal(c.diffusersTorchMaxAbsDiff! > 1e-3, offZero, `${c.height}x${c.width}`);
  }
});

Deno.test("ropeTables() caches per size and options", () => {
  const a = ropeTables(1024, 1024);
  assert.equal(ropeTables(1024, 1024), a);
  assert.notEqual(ropeTables(1024, 1024, { headDim: 16 }), a);
  assert.equal(ropeTables(1024, 1024, { headDim: 16 }).cos.length, 4096 * 16);
});

Deno.test("ropeTables() rejects bad sizes and options", () => {
  assert.throws(() => ropeTables(0, 1024), /height must be a positive integer/);
  assert.throws(() => ropeTables(1024, 10.5), /width must be a positive integer/);
  assert.throws(() => ropeTables(1024, 1024, { headDim: 90 }), /multiple of 4/);
  assert.throws(() => ropeTables(8, 1024), /smaller than one 16-pixel patch/);
});

Deno.test("ropeTables() with cache: false builds an equal, private copy", () => {
  const shared = ropeTables(768, 1280);
  const fresh = ropeTables(768, 1280, { cache: false });
  assert.notEqual(fresh, shared);
  assert.deepEqual(fresh, shared);
  assert.equal(ropeTables(768, 1280), shared);
});

Deno.test("ropeTables() keeps its cache bounded, evicting the least recently used size", () => {
  const first = ropeTables(2048, 2048, { headDim: 96 });
  const bytes = first.cos.byteLength + first.sin.byteLength;
  const others = Array.from(
    { length: Math.ceil(ROPE_CACHE_BYTES / bytes) },
    (_, i) => 2032 - 16 * i,
  );
  const kept = ropeTables(2048, others[0], { headDim: 96 });
  for (const width of others) {
    ropeTables(2048, width, { headDim: 96 });
    assert.equal(ropeTables(2048, others[0], { headDim: 96 }), kept, "a size in use stays cached");
  }
  assert.notEqual(ropeTables(2048, 2048, { headDim: 96 }), first, "the oldest size was evicted");
});
