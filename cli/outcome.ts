/**
 * What a generate run comes to: an image written (exit 0), bad input (exit 2) or a failure (exit 1),
 * each with the one line the CLI prints.
 *
 * @module
 */

/** The result of one run. */
export type Outcome =
  | { code: 0; path: string; seed: number; size: string; steps: number; seconds: number }
  | { code: 1 | 2; message: string };

/** Bad input: exit code 2. */
export function usageError(message: string): Outcome {
  return { code: 2, message };
}

/** A failure: exit code 1. */
export function failure(message: string): Outcome {
  return { code: 1, message };
}
