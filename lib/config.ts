/**
 * Service configuration: every setting has a default, an environment variable and a `--flag`.
 * Flags win over the environment. Parsing fails with a message naming the setting.
 *
 * @module
 */

import { type BackendPreference, parseBackendPreference } from "./engine/mod.ts";
import { parseWebhookAllow } from "./jobs/webhook_target.ts";

/** The service's settings, resolved from flags, environment and defaults. */
export interface Config {
  /** Listen port (`HYDIT_PORT`, `--port`). @default 8000 */
  port: number;
  /** Listen address (`HYDIT_HOST`, `--host`). @default "0.0.0.0" */
  host: string;
  /**
   * Engine folder written by `engines:build` (`HYDIT_ENGINES`, `--engines`); empty: main.ts serves
   * the bundled hydit-tiny model, building its engines on first start. @default ""
   */
  engines: string;
  /** Bearer API keys; empty means open mode (`HYDIT_API_KEYS`, comma-separated). @default [] */
  apiKeys: string[];
  /** Deno KV location: a file path or a KV Connect URL (`HYDIT_KV_PATH`). @default "data/hydit.kv" */
  kvPath: string;
  /** Schedules file (JSON), or empty for none (`HYDIT_SCHEDULES`). @default "" */
  schedules: string;
  /**
   * Where image bytes live: `kv` (chunked in Deno KV, readable by every replica on the KV) or `dir`
   * (files in `resultsDir` on this host) (`HYDIT_RESULTS_STORE`). @default "kv"
   */
  resultsStore: "kv" | "dir";
  /** Folder of the directory results store (`HYDIT_RESULTS_DIR`). @default "data/results" */
  resultsDir: string;
  /** Jobs queued or running beyond which submissions get 429 (`HYDIT_QUEUE_DEPTH`). @default 32 */
  queueDepth: number;
  /** Jobs queued or running per API key beyond which its submissions get 429; 0: no per-key limit (`HYDIT_QUEUE_PER_KEY`). @default 0 */
  queuePerKey: number;
  /** Jobs this process runs at once (`HYDIT_CONCURRENCY`). @default 1 */
  concurrency: number;
  /** Lease length of a claimed job, in ms (`HYDIT_LEASE_MS`). @default 30000 */
  leaseMs: number;
  /** How often an idle worker looks for claimable jobs, in ms (`HYDIT_POLL_MS`). @default 1000 */
  pollMs: number;
  /** Worker identity in leases; a restart under the same id reclaims its jobs at once (`HYDIT_WORKER_ID`). @default "<hostname>:<port>" */
  workerId: string;
  /** How long jobs and images are kept after they finish, in seconds (`HYDIT_RETENTION_S`). @default 86400 */
  retentionS: number;
  /** Period of the retention sweeper, in seconds (`HYDIT_SWEEP_S`). @default 60 */
  sweepS: number;
  /** Largest accepted request body, in bytes (`HYDIT_BODY_LIMIT`). @default 65536 */
  bodyLimit: number;
  /** Longest prompt or negative prompt, in characters (`HYDIT_MAX_PROMPT`). @default 1024 */
  maxPromptChars: number;
  /** Smallest image side in pixels (`HYDIT_MIN_SIDE`). @default 64 */
  minSide: number;
  /** Largest image side in pixels (`HYDIT_MAX_SIDE`). @default 2048 */
  maxSide: number;
  /** How long `POST /v1/images/generations` waits before answering 202 with the job, in s (`HYDIT_SYNC_WAIT_S`). @default 300 */
  syncWaitS: number;
  /** Grace period for SIGTERM drain, in ms (`HYDIT_GRACE_MS`). @default 30000 */
  graceMs: number;
  /** A request head must arrive within this many ms of its first byte, else 408; 0 = off (`HYDIT_HEADER_TIMEOUT_MS`). @default 10000 */
  headerTimeoutMs: number;
  /** A request body must arrive within this many ms of its head, else 408; 0 = off (`HYDIT_BODY_TIMEOUT_MS`). @default 30000 */
  bodyTimeoutMs: number;
  /** A keep-alive connection with nothing in flight is closed after this many quiet ms; 0 = off (`HYDIT_IDLE_TIMEOUT_MS`). @default 30000 */
  idleTimeoutMs: number;
  /** HMAC-SHA256 secret for webhook signatures; empty disables webhooks (`HYDIT_WEBHOOK_SECRET`). @default "" */
  webhookSecret: string;
  /**
   * Webhook receivers allowed although not public: host names, addresses and CIDR ranges
   * (`HYDIT_WEBHOOK_ALLOW`, comma-separated). @default []
   */
  webhookAllow: string[];
  /** Webhook delivery attempts (`HYDIT_WEBHOOK_ATTEMPTS`). @default 5 */
  webhookAttempts: number;
  /** First webhook retry delay in ms, doubled per attempt (`HYDIT_WEBHOOK_BACKOFF_MS`). @default 1000 */
  webhookBackoffMs: number;
  /** Base URL used in image links; empty means the request's own origin (`HYDIT_PUBLIC_URL`). @default "" */
  publicUrl: string;
  /** HMAC-SHA256 key of signed image links; empty: a random key per process (`HYDIT_LINK_SECRET`). @default "" */
  linkSecret: string;
  /** How long a signed image link opens without a key, in seconds (`HYDIT_LINK_TTL_S`). @default 3600 */
  linkTtlS: number;
  /** Steps of the warm-up generation at start, 0 to skip (`HYDIT_WARMUP_STEPS`). @default 2 */
  warmupSteps: number;
  /** ONNX Runtime intra-op threads, 0 for its default (`HYDIT_THREADS`). @default 0 */
  threads: number;
  /** Log level: debug, info, warn or error (`HYDIT_LOG_LEVEL`). @default "info" */
  logLevel: "debug" | "info" | "warn" | "error";
  /**
   * Engine runtime: `auto` (TensorRT when the shim and plans fit this GPU, else ONNX Runtime),
   * `tensorrt` (fail instead of falling back) or `onnx` (`HYDIT_BACKEND`). @default "auto"
   */
  backend: BackendPreference;
  /**
   * Host memory for generations in MiB, shared by the jobs that run at once; a size whose
   * estimated peak does not fit is refused with 413 (`HYDIT_MEMORY_BUDGET_MB`; 0 = the machine's
   * total memory). @default 0
   */
  memoryBudgetMb: number;
  /** Path of the TensorRT FFI shim (`HYDIT_TRT_SHIM`, `--trt-shim`). @default "<repo>/ffi/build/libhydit_trt.so" */
  trtShim: string;
}

interface Setting {
  env: string;
  flag: string;
  kind: "int" | "string" | "list";
  min?: number;
  max?: number;
}

const SETTINGS: Record<keyof Config, Setting> = {
  port: { env: "HYDIT_PORT", flag: "port", kind: "int", min: 0, max: 65535 },
  host: { env: "HYDIT_HOST", flag: "host", kind: "string" },
  engines: { env: "HYDIT_ENGINES", flag: "engines", kind: "string" },
  apiKeys: { env: "HYDIT_API_KEYS", flag: "api-keys", kind: "list" },
  kvPath: { env: "HYDIT_KV_PATH", flag: "kv-path", kind: "string" },
  schedules: { env: "HYDIT_SCHEDULES", flag: "schedules", kind: "string" },
  resultsStore: { env: "HYDIT_RESULTS_STORE", flag: "results-store", kind: "string" },
  resultsDir: { env: "HYDIT_RESULTS_DIR", flag: "results-dir", kind: "string" },
  queueDepth: { env: "HYDIT_QUEUE_DEPTH", flag: "queue-depth", kind: "int", min: 1 },
  queuePerKey: { env: "HYDIT_QUEUE_PER_KEY", flag: "queue-per-key", kind: "int", min: 0 },
  concurrency: { env: "HYDIT_CONCURRENCY", flag: "concurrency", kind: "int", min: 1, max: 64 },
  leaseMs: { env: "HYDIT_LEASE_MS", flag: "lease-ms", kind: "int", min: 500 },
  pollMs: { env: "HYDIT_POLL_MS", flag: "poll-ms", kind: "int", min: 10 },
  workerId: { env: "HYDIT_WORKER_ID", flag: "worker-id", kind: "string" },
  retentionS: { env: "HYDIT_RETENTION_S", flag: "retention-s", kind: "int", min: 1 },
  sweepS: { env: "HYDIT_SWEEP_S", flag: "sweep-s", kind: "int", min: 1 },
  bodyLimit: { env: "HYDIT_BODY_LIMIT", flag: "body-limit", kind: "int", min: 1024 },
  maxPromptChars: { env: "HYDIT_MAX_PROMPT", flag: "max-prompt", kind: "int", min: 1 },
  minSide: { env: "HYDIT_MIN_SIDE", flag: "min-side", kind: "int", min: 16 },
  maxSide: { env: "HYDIT_MAX_SIDE", flag: "max-side", kind: "int", min: 16, max: 4096 },
  syncWaitS: { env: "HYDIT_SYNC_WAIT_S", flag: "sync-wait-s", kind: "int", min: 0 },
  graceMs: { env: "HYDIT_GRACE_MS", flag: "grace-ms", kind: "int", min: 0 },
  headerTimeoutMs: {
    env: "HYDIT_HEADER_TIMEOUT_MS",
    flag: "header-timeout-ms",
    kind: "int",
    min: 0,
  },
  bodyTimeoutMs: { env: "HYDIT_BODY_TIMEOUT_MS", flag: "body-timeout-ms", kind: "int", min: 0 },
  idleTimeoutMs: { env: "HYDIT_IDLE_TIMEOUT_MS", flag: "idle-timeout-ms", kind: "int", min: 0 },
  webhookSecret: { env: "HYDIT_WEBHOOK_SECRET", flag: "webhook-secret", kind: "string" },
  webhookAllow: { env: "HYDIT_WEBHOOK_ALLOW", flag: "webhook-allow", kind: "list" },
  webhookAttempts: {
    env: "HYDIT_WEBHOOK_ATTEMPTS",
    flag: "webhook-attempts",
    kind: "int",
    min: 1,
    max: 20,
  },
  webhookBackoffMs: {
    env: "HYDIT_WEBHOOK_BACKOFF_MS",
    flag: "webhook-backoff-ms",
    kind: "int",
    min: 1,
  },
  publicUrl: { env: "HYDIT_PUBLIC_URL", flag: "public-url", kind: "string" },
  linkSecret: { env: "HYDIT_LINK_SECRET", flag: "link-secret", kind: "string" },
  linkTtlS: { env: "HYDIT_LINK_TTL_S", flag: "link-ttl-s", kind: "int", min: 1 },
  warmupSteps: { env: "HYDIT_WARMUP_STEPS", flag: "warmup-steps", kind: "int", min: 0, max: 200 },
  threads: { env: "HYDIT_THREADS", flag: "threads", kind: "int", min: 0, max: 256 },
  logLevel: { env: "HYDIT_LOG_LEVEL", flag: "log-level", kind: "string" },
  backend: { env: "HYDIT_BACKEND", flag: "backend", kind: "string" },
  trtShim: { env: "HYDIT_TRT_SHIM", flag: "trt-shim", kind: "string" },
  memoryBudgetMb: {
    env: "HYDIT_MEMORY_BUDGET_MB",
    flag: "memory-budget-mb",
    kind: "int",
    min: 0,
  },
};

function defaults(): Config {
  return {
    port: 8000,
    host: "0.0.0.0",
    engines: "",
    apiKeys: [],
    kvPath: "data/hydit.kv",
    schedules: "",
    resultsStore: "kv",
    resultsDir: "data/results",
    queueDepth: 32,
    queuePerKey: 0,
    concurrency: 1,
    leaseMs: 30_000,
    pollMs: 1000,
    workerId: "",
    retentionS: 86_400,
    sweepS: 60,
    bodyLimit: 65_536,
    maxPromptChars: 1024,
    minSide: 64,
    maxSide: 2048,
    syncWaitS: 300,
    graceMs: 30_000,
    headerTimeoutMs: 10_000,
    bodyTimeoutMs: 30_000,
    idleTimeoutMs: 30_000,
    webhookSecret: "",
    webhookAllow: [],
    webhookAttempts: 5,
    webhookBackoffMs: 1000,
    publicUrl: "",
    linkSecret: "",
    linkTtlS: 3600,
    warmupSteps: 2,
    threads: 0,
    logLevel: "info",
    backend: "auto",
    trtShim: new URL("../ffi/build/libhydit_trt.so", import.meta.url).pathname,
    memoryBudgetMb: 0,
  };
}

function parseFlags(args: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) {
      throw new TypeError(`Cannot parse argument "${arg}": expected --name=value`);
    }
    const eq = arg.indexOf("=");
    if (eq > 0) flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (i + 1 < args.length) flags.set(arg.slice(2), args[++i]);
    else throw new TypeError(`Cannot parse flag "${arg}": missing value`);
  }
  return flags;
}

function convert(name: string, setting: Setting, raw: string): number | string | string[] {
  if (setting.kind === "string") return raw;
  if (setting.kind === "list") return raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (!/^-?\d+$/.test(raw.trim())) {
    throw new TypeError(`Cannot read setting ${name}: "${raw}" is not an integer`);
  }
  const n = Number(raw);
  if (
    (setting.min !== undefined && n < setting.min) || (setting.max !== undefined && n > setting.max)
  ) {
    throw new RangeError(
      `Cannot read setting ${name}: ${n} is outside ${setting.min ?? "-inf"}..${
        setting.max ?? "inf"
      }`,
    );
  }
  return n;
}

/** The `--help` text of `deno task start`: every flag with its variable and default. */
export function configHelp(): string {
  const d = defaults() as unknown as Record<string, unknown>;
  const rows = Object.entries(SETTINGS).map(([key, s]) => {
    const value = Array.isArray(d[key]) ? (d[key] as string[]).join(",") : String(d[key]);
    const shown = key === "workerId" ? "<hostname>:<port>" : value === "" ? "unset" : value;
    return `  --${s.flag.padEnd(20)} ${s.env.padEnd(26)} default ${shown}`;
  });
  return [
    "usage: deno task start [--flag value]...",
    "",
    "Serves the HunyuanDiT API and the web page at /. Every setting is a flag or a HYDIT_* variable",
    "(flags win); see the README's settings table. Without --engines (HYDIT_ENGINES) it serves the",
    "bundled hydit-tiny model, building its engines once.",
    "",
    ...rows,
  ].join("\n");
}

/**
 * Resolves the configuration from command-line flags (`--port 8000` or `--port=8000`) and environment
 * variables (`HYDIT_*`), flags first, then defaults.
 */
export function loadConfig(
  args: readonly string[] = [],
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): Config {
  const config = defaults() as unknown as Record<string, unknown>;
  const flags = parseFlags(args);
  for (const [key, setting] of Object.entries(SETTINGS)) {
    const raw = flags.get(setting.flag) ?? env(setting.env);
    if (raw !== undefined) config[key] = convert(setting.env, setting, raw);
    flags.delete(setting.flag);
  }
  if (flags.size > 0) {
    throw new TypeError(`Cannot parse flag "--${[...flags.keys()][0]}": unknown flag`);
  }
  const result = config as unknown as Config;
  if (!["debug", "info", "warn", "error"].includes(result.logLevel)) {
    throw new TypeError(`Cannot read setting HYDIT_LOG_LEVEL: "${result.logLevel}" is not a level`);
  }
  result.backend = parseBackendPreference(result.backend);
  if (!["kv", "dir"].includes(result.resultsStore)) {
    throw new TypeError(
      `Cannot read setting HYDIT_RESULTS_STORE: "${result.resultsStore}" is not kv or dir`,
    );
  }
  parseWebhookAllow(result.webhookAllow);
  if (result.minSide > result.maxSide) {
    throw new RangeError("Cannot read settings: HYDIT_MIN_SIDE is larger than HYDIT_MAX_SIDE");
  }
  if (result.workerId === "") result.workerId = `${Deno.hostname()}:${result.port}`;
  if (result.trtShim === "") result.trtShim = defaults().trtShim;
  return result;
}
