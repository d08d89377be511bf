/**
 * What the HTTP layer needs from the rest of the service, as one object built in lib/service.ts:
 * the `Jobs` facade for everything about jobs, and the process state `/readyz` reports.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Config } from "../config.ts";
import type { ModelCard } from "../diffusion/mod.ts";
import type { GeneratorInfo, Jobs, MemoryPolicy } from "../jobs/mod.ts";
import type { Log } from "../log.ts";
import type { Authenticator } from "./auth.ts";
import type { LinkSigner } from "./links.ts";
import type { Registry } from "./metrics.ts";

/** Lifecycle of the process as `/readyz` reports it. */
export type Phase = "starting" | "ready" | "draining" | "failed";

/** Dependencies of the app. */
export interface AppDeps {
  config: Config;
  /** The served model's name, defaults and sizes (from its engine manifest). */
  model: ModelCard;
  jobs: Jobs;
  auth: Authenticator;
  /** Signs the image links of responses and checks signed image requests. */
  links: LinkSigner;
  log: Log;
  registry: Registry;
  /** The loaded model, or null while starting. */
  generatorInfo: () => GeneratorInfo | null;
  phase: () => Phase;
  /** Why startup failed, if it did. */
  startupError: () => string | null;
  /** Aborted at the end of a drain: open SSE streams send `draining` and end, sync waits answer 202. */
  closing: AbortSignal;
  /** Memory admission of image sizes; absent, every size within the limits is accepted. */
  memory?: MemoryPolicy;
}

/** Per-request variables set by middleware. */
export type AppEnv = { Variables: { requestId: string; owner: string; jsonBody: unknown } };

/** The app type routes are mounted on. */
export type App = OpenAPIHono<AppEnv>;
