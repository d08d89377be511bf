/**
 * Types and buffer checks shared by the samplers (folder-private).
 *
 * @module
 */

/** Options of one scheduler step. */
export interface StepOptions {
  /** N(0,1) noise, same length as `sample`: DDPM needs it for every t > 0, DDIM when eta > 0; DPM++ ignores it. */
  noise?: Float32Array;
  /** DDIM only: eta in [0, 1]. @default {0} */
  eta?: number;
  /**
   * Destination of `prevSample` (may be `sample` itself for an in-place update). Without it a new array is
   * allocated per call.
   */
  out?: Float32Array;
  /** Destination of `predOriginalSample` (must be neither `sample` nor `out`). Without it a new array is allocated per call. */
  predOriginalOut?: Float32Array;
}

/** Result of one scheduler step; both arrays belong to the caller (or are the `out` buffers it passed). */
export interface StepResult {
  /** x_{t-1}: the sample for the next step. */
  prevSample: Float32Array;
  /** The model's estimate of x_0 at this step. */
  predOriginalSample: Float32Array;
}

/** The samplers this project implements: DDPM, DDIM and DPM-Solver++ 2M. */
export const SAMPLERS = ["ddpm", "ddim", "dpmpp"] as const;

/** One of {@linkcode SAMPLERS}. */
export type SchedulerKind = typeof SAMPLERS[number];

/** A sampler: diffusers' set_timesteps / step pair, state kept inside the object. */
export interface Scheduler {
  /** Which sampler this is. */
  readonly kind: SchedulerKind;
  /** Plans `n` inference steps, resets any multistep state and returns the timesteps, first to last. */
  setTimesteps(n: number): number[];
  /** One denoising step from timestep `t` given the (guided) model output for `sample`. */
  step(
    modelOutput: Float32Array,
    t: number,
    sample: Float32Array,
    opts?: StepOptions,
  ): StepResult;
}

/**
 * Checks the step inputs and returns the two output buffers (the caller's, or new ones).
 *
 * @param kind sampler name for messages
 * @param modelOutput model output, same length as sample
 * @param sample current sample
 * @param opts step options
 * @returns the prevSample and predOriginalSample destinations
 */
export function stepBuffers(
  kind: string,
  modelOutput: Float32Array,
  sample: Float32Array,
  opts: StepOptions,
): [Float32Array, Float32Array] {
  const n = sample.length;
  const check = (name: string, a: Float32Array | undefined) => {
    if (a !== undefined && a.length !== n) {
      throw new RangeError(
        `Cannot run ${kind} step: ${name} has ${a.length} values, sample has ${n}`,
      );
    }
  };
  check("modelOutput", modelOutput);
  check("noise", opts.noise);
  check("out", opts.out);
  check("predOriginalOut", opts.predOriginalOut);
  const x0 = opts.predOriginalOut;
  if (x0 !== undefined && (x0 === sample || x0 === opts.out)) {
    throw new RangeError(`Cannot run ${kind} step: predOriginalOut must not be sample or out`);
  }
  return [opts.out ?? new Float32Array(n), opts.predOriginalOut ?? new Float32Array(n)];
}

/** Throws unless `t` is an integer timestep in [0, T). */
export function checkTimestep(kind: string, t: number, T: number): void {
  if (!Number.isInteger(t) || t < 0 || t >= T) {
    throw new RangeError(
      `Cannot run ${kind} step: timestep must be an integer in [0, ${T}), got ${t}`,
    );
  }
}
