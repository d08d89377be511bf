/**
 * Operations routes: `/healthz` (alive), `/readyz` (model loaded and warmed, queue state), `/metrics`
 * (Prometheus text), `GET /v1/models` (the model and its request defaults) and `GET /v1/schedules`
 * (schedules with last and next run).
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { App, AppDeps } from "./deps.ts";
import { errorResponses } from "./openapi_util.ts";
import { requestEcho } from "./params.ts";
import { defaultSize, ModelsSchema, ReadySchema, SchedulesSchema } from "./schemas.ts";

/** Mounts the operations routes. */
export function mountOpsRoutes(api: App, deps: AppDeps): void {
  api.openapi(
    createRoute({
      method: "get",
      path: "/healthz",
      summary: "Liveness",
      responses: {
        200: {
          description: "Alive",
          content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } },
        },
      },
    }),
    (c) => c.json({ status: "ok" as const }, 200),
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/readyz",
      summary: "Readiness: model loaded and warmed, not draining",
      responses: {
        200: { description: "Ready", content: { "application/json": { schema: ReadySchema } } },
        503: { description: "Not ready", content: { "application/json": { schema: ReadySchema } } },
      },
    }),
    async (c) => {
      const info = deps.generatorInfo();
      const phase = deps.phase();
      const depth = await deps.jobs.queueDepth();
      const body = {
        ready: phase === "ready",
        status: phase,
        backend: info?.backend ?? null,
        model_version: info?.modelVersion ?? null,
        precision: info?.precision ?? null,
        sizes: info?.sizes ?? null,
        queue_depth: depth,
        queue_limit: deps.config.queueDepth,
        concurrency: deps.config.concurrency,
        step_seconds: deps.jobs.stepSeconds() || null,
        error: deps.startupError(),
      };
      return phase === "ready" ? c.json(body, 200) : c.json(body, 503);
    },
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/metrics",
      summary: "Prometheus metrics",
      responses: {
        200: {
          description: "Prometheus text format",
          content: { "text/plain": { schema: z.string() } },
        },
      },
    }),
    async (c) =>
      c.text(await deps.registry.render(), 200, {
        "Content-Type": "text/plain; version=0.0.4; charset=utf-8",
      }),
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/v1/models",
      summary: "The served model: what a request gets for the fields it leaves out, trained sizes",
      security: [{ bearer: [] }],
      responses: {
        200: { description: "Models", content: { "application/json": { schema: ModelsSchema } } },
        ...errorResponses(401),
      },
    }),
    (c) => {
      const { name, description, defaults, sizes } = deps.model;
      return c.json({
        object: "list" as const,
        data: [{
          id: name,
          object: "model" as const,
          description,
          defaults: {
            size: defaultSize(deps.config, defaults),
            steps: defaults.steps,
            guidance_scale: defaults.guidanceScale,
            sampler: defaults.sampler,
          },
          sizes: sizes.map((s) => `${s.width}x${s.height}`),
        }],
      }, 200);
    },
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/v1/schedules",
      summary: "Configured schedules with last and next run",
      security: [{ bearer: [] }],
      responses: {
        200: {
          description: "Schedules",
          content: { "application/json": { schema: SchedulesSchema } },
        },
        ...errorResponses(401),
      },
    }),
    async (c) => {
      const data = (await deps.jobs.listSchedules()).map(({ schedule, lastRun, nextRun }) => ({
        name: schedule.name,
        cron: schedule.cron,
        next_run: nextRun ? nextRun.toISOString() : null,
        last_run: lastRun
          ? {
            slot: new Date(lastRun.lastSlot).toISOString(),
            at: new Date(lastRun.lastRunAt).toISOString(),
            status: lastRun.status,
            tries: lastRun.tries,
            job_id: lastRun.lastJobId,
            error: lastRun.error ?? null,
          }
          : null,
        request: requestEcho(schedule.params),
        webhook: schedule.webhook !== undefined,
      }));
      return c.json({ data }, 200);
    },
  );
}
