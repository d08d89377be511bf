/**
 * Shared by both creation endpoints: readiness, the request's generation parameters, the webhook
 * checks (signing secret, a public or allowed target), idempotency, memory admission of the size
 * (413), and the HTTP answer to each submission outcome (409, 429 with Retry-After for a full queue
 * or a key over its share).
 *
 * @module
 */
import type { Context } from "hono";
import { hex } from "../bytes.ts";
import {
  checkWebhookTarget,
  type JobRecord,
  memoryRefusal,
  parseWebhookAllow,
} from "../jobs/mod.ts";
import type { AppDeps, AppEnv } from "./deps.ts";
import { HttpError } from "./errors.ts";
import { baseUrl } from "./openapi_util.ts";
import { toParams } from "./params.ts";
import type { GenerationRequest } from "./schemas.ts";

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Hex SHA-256 of the body in canonical JSON (key order does not matter). */
export async function bodyHash(body: unknown): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical(body))));
}

/** Refuses new work unless the service is ready. */
export function requireReady(deps: AppDeps): void {
  const phase = deps.phase();
  if (phase !== "ready") {
    const why = {
      starting: "Service is starting (loading and warming the engines): retry later",
      draining: "Service is shutting down: retry on another replica or later",
      failed: "Service failed to load its engines: see GET /readyz for the error",
    }[phase];
    throw new HttpError(503, "not_ready", why, {
      headers: { "Retry-After": phase === "draining" ? "30" : "5" },
    });
  }
}

/** Submits a job for the request; returns it and whether it was an idempotent replay. */
export async function submitFromRequest(
  c: Context<AppEnv>,
  deps: AppDeps,
  body: GenerationRequest,
  scope: string,
  idempotencyKey: string | undefined,
): Promise<{ job: JobRecord; replayed: boolean }> {
  requireReady(deps);
  const parsed = toParams(body, deps.config, deps.model.defaults);
  const tooLarge = deps.memory &&
    memoryRefusal(deps.memory, parsed.params.width, parsed.params.height);
  if (tooLarge) throw new HttpError(413, "image_too_large", tooLarge.message, { field: "size" });
  if (parsed.webhook !== undefined && deps.config.webhookSecret === "") {
    throw new HttpError(
      400,
      "webhooks_disabled",
      "Webhooks are off: set HYDIT_WEBHOOK_SECRET on the server",
      { field: "webhook_url" },
    );
  }
  if (parsed.webhook !== undefined) {
    const target = await checkWebhookTarget(
      parsed.webhook,
      parseWebhookAllow(deps.config.webhookAllow),
    );
    if (!target.ok) {
      throw new HttpError(400, "webhook_refused", `webhook_url: ${target.reason}`, {
        field: "webhook_url",
      });
    }
  }
  const result = await deps.jobs.submit({
    owner: c.get("owner"),
    params: parsed.params,
    origin: baseUrl(c, deps),
    ...(parsed.webhook ? { webhookUrl: parsed.webhook } : {}),
    ...(idempotencyKey
      ? {
        idempotency: {
          key: `${scope}:${idempotencyKey}`,
          bodyHash: await bodyHash(c.get("jsonBody")),
        },
      }
      : {}),
  });
  switch (result.kind) {
    case "conflict":
      throw new HttpError(
        409,
        "idempotency_conflict",
        `Idempotency-Key was already used with a different body (job ${result.jobId}): use a new key`,
      );
    case "full":
      throw new HttpError(
        429,
        "queue_full",
        `Queue is full (${result.depth} jobs): retry after ${result.retryAfterSeconds} s`,
        { headers: { "Retry-After": String(result.retryAfterSeconds) } },
      );
    case "owner_full":
      throw new HttpError(
        429,
        "key_queue_full",
        `This API key has ${result.queued} jobs queued or running, its limit ` +
          `(HYDIT_QUEUE_PER_KEY=${result.limit}): retry after ${result.retryAfterSeconds} s`,
        { headers: { "Retry-After": String(result.retryAfterSeconds) } },
      );
    case "replayed":
      return { job: result.job, replayed: true };
    case "created":
      deps.log("info", "job queued", {
        job: result.job.id,
        request_id: c.get("requestId"),
        ...(body.user !== undefined ? { user: body.user } : {}),
      });
      return { job: result.job, replayed: false };
  }
}
