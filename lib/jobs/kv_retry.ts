/**
 * Retries a KV operation that failed because another process held the SQLite write lock. With several
 * processes on one local KV file, reads and commits sometimes throw "database is locked".
 *
 * @module
 */

/** Options for {@linkcode withKvRetry}. */
export interface KvRetryOptions {
  /** Attempts before giving up. @default 50 */
  attempts?: number;
  /** Delay before the first retry in ms, grown linearly. @default 2 */
  delayMs?: number;
}

/** Runs `op`, retrying while it throws SQLite's busy error. */
export async function withKvRetry<T>(
  op: () => Promise<T>,
  options: KvRetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 50;
  const delayMs = options.delayMs ?? 2;
  for (let i = 1;; i++) {
    try {
      return await op();
    } catch (error) {
      const busy = error instanceof Error &&
        /database is locked|database is busy/i.test(error.message);
      if (!busy || i >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, delayMs * i));
    }
  }
}
