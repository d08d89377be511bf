/**
 * What the HTTP layer needs from the rest of the service, as one object built in `service.ts`.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Config } from "../config.ts";
import type { JobEvents } from "../jobs/events.ts";
import type { GeneratorInfo } from "../jobs/generator.ts";
import type { Log } from "../log.ts";
import type { ResultsStore } from "../jobs/results.ts";
import type { Schedule } from "../jobs/schedules.ts";
import type { Authenticator } from "./auth.ts";
import type { Registry } from "./metrics.ts";

/** Lifecycle of the process as `/readyz` reports it. */
export type Phase = "starting" | "ready" | "draining" | "failed";

/** The parts of the worker the routes use. */
export interface WorkerHandle {
  wake(): void;
  cancelLocal(jobId: string): boolean;
  stepSeconds(): number;
}

/** Dependencies of the app. */
export interface AppDeps {
  config: Config;
  kv: Deno.Kv;
  results: ResultsStore;
  events: JobEvents;
  worker: WorkerHandle;
  auth: Authenticator;
  log: Log;
  registry: Registry;
  schedules: readonly Schedule[];
  /** The loaded model, or null while starting. */
  generatorInfo: () => GeneratorInfo | null;
  phase: () => Phase;
  /** Why startup failed, if it did. */
  startupError: () => string | null;
  /** Called when a job was finished by the HTTP layer itself (cancel before it ran). */
  onFinished: () => void;
}

/** Per-request variables set by middleware. */
export type AppEnv = { Variables: { requestId: string; owner: string; jsonBody: unknown } };

/** The app type routes are mounted on. */
export type App = OpenAPIHono<AppEnv>;
