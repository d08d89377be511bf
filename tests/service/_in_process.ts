/**
 * The real service (lib/service.ts, as main.ts starts it) inside the test process: its own KV file
 * and results folder, the real ONNX pipeline on worker threads (or a given generator), and a real
 * HTTP server on a free loopback port. For the cases that need no second process and no signal.
 */
import { loadConfig } from "../../lib/config.ts";
import { deriveModelSpec, toModelCard } from "../../lib/diffusion/mod.ts";
import type { ImageGenerator } from "../../lib/jobs/generator.ts";
import { createLogger } from "../../lib/log.ts";
import { startService } from "../../lib/service.ts";
import { testEngines } from "./_harness.ts";

/** A service running in this process. */
export interface InProcessServer {
  url: string;
  /** Folder holding kv/ and results/. */
  dir: string;
  /** Parsed log records so far. */
  records(): Record<string, unknown>[];
  /** Drains the service (as SIGTERM does) and removes its folder unless it was given. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startInProcess}. */
export interface InProcessOptions {
  /** Reuse a state folder (kept on stop). */
  dir?: string;
  /** `HYDIT_*` settings over the test defaults. */
  env?: Record<string, string>;
  /** A generator instead of the real pipeline. */
  generator?: ImageGenerator;
  /** Wait until /readyz says ready. @default true */
  waitReady?: boolean;
}

/** Starts the service in-process and waits until it is ready. */
export async function startInProcess(options: InProcessOptions = {}): Promise<InProcessServer> {
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "hydit-inproc-" });
  const vars: Record<string, string> = {
    HYDIT_PORT: "0",
    HYDIT_HOST: "127.0.0.1",
    HYDIT_KV_PATH: `${dir}/kv/hydit.kv`,
    HYDIT_RESULTS_DIR: `${dir}/results`,
    HYDIT_ENGINES: options.generator ? "unused" : await testEngines(),
    HYDIT_MIN_SIDE: "64",
    HYDIT_MAX_SIDE: "256",
    HYDIT_WARMUP_STEPS: "1",
    HYDIT_POLL_MS: "200",
    ...options.env,
  };
  const config = loadConfig([], (name) => vars[name]);
  const logs: Record<string, unknown>[] = [];
  const generator = options.generator;
  const service = await startService(config, {
    log: createLogger("debug", (line) => logs.push(JSON.parse(line))),
    ...(generator
      ? {
        loadGenerator: () => Promise.resolve(generator),
        model: toModelCard(deriveModelSpec("fake", {})),
      }
      : {}),
  });
  const server: InProcessServer = {
    url: `http://127.0.0.1:${service.addr.port}`,
    dir,
    records: () => logs,
    async stop() {
      await service.shutdown();
      if (!options.dir) await Deno.remove(dir, { recursive: true });
    },
  };
  if (options.waitReady ?? true) {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const body = await (await fetch(`${server.url}/readyz`)).json();
      if (body.ready) break;
      if (body.status === "failed" || Date.now() > deadline) {
        await server.stop();
        throw new Error(`Service did not become ready: ${JSON.stringify(body)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return server;
}
