/**
 * Job routes: `POST /v1/jobs` (202), `GET /v1/jobs/{id}`, `DELETE /v1/jobs/{id}` and the synchronous,
 * OpenAI-compatible `POST /v1/images/generations`.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { encodeBase64 } from "./base64.ts";
import { estimate } from "../jobs/estimate.ts";
import { isTerminal, type JobRecord, queueValue } from "../jobs/job.ts";
import { pendingWork, workOf } from "../jobs/pending.ts";
import { cancelJob, getJob, getJobSnapshot } from "../jobs/store.ts";
import type { App, AppDeps } from "./deps.ts";
import { HttpError } from "./errors.ts";
import { baseUrl, errorResponses } from "./openapi_util.ts";
import {
  generationRequestSchema,
  GenerationResponseSchema,
  IdempotencyHeader,
  IdParam,
  JobSchema,
} from "./schemas.ts";
import { submitFromRequest } from "./submit.ts";
import { imageUrl, jobView } from "./views.ts";
import { waitForJob } from "./wait.ts";

/** Reads a job visible to the caller, or throws 404. */
export async function visibleJob(deps: AppDeps, id: string, owner: string): Promise<JobRecord> {
  const job = await getJob(deps.kv, id);
  if (!job || (job.owner !== owner && job.owner !== "*")) {
    throw new HttpError(404, "not_found", `No job "${id}" for this API key`, { field: "id" });
  }
  return job;
}

/**
 * The API view of a job with a fresh queue estimate, which reads only the queue entries ahead of the
 * job (not the whole queue, and no other job records).
 */
export async function currentView(deps: AppDeps, base: string, id: string) {
  const snap = await getJobSnapshot(deps.kv, id);
  if (!snap) throw new HttpError(404, "not_found", `No job "${id}"`, { field: "id" });
  const { job, progress } = snap;
  const est = isTerminal(job.state)
    ? { position: null, etaSeconds: null }
    : estimate([...await pendingWork(deps.kv, job), workOf(queueValue(job), progress)], id, {
      stepSeconds: deps.worker.stepSeconds(),
      concurrency: deps.config.concurrency,
    });
  return jobView(base, job, progress, est);
}

const security = [{ bearer: [] }];

/** Mounts the job routes. */
export function mountJobRoutes(api: App, deps: AppDeps): void {
  const body = {
    required: true,
    content: { "application/json": { schema: generationRequestSchema(deps.config) } },
  };

  api.openapi(
    createRoute({
      method: "post",
      path: "/v1/jobs",
      summary: "Queue a generation job",
      security,
      request: { body, headers: IdempotencyHeader },
      responses: {
        202: {
          description: "Queued (or replayed)",
          content: { "application/json": { schema: JobSchema } },
        },
        ...errorResponses(400, 401, 409, 413, 415, 429, 503),
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
      return c.json(await currentView(deps, base, job.id), 202);
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
      await visibleJob(deps, id, c.get("owner"));
      return c.json(await currentView(deps, baseUrl(c, deps), id), 200);
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
      await visibleJob(deps, id, c.get("owner"));
      const outcome = await cancelJob(deps.kv, id, deps.config.retentionS * 1000);
      if (outcome === "requested") deps.worker.cancelLocal(id);
      if (outcome === "cancelled") deps.onFinished();
      deps.log("info", "job cancel", { job: id, outcome, request_id: c.get("requestId") });
      return c.json(await currentView(deps, baseUrl(c, deps), id), 202);
    },
  );

  api.openapi(
    createRoute({
      method: "post",
      path: "/v1/images/generations",
      summary:
        "Generate images and wait (OpenAI-compatible); 202 with the job if it takes too long",
      security,
      request: { body, headers: IdempotencyHeader },
      responses: {
        200: {
          description: "Generated",
          content: { "application/json": { schema: GenerationResponseSchema } },
        },
        202: {
          description: "Still running after HYDIT_SYNC_WAIT_S; poll the job",
          content: { "application/json": { schema: JobSchema } },
        },
        ...errorResponses(400, 401, 409, 413, 415, 429, 500, 503),
      },
    }),
    async (c) => {
      const request = c.req.valid("json");
      const { job: submitted } = await submitFromRequest(
        c,
        deps,
        request,
        "generations",
        c.req.valid("header")["idempotency-key"],
      );
      const base = baseUrl(c, deps);
      const job = await waitForJob(
        deps,
        submitted.id,
        deps.config.syncWaitS * 1000,
        c.req.raw.signal,
      );
      if (!job || !isTerminal(job.state)) {
        c.header("Location", `${base}/v1/jobs/${submitted.id}`);
        return c.json(await currentView(deps, base, submitted.id), 202);
      }
      if (job.state === "failed") {
        throw new HttpError(
          500,
          job.error?.code ?? "generation_failed",
          job.error?.message ?? "Generation failed",
        );
      }
      if (job.state === "cancelled") {
        throw new HttpError(409, "cancelled", `Job ${job.id} was cancelled before it finished`);
      }
      const inline = (request.response_format ?? "b64_json") === "b64_json";
      const data = [];
      for (const ref of job.images) {
        const item = { seed: ref.seed, width: ref.width, height: ref.height };
        if (inline) {
          const bytes = await deps.results.read(ref.id, ref.format);
          if (!bytes) throw new HttpError(404, "not_found", `Image ${ref.id} has expired`);
          data.push({ ...item, b64_json: encodeBase64(bytes) });
        } else {
          data.push({ ...item, url: imageUrl(base, ref.id) });
        }
      }
      const finished = job.finishedAt ?? Date.now();
      return c.json({
        created: Math.floor(job.createdAt / 1000),
        data,
        job_id: job.id,
        seed: job.params.seed,
        output_format: job.params.outputFormat,
        timings: {
          queue_ms: (job.startedAt ?? finished) - job.createdAt,
          generation_ms: Math.round(job.generationMs ?? 0),
          total_ms: finished - job.createdAt,
          step_seconds: job.stepSeconds ?? null,
        },
      }, 200);
    },
  );
}
