/**
 * Starts the real service (main.ts) as a child process on loopback with its own KV file and results
 * folder, and talks to it over HTTP (for kill -9, SIGTERM and two-process cases; the rest run it
 * in-process with _in_process.ts). The generator is always the real ONNX pipeline on the tiny
 * checkpoint, built once with `engines:build` (or the folder named by HYDIT_TEST_ENGINES).
 */
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TINY_CHECKPOINT = `${ROOT}tests/golden/data/tiny/tiny-v12`;
const TINY_ENGINES = `${ROOT}engines/out/tiny-v12-fp32`;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function buildTinyEngines(): Promise<string> {
  const fromEnv = Deno.env.get("HYDIT_TEST_ENGINES");
  if (fromEnv) return fromEnv;
  if (await exists(`${TINY_ENGINES}/manifest.json`)) return TINY_ENGINES;
  // Build into a private folder and rename it into place, so parallel test files never see (or
  // write into) a half-built folder; the loser of a race uses the winner's build.
  const tmp = `${TINY_ENGINES}.tmp-${crypto.randomUUID()}`;
  const args = ["task", "engines:build", "--checkpoint", TINY_CHECKPOINT, "--out", tmp];
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...args, "--precision", "fp32"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    const tail = new TextDecoder().decode(out.stderr).slice(-1500);
    throw new Error(`Cannot build test engines: ${tail}`);
  }
  try {
    await Deno.rename(tmp, TINY_ENGINES);
  } catch (error) {
    await Deno.remove(tmp, { recursive: true });
    if (!(await exists(`${TINY_ENGINES}/manifest.json`))) throw error;
  }
  return TINY_ENGINES;
}

let engines: Promise<string> | null = null;

/** The engine folder for service tests (built on first use). */
export function testEngines(): Promise<string> {
  engines ??= buildTinyEngines();
  return engines;
}

/** A free loopback port. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A running service process. */
export interface ServerHandle {
  url: string;
  port: number;
  /** Folder holding kv/ and results/. */
  dir: string;
  proc: Deno.ChildProcess;
  /** Log lines so far (stdout JSON and stderr). */
  logs: string[];
  /** Parsed JSON log records so far. */
  records(): Record<string, unknown>[];
  status: Promise<Deno.CommandStatus>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<Deno.CommandStatus>;
}

/** Options for {@linkcode startServer}. */
export interface StartOptions {
  /** Reuse a state folder (restart, or two processes on one KV). */
  dir?: string;
  port?: number;
  env?: Record<string, string>;
  /** Wait until /readyz says ready. @default true */
  waitReady?: boolean;
}

/** Starts the service and waits until it is ready. */
export async function startServer(options: StartOptions = {}): Promise<ServerHandle> {
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "hydit-svc-" });
  const port = options.port ?? freePort();
  const engineDir = await testEngines();
  const env: Record<string, string> = {
    HYDIT_PORT: String(port),
    HYDIT_HOST: "127.0.0.1",
    HYDIT_KV_PATH: `${dir}/kv/hydit.kv`,
    HYDIT_RESULTS_DIR: `${dir}/results`,
    HYDIT_ENGINES: engineDir,
    HYDIT_MIN_SIDE: "64",
    HYDIT_MAX_SIDE: "256",
    HYDIT_WARMUP_STEPS: "1",
    HYDIT_POLL_MS: "200",
    NO_COLOR: "1",
    ...options.env,
  };
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}main.ts`],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs: string[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      logs.push(...parts);
    }
    if (rest) logs.push(rest);
  };
  const pumps = Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  const status = proc.status.then(async (s) => {
    await pumps;
    return s;
  });
  const handle: ServerHandle = {
    url: `http://127.0.0.1:${port}`,
    port,
    dir,
    proc,
    logs,
    records: () =>
      logs.flatMap((line) => {
        try {
          return [JSON.parse(line)];
        } catch {
          return [];
        }
      }),
    status,
    async kill() {
      try {
        proc.kill("SIGKILL");
      } catch { /* already gone */ }
      await status;
    },
    async stop() {
      proc.kill("SIGTERM");
      return await status;
    },
  };
  if (options.waitReady ?? true) await waitReady(handle);
  return handle;
}

/** Polls /readyz until ready; throws with the server log if it exits or takes over `timeoutMs`. */
export async function waitReady(server: ServerHandle, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  server.status.then(() => exited = true);
  while (Date.now() < deadline && !exited) {
    try {
      const res = await fetch(`${server.url}/readyz`);
      const body = await res.json();
      if (body.ready) return;
      if (body.status === "failed") break;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  await server.kill();
  throw new Error(`Server did not become ready:\n${server.logs.slice(-30).join("\n")}`);
}

/** What a test request carries: an API key, a JSON body, extra headers. */
export interface CallOptions {
  body?: unknown;
  key?: string;
  headers?: Record<string, string>;
}

/** The RequestInit of a test request: bearer key and JSON body (with its content type) when given. */
export function requestInit(method: string, options: CallOptions = {}): RequestInit {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["content-type"] ??= "application/json";
    body = JSON.stringify(options.body);
  }
  return { method, headers, body };
}

/** JSON request helper: returns status, headers and parsed body (or text). */
export async function call(
  server: { url: string },
  method: string,
  path: string,
  options: CallOptions = {},
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${server.url}${path}`, requestInit(method, options));
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** Polls a job until it is terminal. */
export async function waitJob(
  server: { url: string },
  id: string,
  options: { key?: string; timeoutMs?: number } = {},
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    const { body } = await call(server, "GET", `/v1/jobs/${id}`, { key: options.key });
    if (["succeeded", "failed", "cancelled"].includes(body.status)) return body;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Job ${id} did not finish in time`);
}

/** Polls `check` every 25 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function until(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

/** A state folder whose KV file a test opens first (to prepare records before a server starts). */
export async function stateDir(): Promise<{ dir: string; openKv: () => Promise<Deno.Kv> }> {
  const dir = await Deno.makeTempDir({ prefix: "hydit-state-" });
  await Deno.mkdir(`${dir}/kv`);
  return { dir, openKv: () => Deno.openKv(`${dir}/kv/hydit.kv`) };
}

/** Writes `dir/schedules.json` with one every-minute schedule `name` (64x64, 2 steps); returns its path. */
export async function writeSchedules(dir: string, name: string): Promise<string> {
  const path = `${dir}/schedules.json`;
  const schedule = {
    name,
    cron: "* * * * *",
    request: { prompt: "tick", size: "64x64", steps: 2 },
  };
  await Deno.writeTextFile(path, JSON.stringify({ schedules: [schedule] }));
  return path;
}

/** Submits `body` as a job and waits until it runs; returns its id. */
export async function runningJob(server: { url: string }, body: unknown): Promise<string> {
  const { body: job } = await call(server, "POST", "/v1/jobs", { body });
  await until(
    async () => (await call(server, "GET", `/v1/jobs/${job.id}`)).body.status === "running",
    30_000,
    `job ${job.id} to run`,
  );
  return job.id;
}
