/**
 * Sampler factory: builds a DDPM, DDIM or DPM-Solver++ 2M sampler from a checkpoint's
 * scheduler_config.json (diffusers DDPMScheduler config), as diffusers' `XScheduler.from_config` would.
 *
 * Buffer ownership: `step()` writes into `opts.out` / `opts.predOriginalOut` when given (no allocation;
 * `out` may be `sample` itself) and otherwise returns new arrays; the sampler never keeps a reference to the
 * caller's arrays (DPM++ copies its x0 history into its own buffers).
 *
 * @module
 */

import { parseScheduleConfig, scheduleTables } from "./betas.ts";
import { createDdim } from "./ddim.ts";
import { createDdpm } from "./ddpm.ts";
import { createDpmpp } from "./dpmpp.ts";
import { SAMPLERS, type Scheduler, type SchedulerKind } from "./_sampler.ts";

export { SAMPLERS } from "./_sampler.ts";
export type { Scheduler, SchedulerKind, StepOptions, StepResult } from "./_sampler.ts";

/**
 * Creates a sampler from a parsed scheduler_config.json. beta_start / beta_end / schedule, prediction_type,
 * steps_offset, timestep_spacing and set_alpha_to_one are read from the config (diffusers class defaults when
 * absent); unsupported options are rejected with a message naming the key.
 *
 * @param config the parsed scheduler_config.json
 * @param kind which sampler @default {"ddpm"}
 * @returns a sampler with `setTimesteps(n)` and `step(...)`
 */
export function createScheduler(
  config: Record<string, unknown>,
  kind: SchedulerKind = "ddpm",
): Scheduler {
  const parsed = parseScheduleConfig(config);
  const tables = scheduleTables(parsed);
  switch (kind) {
    case "ddpm":
      return createDdpm(parsed, tables);
    case "ddim":
      return createDdim(parsed, tables);
    case "dpmpp":
      return createDpmpp(parsed, tables);
    default:
      throw new RangeError(
        `Unknown scheduler kind: ${JSON.stringify(kind)} (expected one of ${SAMPLERS.join(", ")})`,
      );
  }
}
