/**
 * Noise schedule shared by the samplers: the parsed scheduler config, betas, alphas_cumprod and the
 * inference timestep spacings, each reproducing diffusers' fp32 arithmetic.
 *
 * @module
 */

import { roundHalfEven } from "./_round.ts";

/** Timestep spacing strategies of diffusers' schedulers. */
export type TimestepSpacing = "leading" | "linspace" | "trailing";

/** Model prediction parameterisations supported by the samplers. */
export type PredictionType = "v_prediction" | "epsilon";

/** The fields of a diffusers scheduler_config.json that the samplers use, after validation. */
export interface ScheduleConfig {
  /** Training timesteps (T). */
  numTrainTimesteps: number;
  /** First beta (config `beta_start`). */
  betaStart: number;
  /** Last beta (config `beta_end`), read from the checkpoint, never hard-coded. */
  betaEnd: number;
  /** "scaled_linear" or "linear". */
  betaSchedule: "scaled_linear" | "linear";
  /** What the model predicts. */
  predictionType: PredictionType;
  /** Added to "leading" timesteps. */
  stepsOffset: number;
  /** How inference timesteps are spread over [0, T). */
  timestepSpacing: TimestepSpacing;
  /** DDIM: alpha_cumprod used after the last step (1 if true, alphas_cumprod[0] otherwise). */
  setAlphaToOne: boolean;
}

/**
 * Validates a parsed diffusers scheduler_config.json (DDPMScheduler as shipped with HunyuanDiT) and fills
 * diffusers' class defaults for absent keys. Options that would change the math and are not implemented
 * (thresholding, clip_sample, trained_betas, zero-SNR rescaling, non-fixed_small variance) are rejected.
 *
 * @param config the parsed JSON object
 * @returns the validated schedule configuration
 */
export function parseScheduleConfig(config: Record<string, unknown>): ScheduleConfig {
  if (config === null || typeof config !== "object") {
    throw new TypeError("Cannot read scheduler config: expected a JSON object");
  }
  const num = (key: string, fallback?: number): number => {
    const v = config[key] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new TypeError(
        `Cannot read scheduler config: "${key}" must be a number, got ${JSON.stringify(v)}`,
      );
    }
    return v;
  };
  const str = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const v = config[key] ?? fallback;
    if (!allowed.includes(v as T)) {
      throw new RangeError(
        `Cannot read scheduler config: "${key}" must be one of ${allowed.join(", ")}, got ${
          JSON.stringify(v)
        }`,
      );
    }
    return v as T;
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const v = config[key] ?? fallback;
    if (typeof v !== "boolean") {
      throw new TypeError(
        `Cannot read scheduler config: "${key}" must be a boolean, got ${JSON.stringify(v)}`,
      );
    }
    return v;
  };
  const unsupported = (key: string, ok: (v: unknown) => boolean) => {
    if (config[key] !== undefined && !ok(config[key])) {
      throw new RangeError(
        `Cannot use scheduler config: "${key}" = ${JSON.stringify(config[key])} is not supported`,
      );
    }
  };
  unsupported("trained_betas", (v) => v === null);
  unsupported("thresholding", (v) => v === false);
  unsupported("clip_sample", (v) => v === false);
  unsupported("rescale_betas_zero_snr", (v) => v === false);
  unsupported("variance_type", (v) => v === "fixed_small" || v === null);
  // DPMSolverMultistepScheduler keys: only the defaults that from_config(ddpm_config) yields are implemented.
  unsupported("solver_order", (v) => v === 2);
  unsupported("algorithm_type", (v) => v === "dpmsolver++");
  unsupported("solver_type", (v) => v === "midpoint");
  unsupported("lower_order_final", (v) => v === true);
  unsupported("euler_at_final", (v) => v === false);
  unsupported("final_sigmas_type", (v) => v === "zero");
  for (
    const key of [
      "use_karras_sigmas",
      "use_exponential_sigmas",
      "use_beta_sigmas",
      "use_lu_lambdas",
      "use_flow_sigmas",
    ]
  ) {
    unsupported(key, (v) => v === false);
  }
  if (config["clip_sample"] === undefined) {
    throw new RangeError(
      'Cannot use scheduler config: "clip_sample" is absent, and diffusers\' default (true) is not supported',
    );
  }
  const parsed: ScheduleConfig = {
    numTrainTimesteps: num("num_train_timesteps", 1000),
    betaStart: num("beta_start", 0.0001),
    betaEnd: num("beta_end", 0.02),
    betaSchedule: str("beta_schedule", ["scaled_linear", "linear"] as const, "linear"),
    predictionType: str("prediction_type", ["v_prediction", "epsilon"] as const, "epsilon"),
    stepsOffset: num("steps_offset", 0),
    timestepSpacing: str(
      "timestep_spacing",
      ["leading", "linspace", "trailing"] as const,
      "leading",
    ),
    setAlphaToOne: flag("set_alpha_to_one", true),
  };
  if (!Number.isInteger(parsed.numTrainTimesteps) || parsed.numTrainTimesteps < 2) {
    throw new RangeError(
      `Cannot use scheduler config: "num_train_timesteps" must be an integer >= 2, got ${parsed.numTrainTimesteps}`,
    );
  }
  if (!Number.isInteger(parsed.stepsOffset) || parsed.stepsOffset < 0) {
    throw new RangeError(
      `Cannot use scheduler config: "steps_offset" must be a non-negative integer, got ${parsed.stepsOffset}`,
    );
  }
  if (!(parsed.betaStart > 0 && parsed.betaEnd > 0 && parsed.betaStart < 1 && parsed.betaEnd < 1)) {
    throw new RangeError(
      `Cannot use scheduler config: "beta_start" and "beta_end" must lie in (0, 1), got ${parsed.betaStart}, ${parsed.betaEnd}`,
    );
  }
  return parsed;
}

/** The fp32 tables of a schedule. */
export interface ScheduleTables {
  /** beta_t, t = 0..T-1. */
  betas: Float32Array;
  /** alpha_bar_t = prod_{s<=t} (1 - beta_s), t = 0..T-1. */
  alphasCumprod: Float32Array;
}

/**
 * betas and alphas_cumprod as diffusers builds them: `torch.linspace(sqrt(start), sqrt(end), T, float32) ** 2`
 * (or plain linspace), `1 - betas` in fp32, and `torch.cumprod` (which accumulates in float64 on CPU and
 * stores fp32). Bit-identical to torch 2.13 on CPU (golden: 0 differences).
 *
 * @param config the schedule configuration
 * @returns the tables
 */
export function scheduleTables(config: ScheduleConfig): ScheduleTables {
  const n = config.numTrainTimesteps;
  const scaled = config.betaSchedule === "scaled_linear";
  const start = scaled ? Math.sqrt(config.betaStart) : config.betaStart;
  const end = scaled ? Math.sqrt(config.betaEnd) : config.betaEnd;
  const betas = torchLinspaceF32(start, end, n);
  if (scaled) { for (let i = 0; i < n; i++) betas[i] = betas[i] * betas[i]; }
  const alphasCumprod = new Float32Array(n);
  let acc = 1;
  for (let i = 0; i < n; i++) {
    acc *= Math.fround(1 - betas[i]);
    alphasCumprod[i] = acc;
  }
  return { betas, alphasCumprod };
}

/**
 * torch.linspace(start, end, n, dtype=float32) on CPU: fp32 step `(end - start) / (n - 1)`, the first half
 * computed as a fused multiply-add from `start`, the second half from `end` backwards.
 */
function torchLinspaceF32(start: number, end: number, n: number): Float32Array {
  const out = new Float32Array(n);
  const s = Math.fround(start);
  const e = Math.fround(end);
  const step = Math.fround(Math.fround(e - s) / (n - 1));
  const halfway = Math.floor(n / 2);
  // step * i is exact in float64 (24-bit x <= 31-bit), so one rounding to fp32 after the add models the FMA.
  for (let i = 0; i < n; i++) out[i] = i < halfway ? s + step * i : e - step * (n - 1 - i);
  return out;
}

/**
 * Inference timesteps (descending) for DDPMScheduler / DDIMScheduler `set_timesteps(steps)`.
 *
 * @param config the schedule configuration
 * @param steps number of inference steps, 1..T
 * @returns the timesteps, first to last
 */
export function ddpmTimesteps(config: ScheduleConfig, steps: number): number[] {
  const T = config.numTrainTimesteps;
  checkSteps(steps, T);
  switch (config.timestepSpacing) {
    case "linspace":
      return npLinspace(0, T - 1, steps).map(roundHalfEven).reverse();
    case "leading": {
      const ratio = Math.floor(T / steps);
      return range(steps).map((i) => i * ratio + config.stepsOffset).reverse();
    }
    case "trailing":
      return npArange(T, 0, -T / steps).map((v) => roundHalfEven(v) - 1);
  }
}

/**
 * Inference timesteps (descending) for DPMSolverMultistepScheduler `set_timesteps(steps)` with
 * lambda_min_clipped = -inf (so the last usable timestep is T).
 *
 * @param config the schedule configuration
 * @param steps number of inference steps, 1..T
 * @returns the timesteps, first to last
 */
export function dpmTimesteps(config: ScheduleConfig, steps: number): number[] {
  const T = config.numTrainTimesteps;
  checkSteps(steps, T);
  switch (config.timestepSpacing) {
    case "linspace":
      return npLinspace(0, T - 1, steps + 1).map(roundHalfEven).reverse().slice(0, steps);
    case "leading": {
      const ratio = Math.floor(T / (steps + 1));
      return range(steps + 1).map((i) => i * ratio).reverse().slice(0, steps).map((t) =>
        t + config.stepsOffset
      );
    }
    case "trailing":
      return npArange(T, 0, -T / steps).map((v) => roundHalfEven(v) - 1);
  }
}

function checkSteps(steps: number, T: number): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > T) {
    throw new RangeError(`Invalid steps: must be an integer between 1 and ${T}, got ${steps}`);
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** np.linspace(start, stop, num) in float64 (endpoint included). */
function npLinspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out = range(num).map((i) => i * step + start);
  out[num - 1] = stop;
  return out;
}

/** np.arange(start, stop, step) in float64: length ceil((stop - start) / step), values start + i * delta. */
function npArange(start: number, stop: number, step: number): number[] {
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const delta = start + step - start;
  return range(n).map((i) => start + i * delta);
}
