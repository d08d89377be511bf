/**
 * `createApp` in-process over a fake `Jobs`: requests go through `app.request()` (no port), log
 * records are kept, and the process state (phase, model info) is set by the test.
 */
import { type Config, loadConfig } from "../../lib/config.ts";
import { deriveModelSpec, type ModelCard, toModelCard } from "../../lib/diffusion/mod.ts";
import { createApp } from "../../lib/http/app.ts";
import { createAuthenticator } from "../../lib/http/auth.ts";
import { createLinkSigner } from "../../lib/http/links.ts";
import type { App, Phase } from "../../lib/http/deps.ts";
import { createRegistry } from "../../lib/http/metrics.ts";
import type { GeneratorInfo } from "../../lib/jobs/generator.ts";
import { resolveBudgetMiB } from "../../lib/jobs/memory.ts";
import { createLogger } from "../../lib/log.ts";
import { type CallOptions, requestInit } from "../service/_harness.ts";
import { type FakeJobs, fakeJobs } from "./_fake_jobs.ts";

/** The two API keys every test app accepts. */
export const KEY_A = "test-key-alpha-0001";
export const KEY_B = "test-key-bravo-0002";

/** A test app and what it runs over. */
export interface TestApp {
  app: App;
  jobs: FakeJobs;
  config: Config;
  /** Parsed log records so far. */
  logs: Record<string, unknown>[];
  /** The process state `/readyz` reports; change it freely. */
  state: { phase: Phase; info: GeneratorInfo | null; error: string | null };
  /** Aborting it is what the end of a drain does to open streams and waits. */
  closing: AbortController;
  /** The owner id of an API key. */
  owner(key: string): Promise<string>;
  /** A request with `key` as bearer token and `body` as JSON (when given). */
  call(method: string, path: string, options?: CallOptions): Promise<Response>;
}

/**
 * Builds the app over a fresh fake; `env` overrides the `HYDIT_*` settings, `model` the card of a
 * real checkpoint without serving.json (1024x1024, 50 DDPM steps, guidance 5).
 */
export async function testApp(
  env: Record<string, string> = {},
  model: ModelCard = toModelCard(deriveModelSpec("hunyuandit", {})),
): Promise<TestApp> {
  const vars: Record<string, string> = {
    HYDIT_API_KEYS: `${KEY_A},${KEY_B}`,
    HYDIT_MIN_SIDE: "64",
    HYDIT_MAX_SIDE: "256",
    ...env,
  };
  const config = loadConfig([], (name) => vars[name]);
  const auth = await createAuthenticator(config.apiKeys);
  const jobs = fakeJobs();
  const logs: Record<string, unknown>[] = [];
  const state: TestApp["state"] = {
    phase: "ready",
    info: { backend: "onnx", modelVersion: "v1.2", precision: "fp32", sizes: { min: 64 } },
    error: null,
  };
  const closing = new AbortController();
  const app = createApp({
    config,
    model,
    jobs,
    auth,
    links: createLinkSigner(config.linkSecret || "test-link-secret", config.linkTtlS),
    log: createLogger("debug", (line) => logs.push(JSON.parse(line))),
    registry: createRegistry(),
    generatorInfo: () => state.info,
    phase: () => state.phase,
    startupError: () => state.error,
    closing: closing.signal,
    memory: {
      budgetMiB: resolveBudgetMiB(config.memoryBudgetMb),
      concurrency: config.concurrency,
      onnxWeightsMiB: 0,
      backend: () => state.info?.backend ?? null,
    },
  });
  return {
    app,
    jobs,
    config,
    logs,
    state,
    closing,
    owner: async (key) => (await auth.verify(`Bearer ${key}`))!,
    call: (method, path, options) =>
      Promise.resolve(app.request(path, requestInit(method, options))),
  };
}
