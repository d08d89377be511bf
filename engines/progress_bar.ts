/**
 * Build progress on stderr: a one-line bar per component (bytes written of the total, ETA from the
 * rate so far) on a terminal, plain start and finish lines otherwise.
 *
 * @module
 */

import type { ProgressFn } from "./build_component.ts";

/** A one-line progress bar on stderr (plain start/finish lines when stderr is not a terminal). */
export function progressBar(label: string): { update: ProgressFn; finish(note: string): void } {
  const tty = Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  const write = (s: string) => Deno.stderr.writeSync(enc.encode(s));
  let shown = -1;
  const started = performance.now();
  if (!tty) write(`${label}: building\n`);
  return {
    update(done, total) {
      if (!tty) return;
      const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
      if (pct === shown) return;
      shown = pct;
      const bar = "#".repeat(Math.round(pct / 4)).padEnd(25, ".");
      const seconds = (performance.now() - started) / 1000;
      const eta = done > 0 && total > done
        ? `  ETA ${etaText((seconds * (total - done)) / done)}`
        : "";
      const bytes = `${(done / 1e6).toFixed(1)}/${(total / 1e6).toFixed(1)} MB`;
      write(`\r\x1b[2K${label.padEnd(15)} [${bar}] ${String(pct).padStart(3)}%  ${bytes}${eta}`);
    },
    finish(note) {
      write(tty ? `\r\x1b[2K${label.padEnd(15)} done ${note}\n` : `${label}: done ${note}\n`);
    },
  };
}

/** A duration for an ETA: "42 s", "3 min 5 s", "1 h 2 min". */
export function etaText(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
