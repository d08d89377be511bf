/**
 * The generate CLI's progress on stderr: a bar with the step, the step rate and the ETA, redrawn in
 * place on a terminal; elsewhere one line at each quarter and at the end.
 *
 * @module
 */
import { etaText } from "../engines/progress_bar.ts";

/** Reports denoising steps; `done` ends the line. */
export interface StepProgress {
  step(step: number, steps: number): void;
  done(): void;
}

/** A progress bar on stderr. */
export function stepProgress(): StepProgress {
  const tty = Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  const write = (s: string) => Deno.stderr.writeSync(enc.encode(s));
  let started = 0;
  let first = 0;
  let quarter = -1;
  let drawn = false;
  return {
    step(step, steps) {
      const now = performance.now();
      if (started === 0) started = now;
      // The first step carries the text encoders: rate and ETA count the steps after it.
      if (step === 1) first = now;
      const rate = step > 1 ? (step - 1) / ((now - first) / 1000) : 0;
      const eta = rate > 0 ? `  ETA ${etaText((steps - step) / rate)}` : "";
      const bar = "#".repeat(Math.round((25 * step) / steps)).padEnd(25, ".");
      const line = `[${bar}] ${step}/${steps}  ${rate > 0 ? rate.toFixed(1) : "-"} steps/s${eta}`;
      if (tty) {
        write(`\r\x1b[2K${line}`);
        drawn = true;
      } else if (Math.floor((4 * step) / steps) > quarter) {
        quarter = Math.floor((4 * step) / steps);
        write(`${line}\n`);
      }
    },
    done() {
      if (drawn) write("\n");
    },
  };
}
