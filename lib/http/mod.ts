/**
 * The HTTP API (Hono with zod/OpenAPI): `createApp` over its dependencies (the `Jobs` facade, auth,
 * metrics registry, process state), the request schema and its parsing into generation
 * parameters, the API's error type, and the job view used by webhooks too.
 *
 * @module
 */
export { createApp } from "./app.ts";
export { type ConnTimeouts, type GuardedServer, serveGuarded } from "./conn_guard.ts";
export { type Authenticator, createAuthenticator } from "./auth.ts";
export type { App, AppDeps, AppEnv, Phase } from "./deps.ts";
export { createLinkSigner, type LinkSigner } from "./links.ts";
export { HttpError, validationError } from "./errors.ts";
export {
  type Counter,
  createRegistry,
  type Gauge,
  type Histogram,
  type Registry,
} from "./metrics.ts";
export { toParams } from "./params.ts";
export { type GenerationRequest, generationRequestSchema, type Limits } from "./schemas.ts";
export { jobView, webhookBody } from "./views.ts";
