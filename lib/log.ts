/**
 * Structured logs: one JSON object per line (`ts`, `level`, `msg`, then fields), and the `Log` sink
 * type every service module takes.
 *
 * @module
 */

/** Severity of a log record, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** A leveled structured log sink shared by the service's modules. */
export type Log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Creates a logger that drops records below `level`; `write` defaults to stdout. */
export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => console.log(line),
): Log {
  return (recordLevel, msg, fields = {}) => {
    if (RANK[recordLevel] < RANK[level]) return;
    write(JSON.stringify({ ts: new Date().toISOString(), level: recordLevel, msg, ...fields }));
  };
}
