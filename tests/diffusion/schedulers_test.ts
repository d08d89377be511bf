import assert from "node:assert/strict";
import { createScheduler, type SchedulerKind } from "../../lib/diffusion/schedulers.ts";
import { parseScheduleConfig, scheduleTables } from "../../lib/diffusion/betas.ts";
import { arr, assertClose, golden, maxUlps } from "./_golden.ts";

const G = golden.schedulers;

// Tolerances (against diffusers 0.37.1 / torch 2.13 CPU, AVX512):
// - betas, alphas_cumprod: bit-identical (0 ulp).
// - step() results: |diff| <= RTOL * |expected| + 1e-6 (values are O(1)). Every fp32 tensor op is repeated
//   in order, but torch's CPU sqrt (used for `x ** 0.5`), log and exp are not correctly rounded (about 20% of
//   sqrt results are 1 ulp off), so a scalar step coefficient can differ by 1 ulp; measured worst: 7.2e-7
//   absolute for v_prediction. Epsilon prediction divides by sqrt(alpha_bar) at high noise (x0 up to ~50),
//   which amplifies that ulp: worst measured 3.8e-6 relative, hence its looser RTOL.
const RTOL: Record<string, number> = { epsilon: 5e-6 };
const RTOL_DEFAULT = 1e-6;
const ATOL = 1e-6;

Deno.test("scheduleTables() reproduces diffusers betas and alphas_cumprod bit for bit", () => {
  for (const name of ["hunyuan", "v12"]) {
    const tables = scheduleTables(parseScheduleConfig(G.configs[name]));
    assert.equal(maxUlps(tables.betas, arr(G.tables[name].betas)), 0, `${name} betas`);
    assert.equal(
      maxUlps(tables.alphasCumprod, arr(G.tables[name].alphasCumprod)),
      0,
      `${name} alphas_cumprod`,
    );
  }
});

Deno.test("setTimesteps() matches diffusers for every kind, spacing and step count", () => {
  assert.ok(G.timesteps.length >= 60);
  for (const c of G.timesteps) {
    const s = createScheduler(G.configs[c.config], c.kind);
    assert.deepEqual(s.setTimesteps(c.steps), c.timesteps, `${c.config} ${c.kind} ${c.steps}`);
  }
});

Deno.test("step() follows diffusers trajectories (20/25/50/100 steps, v and epsilon, eta)", () => {
  const worst: Record<string, number> = {};
  for (const tr of G.trajectories) {
    const kind = tr.kind as SchedulerKind;
    const s = createScheduler(G.configs[tr.config], kind);
    assert.deepEqual(s.setTimesteps(tr.steps), tr.timesteps);
    const n = tr.shape.reduce((a: number, b: number) => a * b, 1);
    const models = arr(tr.model);
    const noises = arr(tr.noise);
    const prevs = arr(tr.prev);
    const x0s = arr(tr.x0);
    let sample = arr(tr.initial);
    const label = `${kind}/${tr.config}/${tr.steps}/eta${tr.eta}`;
    tr.timesteps.forEach((t: number, i: number) => {
      const slice = (a: Float32Array) => a.subarray(i * n, (i + 1) * n);
      const r = s.step(slice(models), t, sample, { noise: slice(noises), eta: tr.eta });
      const rtol = RTOL[tr.config] ?? RTOL_DEFAULT;
      const d = assertClose(r.prevSample, slice(prevs), rtol, ATOL, `${label} step ${i}`);
      const d0 = assertClose(r.predOriginalSample, slice(x0s), rtol, ATOL, `${label} step ${i} x0`);
      worst[label] = Math.max(worst[label] ?? 0, d, d0);
      sample = slice(prevs).slice(); // feed the golden sample so each step is checked on its own inputs
    });
  }
  assert.equal(Object.keys(worst).length, G.trajectories.length);
});

Deno.test("DPM++ step() chained on its own outputs stays within tolerance over 50 steps", () => {
  const tr = G.trajectories.find((t: { kind: string; steps: number; config: string }) =>
    t.kind === "dpmpp" && t.steps === 50 && t.config === "hunyuan"
  );
  const s = createScheduler(G.configs.hunyuan, "dpmpp");
  s.setTimesteps(50);
  const n = arr(tr.initial).length;
  const models = arr(tr.model);
  const prevs = arr(tr.prev);
  const sample = arr(tr.initial);
  tr.timesteps.forEach((t: number, i: number) => {
    s.step(models.subarray(i * n, (i + 1) * n), t, sample, { out: sample });
  });
  assertClose(sample, prevs.subarray(49 * n), 1e-5, 1e-5, "final sample");
});

Deno.test("step() writes into caller buffers without allocating and supports in-place updates", () => {
  for (const kind of ["ddpm", "ddim", "dpmpp"] as const) {
    const s = createScheduler(G.configs.hunyuan, kind);
    const ts = s.setTimesteps(20);
    const sample = new Float32Array(64).map((_, i) => Math.sin(i));
    const model = new Float32Array(64).map((_, i) => Math.cos(i));
    const noise = new Float32Array(64).fill(0.25);
    const ref = createScheduler(G.configs.hunyuan, kind);
    ref.setTimesteps(20);
    const expected = ref.step(model, ts[0], sample, { noise });
    const x0 = new Float32Array(64);
    const r = s.step(model, ts[0], sample, { noise, out: sample, predOriginalOut: x0 });
    assert.equal(r.prevSample, sample);
    assert.equal(r.predOriginalSample, x0);
    assert.deepEqual(sample, expected.prevSample);
    assert.deepEqual(x0, expected.predOriginalSample);
  }
});

Deno.test("createScheduler() reads beta_end from the config", () => {
  const a = scheduleTables(parseScheduleConfig(G.configs.hunyuan));
  const b = scheduleTables(parseScheduleConfig(G.configs.v12));
  assert.notEqual(a.betas[999], b.betas[999]);
  assert.ok(Math.abs(a.betas[999] - 0.03) < 1e-6 && Math.abs(b.betas[999] - 0.018) < 1e-6);
});

Deno.test("createScheduler() and step() reject bad input with clear messages", () => {
  assert.throws(
    () => createScheduler({ ...G.configs.hunyuan, clip_sample: true }),
    /"clip_sample"/,
  );
  assert.throws(
    () => createScheduler({ ...G.configs.hunyuan, beta_end: "0.03" }),
    /"beta_end" must be a number/,
  );
  assert.throws(
    () => createScheduler({ ...G.configs.hunyuan, prediction_type: "sample" }),
    /"prediction_type" must be one of/,
  );
  assert.throws(
    () => createScheduler(G.configs.hunyuan, "euler" as SchedulerKind),
    /Unknown scheduler kind/,
  );
  assert.throws(
    () => createScheduler({ ...G.configs.hunyuan, use_karras_sigmas: true }, "dpmpp"),
    /"use_karras_sigmas" = true is not supported/,
  );
  const ddpm = createScheduler(G.configs.hunyuan);
  const ts = ddpm.setTimesteps(10);
  const x = new Float32Array(8);
  assert.throws(() => ddpm.step(x, ts[0], x), /needs opts.noise/);
  assert.throws(() => ddpm.step(x, 500, x, { noise: x }), /not in the planned schedule/);
  assert.throws(
    () => ddpm.step(new Float32Array(4), ts[0], x, { noise: x }),
    /modelOutput has 4 values/,
  );
  assert.throws(
    () => ddpm.step(x, ts[0], x, { noise: x, predOriginalOut: x }),
    /must not be sample or out/,
  );
  assert.throws(() => ddpm.setTimesteps(0), /Invalid steps/);
  const ddim = createScheduler(G.configs.hunyuan, "ddim");
  assert.throws(() => ddim.step(x, 981, x), /call setTimesteps first/);
  ddim.setTimesteps(10);
  assert.throws(() => ddim.step(x, 901, x, { eta: 0.5 }), /eta > 0 needs opts.noise/);
  const dpm = createScheduler(G.configs.hunyuan, "dpmpp");
  const dts = dpm.setTimesteps(2);
  dpm.step(x, dts[0], x);
  dpm.step(x, dts[1], x);
  assert.throws(() => dpm.step(x, dts[1], x), /all 2 planned steps are done/);
});
