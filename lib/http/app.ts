/**
 * The Hono app: request ids and structured access logs, metrics, bearer auth on `/v1/*`, the JSON body
 * gate, every route, one error renderer, and the OpenAPI document at `/openapi.json`.
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { allowedMethods } from "./allow.ts";
import { jsonBody } from "./body.ts";
import type { App, AppDeps, AppEnv } from "./deps.ts";
import { errorBody, errorResponse, HttpError, validationError } from "./errors.ts";
import { parseHost } from "./host.ts";
import { isSignedImageRequest } from "./links.ts";
import { mountEventRoutes } from "./sse.ts";
import { mountGenerationRoutes } from "./routes_generations.ts";
import { mountImageRoutes } from "./routes_images.ts";
import { mountJobRoutes } from "./routes_jobs.ts";
import { mountOpsRoutes } from "./routes_ops.ts";
import { mountWebRoutes } from "./routes_web.ts";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Builds the app over its dependencies. */
export function createApp(deps: AppDeps): App {
  const requests = deps.registry.counter(
    "hydit_http_requests_total",
    "HTTP requests by route, method and status",
  );
  const latency = deps.registry.histogram(
    "hydit_http_request_seconds",
    "HTTP request latency (time to response headers)",
    [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300],
  );

  const api: App = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error);
    },
  });

  api.use("*", async (c, next) => {
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set("requestId", requestId);
    const started = performance.now();
    await next();
    c.header("X-Request-Id", requestId);
    const seconds = (performance.now() - started) / 1000;
    const route = c.req.routePath && c.req.routePath !== "/*" && c.req.routePath !== "*"
      ? c.req.routePath
      : "unmatched";
    requests.inc({ route, method: c.req.method, status: String(c.res.status) });
    latency.observe(seconds);
    deps.log("info", "request", {
      request_id: requestId,
      method: c.req.method,
      path: c.req.path,
      route,
      status: c.res.status,
      ms: Math.round(seconds * 1000),
      owner: c.get("owner"),
    });
  });

  // The request URL and every link are built from Host: refuse a malformed one before any route.
  api.use("*", async (c, next) => {
    const host = c.req.header("host");
    const parsed = host === undefined ? null : parseHost(host);
    if (parsed && !parsed.ok) {
      const shown = JSON.stringify(host!.slice(0, 100));
      throw new HttpError(400, "invalid_host", `Host header ${shown}: ${parsed.reason}`, {
        field: "Host",
      });
    }
    await next();
  });

  api.use("/v1/*", async (c, next) => {
    // A signed image link carries its own authorization; the image route checks it.
    if (isSignedImageRequest(c.req.method, c.req.url)) return await next();
    const owner = await deps.auth.verify(c.req.header("authorization"));
    if (owner === null) {
      throw new HttpError(
        401,
        "unauthorized",
        "Send a valid API key as Authorization: Bearer <key>",
        {
          headers: { "WWW-Authenticate": 'Bearer realm="hydit"' },
        },
      );
    }
    c.set("owner", owner);
    await next();
  });

  const body = jsonBody(deps.config.bodyLimit, deps.config.bodyTimeoutMs);
  api.on("POST", ["/v1/jobs", "/v1/images/generations"], body);

  mountOpsRoutes(api, deps);
  mountJobRoutes(api, deps);
  mountGenerationRoutes(api, deps);
  mountEventRoutes(api, deps);
  mountImageRoutes(api, deps);
  mountWebRoutes(api);

  api.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
  });
  api.doc("/openapi.json", {
    openapi: "3.0.3",
    info: {
      title: "HunyuanDiT service",
      version: "1.0.0",
      description:
        "Text-to-image generation with HunyuanDiT: synchronous, jobs, SSE progress, schedules.",
    },
  });

  // A path some route serves, asked with another method: 405 with the methods it accepts.
  const allowed = allowedMethods(api.routes);
  api.notFound((c) => {
    const path = c.req.path;
    const methods = allowed(path);
    if (methods.length === 0) {
      return c.json(errorBody("not_found", `No route for ${c.req.method} ${path}`), 404);
    }
    c.header("Allow", methods.join(", "));
    return c.json(
      errorBody(
        "method_not_allowed",
        `${c.req.method} is not allowed on ${path}: use ${methods.join(", ")}`,
      ),
      405,
    );
  });

  api.onError((error, c) => {
    if (error instanceof HttpError) return errorResponse(c, error);
    if (error instanceof HTTPException && error.status < 500) {
      return errorResponse(
        c,
        new HttpError(error.status as ContentfulStatusCode, "bad_request", error.message),
      );
    }
    deps.log("error", "unhandled error", {
      request_id: c.get("requestId"),
      error: error instanceof Error ? error.stack ?? error.message : String(error),
    });
    return c.json(
      errorBody("internal", "Internal error; see the server log with this X-Request-Id"),
      500,
    );
  });

  return api;
}
