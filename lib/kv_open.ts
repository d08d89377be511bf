/**
 * Opens the service's Deno KV. A local file is first checked with SQLite's `PRAGMA quick_check`
 * (read-only, through node:sqlite), so a damaged or foreign file fails start-up with one line naming
 * it and what to do, instead of an error without the path later or a panic on a damaged page. A
 * KV Connect URL is opened as it is.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, "; ").slice(0, 300);
}

function damaged(path: string, problem: string): Error {
  return new Error(
    `KV file "${path}" is damaged (${oneLine(problem)}). Stop every process that uses it, then ` +
      `restore it from a backup, or move it and its -wal and -shm files aside to start with an ` +
      `empty store`,
  );
}

/** What SQLite's quick check finds wrong with the file, or null when it is sound or absent. */
export function kvFileProblem(path: string): string | null {
  try {
    Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  let db: DatabaseSync | null = null;
  try {
    db = new DatabaseSync(path, { readOnly: true });
    const rows = db.prepare("PRAGMA quick_check").all() as { quick_check: string }[];
    const found = rows.map((r) => r.quick_check);
    return found.length === 1 && found[0] === "ok" ? null : found.join("; ");
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    db?.close();
  }
}

/** Opens `path` (a file, created with its folder if missing, or a KV Connect URL). */
export async function openServiceKv(path: string): Promise<Deno.Kv> {
  const local = !/^https?:\/\//.test(path) && path !== ":memory:";
  if (local) {
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
    if (dir !== "") await Deno.mkdir(dir, { recursive: true });
    const problem = kvFileProblem(path);
    if (problem) throw damaged(path, problem);
  }
  try {
    return await Deno.openKv(path);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw local ? damaged(path, message) : new Error(`Cannot open KV "${path}": ${message}`);
  }
}
