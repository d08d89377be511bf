/**
 * The synchronous, OpenAI-compatible `POST /v1/images/generations`: queues the job, waits on it
 * in-process (images arrive with its events, so nothing is read back from disk), and answers with
 * the images inline or as links; 202 with the job when it takes longer than `HYDIT_SYNC_WAIT_S`.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { isTerminal, type JobRecord } from "../jobs/mod.ts";
import type { App, AppDeps } from "./deps.ts";
import { HttpError } from "./errors.ts";
import { baseUrl, errorResponses } from "./openapi_util.ts";
import { visibleStatus } from "./routes_jobs.ts";
import { creationRequest, GenerationResponseSchema, JobSchema } from "./schemas.ts";
import { imageGone } from "./routes_images.ts";
import { submitFromRequest } from "./submit.ts";
import { imageUrl, jobView } from "./views.ts";

/** The response's `data`: each image inline (from the wait, else the results store) or as a link. */
async function imageData(
  deps: AppDeps,
  job: JobRecord,
  owner: string,
  how: { inline: boolean; base: string; bytes: ReadonlyMap<string, Uint8Array> },
) {
  const data = [];
  for (const ref of job.images) {
    const item = { seed: ref.seed, width: ref.width, height: ref.height };
    if (!how.inline) {
      data.push({ ...item, url: imageUrl(how.base, ref.id, deps.links) });
      continue;
    }
    let bytes = how.bytes.get(ref.id);
    if (!bytes) {
      const image = await deps.jobs.readImage(ref.id, owner);
      if (!image) throw new HttpError(404, "not_found", `Image ${ref.id} has expired`);
      bytes = await image.read() ?? undefined;
      if (!bytes) throw imageGone(ref.id);
    }
    data.push({ ...item, b64_json: bytes.toBase64() });
  }
  return data;
}

/** Mounts the synchronous generation route. */
export function mountGenerationRoutes(api: App, deps: AppDeps): void {
  api.openapi(
    createRoute({
      method: "post",
      path: "/v1/images/generations",
      summary:
        "Generate images and wait (OpenAI-compatible); 202 with the job if it takes too long",
      security: [{ bearer: [] }],
      request: creationRequest(deps.config, deps.model.defaults),
      responses: {
        200: {
          description: "Generated",
          content: { "application/json": { schema: GenerationResponseSchema } },
        },
        202: {
          description: "Still running after HYDIT_SYNC_WAIT_S; poll the job",
          content: { "application/json": { schema: JobSchema } },
        },
        ...errorResponses(400, 401, 408, 409, 410, 413, 415, 429, 500, 503),
      },
    }),
    async (c) => {
      const request = c.req.valid("json");
      const owner = c.get("owner");
      const { job: submitted } = await submitFromRequest(
        c,
        deps,
        request,
        "generations",
        c.req.valid("header")["idempotency-key"],
      );
      const base = baseUrl(c, deps);
      const { job, images } = await deps.jobs.wait(submitted.id, {
        timeoutMs: deps.config.syncWaitS * 1000,
        // The client went away, or the process is draining (then 202: poll the job elsewhere).
        signal: AbortSignal.any([c.req.raw.signal, deps.closing]),
      });
      if (!job || !isTerminal(job.state)) {
        c.header("Location", `${base}/v1/jobs/${submitted.id}`);
        return c.json(
          jobView(base, await visibleStatus(deps, submitted.id, owner), deps.links),
          202,
        );
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
      const finished = job.finishedAt ?? Date.now();
      return c.json({
        created: Math.floor(job.createdAt / 1000),
        data: await imageData(deps, job, owner, { inline, base, bytes: images }),
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
