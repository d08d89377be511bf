/**
 * Structured logs: one JSON object per line on stdout (`ts`, `level`, `msg`, then fields).
 *
 * @module
 */
import type { Log } from "../jobs/job.ts";

const RANK = { debug: 0, info: 1, warn: 2, error: 3 } as const;

/** Creates a logger that drops records below `level`; `write` defaults to stdout. */
export function createLogger(
  level: keyof typeof RANK,
  write: (line: string) => void = (line) => console.log(line),
): Log {
  return (recordLevel, msg, fields = {}) => {
    if (RANK[recordLevel] < RANK[level]) return;
    write(JSON.stringify({ ts: new Date().toISOString(), level: recordLevel, msg, ...fields }));
  };
}
