/**
 * Job routes: `POST /v1/jobs` (202), `GET /v1/jobs` (the key's jobs, newest first, by cursor),
 * `GET /v1/jobs/{id}` and `DELETE /v1/jobs/{id}`.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import type { JobStatus } from "../jobs/mod.ts";
import type { App, AppDeps } from "./deps.ts";
import { HttpError } from "./errors.ts";
import { baseUrl, errorResponses } from "./openapi_util.ts";
import { creationRequest, IdParam, JobListQuery, JobListSchema, JobSchema } from "./schemas.ts";
import { submitFromRequest } from "./submit.ts";
import { jobView } from "./views.ts";

/** The job's status if the caller may see it, or a 404 naming the id. */
export async function visibleStatus(
  deps: AppDeps,
  id: string,
  owner: string,
  options?: { estimate?: boolean },
): Promise<JobStatus> {
  const status = await deps.jobs.view(id, owner, options);
  if (!status) {
    throw new HttpError(404, "not_found", `No job "${id}" for this API key`, { field: "id" });
  }
  return status;
}

const security = [{ bearer: [] }];

/** Mounts the job routes. */
export function mountJobRoutes(api: App, deps: AppDeps): void {
  api.openapi(
    createRoute({
      method: "post",
      path: "/v1/jobs",
      summary: "Queue a generation job",
      security,
      request: creationRequest(deps.config, deps.model.defaults),
      responses: {
        202: {
          description: "Queued (or replayed)",
          content: { "application/json": { schema: JobSchema } },
        },
        ...errorResponses(400, 401, 408, 409, 413, 415, 429, 503),
      },
    }),
    async (c) => {
      const { job, replayed } = await submitFromRequest(
        c,
        deps,
        c.req.valid("json"),
        "jobs",
        c.req.valid("header")["idempotency-key"],
      );
      const base = baseUrl(c, deps);
      c.header("Location", `${base}/v1/jobs/${job.id}`);
      if (replayed) c.header("Idempotent-Replayed", "true");
      return c.json(
        jobView(base, await visibleStatus(deps, job.id, c.get("owner")), deps.links),
        202,
      );
    },
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/v1/jobs",
      summary: "This key's recent jobs, newest first (cursor pagination)",
      security,
      request: { query: JobListQuery },
      responses: {
        200: {
          description: "One page of jobs",
          content: { "application/json": { schema: JobListSchema } },
        },
        ...errorResponses(400, 401),
      },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const page = await deps.jobs.list(c.get("owner"), { limit: limit ?? 20, cursor });
      if (!page) {
        throw new HttpError(400, "invalid_request", "cursor: not a cursor from this listing", {
          field: "cursor",
        });
      }
      const base = baseUrl(c, deps);
      return c.json({
        object: "list" as const,
        data: page.jobs.map((status) => jobView(base, status, deps.links)),
        next_cursor: page.cursor,
      }, 200);
    },
  );

  api.openapi(
    createRoute({
      method: "get",
      path: "/v1/jobs/{id}",
      summary: "Job status, queue position, progress, ETA and results",
      security,
      request: { params: IdParam },
      responses: {
        200: { description: "The job", content: { "application/json": { schema: JobSchema } } },
        ...errorResponses(400, 401, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      return c.json(
        jobView(baseUrl(c, deps), await visibleStatus(deps, id, c.get("owner")), deps.links),
        200,
      );
    },
  );

  api.openapi(
    createRoute({
      method: "delete",
      path: "/v1/jobs/{id}",
      summary: "Cancel a job (a running job stops at its next denoising step)",
      security,
      request: { params: IdParam },
      responses: {
        202: {
          description: "Cancellation state",
          content: { "application/json": { schema: JobSchema } },
        },
        ...errorResponses(400, 401, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const owner = c.get("owner");
      const outcome = await deps.jobs.cancel(id, owner);
      if (outcome === null) {
        throw new HttpError(404, "not_found", `No job "${id}" for this API key`, { field: "id" });
      }
      deps.log("info", "job cancel", { job: id, outcome, request_id: c.get("requestId") });
      return c.json(
        jobView(baseUrl(c, deps), await visibleStatus(deps, id, owner), deps.links),
        202,
      );
    },
  );
}
