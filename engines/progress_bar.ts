/**
 * Build progress on stderr: a one-line bar per component on a terminal, plain start and finish
 * lines otherwise.
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
  if (!tty) write(`${label}: building\n`);
  return {
    update(done, total) {
      if (!tty) return;
      const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
      if (pct === shown) return;
      shown = pct;
      const bar = "#".repeat(Math.round(pct / 4)).padEnd(25, ".");
      write(
        `\r${label.padEnd(15)} [${bar}] ${String(pct).padStart(3)}%  ${(done / 1e6).toFixed(1)} MB`,
      );
    },
    finish(note) {
      write(tty ? `\r\x1b[2K${label.padEnd(15)} done ${note}\n` : `${label}: done ${note}\n`);
    },
  };
}
