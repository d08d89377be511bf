/**
 * `GET /v1/jobs/{id}/events`: Server-Sent Events `queued`, `started`, `step` (every step of a job run in
 * this process, in order, with a small PNG data URL `preview` of the picture so far), `image` (with
 * its signed link), then one of `succeeded`, `failed`, `cancelled`, after which the stream ends. A
 * draining process ends open streams with `draining` (job id, status, status URL) so clients follow
 * the job elsewhere. A job run by another process is followed by polling its KV record.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { isTerminal, type JobEvent } from "../jobs/mod.ts";
import type { App, AppDeps } from "./deps.ts";
import { baseUrl, errorResponses } from "./openapi_util.ts";
import { visibleStatus } from "./routes_jobs.ts";
import { IdParam } from "./schemas.ts";
import { imageUrl, jobView } from "./views.ts";

const POLL_MS = 500;
const KEEPALIVE_MS = 15_000;

/** Mounts the SSE route. */
export function mountEventRoutes(api: App, deps: AppDeps): void {
  api.openapi(
    createRoute({
      method: "get",
      path: "/v1/jobs/{id}/events",
      summary: "Live job events (SSE)",
      security: [{ bearer: [] }],
      request: { params: IdParam },
      responses: {
        200: {
          description: "text/event-stream of job events",
          content: {
            "text/event-stream": {
              schema: z.object({
                event: z.enum([
                  "queued",
                  "started",
                  "step",
                  "image",
                  "succeeded",
                  "failed",
                  "cancelled",
                  "draining",
                ]),
                data: z.string(),
                id: z.string(),
              }),
            },
          },
        },
        ...errorResponses(400, 401, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const owner = c.get("owner");
      await visibleStatus(deps, id, owner, { estimate: false });
      const base = baseUrl(c, deps);
      return streamSSE(c, async (stream) => {
        const pending: JobEvent[] = [];
        let wake: () => void = () => {};
        const unsubscribe = deps.jobs.subscribe(id, (event) => {
          pending.push(event);
          wake();
        });
        stream.onAbort(() => {
          unsubscribe();
          wake();
        });
        const onClosing = () => wake();
        deps.closing.addEventListener("abort", onClosing);
        let seq = 0;
        let lastStep = -1;
        let started = false;
        const send = (event: string, data: unknown) =>
          stream.writeSSE({ event, data: JSON.stringify(data), id: String(++seq) });
        const stepKey = (image: number, step: number) => image * 1_000_000 + step;
        const terminal = async () => {
          const status = await deps.jobs.view(id, owner);
          if (status) await send(status.job.state, jobView(base, status, deps.links));
        };
        try {
          // Subscribed first, so no event between this read and the stream is lost.
          const first = await deps.jobs.view(id, owner);
          if (!first) return;
          if (first.job.state === "queued") {
            const view = jobView(base, first, deps.links);
            await send("queued", { position: view.queue_position, eta_seconds: view.eta_seconds });
          }
          let lastPoll = 0;
          let lastWrite = Date.now();
          while (!stream.aborted && !deps.closing.aborted) {
            while (pending.length > 0) {
              const event = pending.shift()!;
              if (event.type === "started") {
                if (!started) await send("started", { attempt: event.attempt });
                started = true;
              } else if (event.type === "step") {
                if (stepKey(event.image, event.step) <= lastStep) continue;
                lastStep = stepKey(event.image, event.step);
                const { preview, ...step } = event;
                const url = preview ? `data:image/png;base64,${preview.toBase64()}` : null;
                await send("step", { ...step, preview: url });
              } else if (event.type === "image") {
                await send("image", {
                  index: event.index,
                  image_id: event.imageId,
                  url: imageUrl(base, event.imageId, deps.links),
                });
              } else {
                await terminal();
                return;
              }
              lastWrite = Date.now();
            }
            if (Date.now() - lastPoll >= POLL_MS) {
              lastPoll = Date.now();
              const snap = await deps.jobs.view(id, owner, { estimate: false });
              if (!snap) return;
              if (isTerminal(snap.job.state) && pending.length === 0) {
                await terminal();
                return;
              }
              if (snap.job.state === "running" && !started && pending.length === 0) {
                started = true;
                await send("started", { attempt: snap.job.attempts });
              }
              // Local events arrive before the KV progress they caused; only use KV when none wait.
              const p = snap.progress;
              const useKv = pending.length === 0 && snap.job.state === "running" && p !== null;
              if (useKv && stepKey(p.image, p.step) > lastStep) {
                lastStep = stepKey(p.image, p.step);
                await send("step", { type: "step", ...p, preview: null });
              }
            }
            if (Date.now() - lastWrite >= KEEPALIVE_MS) {
              await stream.write(": keepalive\n\n");
              lastWrite = Date.now();
            }
            if (pending.length === 0) {
              await new Promise<void>((resolve) => {
                const timer = setTimeout(resolve, POLL_MS);
                wake = () => {
                  clearTimeout(timer);
                  resolve();
                };
              });
            }
          }
          // The process is draining: say where to follow the job, and end the stream.
          if (deps.closing.aborted && !stream.aborted) {
            const status = await deps.jobs.view(id, owner, { estimate: false });
            await send("draining", {
              job_id: id,
              status: status?.job.state ?? null,
              status_url: `${base}/v1/jobs/${id}`,
            });
          }
        } finally {
          deps.closing.removeEventListener("abort", onClosing);
          unsubscribe();
        }
      });
    },
  );
}
