/**
 * Typed reads of `config.json` keys for the graph builders; every error names the key, so the
 * builder can point at the file (engines/build.ts prefixes the path).
 */

/** Raw parsed config.json. */
export type RawConfig = Record<string, unknown>;

/** A positive integer key (or `fallback` when absent). */
export function positiveInt(raw: RawConfig, key: string, fallback?: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
    throw new Error(
      `config key "${key}" must be a positive integer, got ${JSON.stringify(raw[key])}`,
    );
  }
  return v;
}

/** A finite number key (or `fallback` when absent). */
export function finite(raw: RawConfig, key: string, fallback?: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new Error(`config key "${key}" must be a number, got ${JSON.stringify(raw[key])}`);
  }
  return v;
}

/** A boolean key (or `fallback` when absent). */
export function bool(raw: RawConfig, key: string, fallback: boolean): boolean {
  const v = raw[key] ?? fallback;
  if (typeof v !== "boolean") {
    throw new Error(`config key "${key}" must be true or false, got ${JSON.stringify(raw[key])}`);
  }
  return v;
}

/** A string key that must be one of `allowed` (or `fallback` when absent). */
export function oneOf(raw: RawConfig, key: string, fallback: string, allowed: string[]): string {
  const v = raw[key] ?? fallback;
  if (typeof v !== "string" || !allowed.includes(v)) {
    throw new Error(
      `config key "${key}" is ${JSON.stringify(raw[key])}; this builder supports ${
        allowed.join(", ")
      }`,
    );
  }
  return v;
}
