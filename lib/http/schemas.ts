/**
 * Request and response schemas (zod, with OpenAPI metadata). Request objects are strict: unknown
 * fields are rejected. Bounds that depend on configuration come from {@linkcode Limits}.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import { binResolution, type ModelDefaults, SAMPLERS } from "../diffusion/mod.ts";
import { IMAGE_FORMATS } from "../image/mod.ts";
import { webhookUrlProblem } from "../jobs/mod.ts";

/** Configured bounds of a generation request. */
export interface Limits {
  maxPromptChars: number;
  minSide: number;
  maxSide: number;
}

/** Largest seed: 2^53 - 1. */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;

const SIZE_PATTERN = /^[1-9][0-9]{1,3}x[1-9][0-9]{1,3}$/;

/** The size used when a request names none: the model's, each side clamped to the configured sides. */
export function defaultSize(limits: Limits, defaults: ModelDefaults): string {
  const clamp = (side: number) =>
    Math.floor(Math.min(Math.max(side, limits.minSide), limits.maxSide) / 16) * 16;
  return `${clamp(defaults.width)}x${clamp(defaults.height)}`;
}

/** Parses "WxH" into numbers (the pattern has been checked). */
export function parseSize(size: string): { width: number; height: number } {
  const [width, height] = size.split("x").map(Number);
  return { width, height };
}

/**
 * The body of `POST /v1/jobs` and `POST /v1/images/generations`; `defaults` (the model's) fill the
 * fields a request leaves out and are stated in the OpenAPI descriptions.
 */
export function generationRequestSchema(limits: Limits, defaults: ModelDefaults) {
  return z.strictObject({
    prompt: z.string().min(1).max(limits.maxPromptChars)
      .openapi({ description: "What to draw (Chinese or English)." }),
    negative_prompt: z.string().max(limits.maxPromptChars).optional()
      .openapi({ description: "What to avoid. Default: empty." }),
    n: z.number().int().min(1).max(4).optional()
      .openapi({ description: "Images to generate; image i uses (seed + i) mod 2^53. Default 1." }),
    size: z.string().regex(SIZE_PATTERN).optional().superRefine((size, ctx) => {
      if (size === undefined) return;
      for (const [name, side] of Object.entries(parseSize(size))) {
        if (side % 16 !== 0 || side < limits.minSide || side > limits.maxSide) {
          ctx.addIssue({
            code: "custom",
            message:
              `${name} ${side} must be a multiple of 16 between ${limits.minSide} and ${limits.maxSide}`,
          });
          return;
        }
      }
    }).openapi({
      description:
        `"WIDTHxHEIGHT", each a multiple of 16 in ${limits.minSide}..${limits.maxSide}. Default ${
          defaultSize(limits, defaults)
        }.`,
      example: "1024x1024",
    }),
    response_format: z.enum(["b64_json", "url"]).optional()
      .openapi({
        description: "Synchronous endpoint only: inline base64 or a link. Default b64_json.",
      }),
    output_format: z.enum(IMAGE_FORMATS).optional()
      .openapi({ description: "Image encoding. Default png." }),
    steps: z.number().int().min(1).max(200).optional()
      .openapi({ description: `Denoising steps. Default ${defaults.steps}.` }),
    guidance_scale: z.number().min(0).max(30).optional()
      .openapi({
        description: `Classifier-free guidance scale. Default ${defaults.guidanceScale}.`,
      }),
    guidance_rescale: z.number().min(0).max(1).optional()
      .openapi({ description: "Guidance rescale factor. Default 0." }),
    seed: z.number().int().min(0).max(MAX_SEED).optional()
      .openapi({
        description: "Seed of the first image. Default: random, echoed in the response.",
      }),
    sampler: z.enum(SAMPLERS).optional()
      .openapi({ description: `Scheduler. Default ${defaults.sampler}.` }),
    resolution_binning: z.boolean().optional()
      .openapi({
        description: "Snap the size to the closest of the 10 trained sizes. Default false.",
      }),
    webhook_url: z.string().max(2048).url().optional().superRefine((url, ctx) => {
      const problem = url === undefined ? null : webhookUrlProblem(url);
      if (problem) ctx.addIssue({ code: "custom", message: `webhook_url ${problem}` });
    }).openapi({
      description:
        "Receives a signed POST when the job ends: http(s), no credentials, a public address " +
        "(or one allowed by HYDIT_WEBHOOK_ALLOW).",
    }),
    model: z.string().max(128).optional()
      .openapi({ description: "Accepted for OpenAI compatibility and ignored." }),
    user: z.string().max(256).optional()
      .openapi({ description: "Accepted for OpenAI compatibility and logged." }),
  }).superRefine((body, ctx) => {
    if (!body.resolution_binning) return;
    // Binning snaps to the trained sizes (768..1280); they must fit the configured sides too.
    const binned = binResolution(parseSize(body.size ?? defaultSize(limits, defaults)));
    for (const side of [binned.width, binned.height]) {
      if (side < limits.minSide || side > limits.maxSide) {
        ctx.addIssue({
          code: "custom",
          path: ["resolution_binning"],
          message:
            `binning maps the size to ${binned.width}x${binned.height}, outside ${limits.minSide}..${limits.maxSide}`,
        });
        return;
      }
    }
  }).openapi("GenerationRequest");
}

/** The request of both creation routes: the generation body and the optional `Idempotency-Key`. */
export function creationRequest(limits: Limits, defaults: ModelDefaults) {
  return {
    body: {
      required: true,
      content: { "application/json": { schema: generationRequestSchema(limits, defaults) } },
    },
    headers: IdempotencyHeader,
  };
}

/** The validated request type. */
export type GenerationRequest = z.infer<ReturnType<typeof generationRequestSchema>>;

/** The error body. */
export const ErrorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
  }),
}).openapi("Error");

/** Path parameter of job and image routes. */
export const IdParam = z.object({
  id: z.string().regex(/^[0-9a-f]{32}$/).openapi({
    param: { name: "id", in: "path" },
    example: "0123456789abcdef0123456789abcdef",
  }),
});

/** The query of a signed image link (links.ts): both or neither. */
export const SignedLinkQuery = z.object({
  expires: z.string().max(16).optional().openapi({
    param: { name: "expires", in: "query" },
    description: "Signed link: Unix seconds until which it opens without a key.",
  }),
  sig: z.string().max(128).optional().openapi({
    param: { name: "sig", in: "query" },
    description: "Signed link: hex HMAC-SHA256 of `<id>.<expires>`.",
  }),
});

/** The optional idempotency header. */
export const IdempotencyHeader = z.object({
  "idempotency-key": z.string().min(1).max(255).regex(/^[\x21-\x7e]+$/).optional().openapi({
    param: { name: "idempotency-key", in: "header" },
    description: "Same key and body returns the same job; a different body is a 409.",
  }),
});

/** An image as the API shows it. */
export const ImageSchema = z.object({
  id: z.string(),
  url: z.string(),
  seed: z.number().int(),
  width: z.number().int(),
  height: z.number().int(),
  format: z.enum(IMAGE_FORMATS),
  bytes: z.number().int(),
}).openapi("Image");

/** A job as the API shows it. */
export const JobSchema = z.object({
  id: z.string(),
  object: z.literal("job"),
  status: z.enum(["queued", "running", "succeeded", "failed", "cancelled"]),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  queue_position: z.number().int().nullable(),
  progress: z.object({
    image: z.number().int(),
    images: z.number().int(),
    step: z.number().int(),
    steps: z.number().int(),
  }).nullable(),
  eta_seconds: z.number().nullable(),
  step_seconds: z.number().nullable(),
  attempts: z.number().int(),
  seed: z.number().int(),
  request: z.record(z.string(), z.unknown()),
  images: z.array(ImageSchema),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  schedule: z.string().nullable(),
  webhook: z.object({
    url: z.string(),
    attempts: z.number().int(),
    delivered: z.boolean(),
    status: z.enum(["pending", "delivered", "failed"]),
    next_attempt_at: z.string().nullable(),
  }).nullable(),
  links: z.object({ self: z.string(), events: z.string(), cancel: z.string() }),
}).openapi("Job");

/** The query of `GET /v1/jobs`. */
export const JobListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).optional().openapi({
    param: { name: "limit", in: "query" },
    description: "Jobs per page, 1..100. Default 20.",
  }),
  cursor: z.string().min(1).max(512).regex(/^[A-Za-z0-9+/=_-]+$/).optional().openapi({
    param: { name: "cursor", in: "query" },
    description: "`next_cursor` of the previous page.",
  }),
});

/** `GET /v1/jobs`: one page of the caller's jobs, newest first. */
export const JobListSchema = z.object({
  object: z.literal("list"),
  data: z.array(JobSchema),
  next_cursor: z.string().nullable()
    .openapi({ description: "Pass as `cursor` for the next page; null on the last page." }),
}).openapi("JobList");

/** A job as the API shows it (the body of `GET /v1/jobs/{id}`). */
export type JobView = z.infer<typeof JobSchema>;

/** An image as the API shows it. */
export type ImageView = z.infer<typeof ImageSchema>;

/** The synchronous generation response (OpenAI-compatible `data`, plus seed and timings). */
export const GenerationResponseSchema = z.object({
  created: z.number().int(),
  data: z.array(z.object({
    b64_json: z.string().optional(),
    url: z.string().optional(),
    seed: z.number().int(),
    width: z.number().int(),
    height: z.number().int(),
  })),
  job_id: z.string(),
  seed: z.number().int(),
  output_format: z.enum(IMAGE_FORMATS),
  timings: z.object({
    queue_ms: z.number(),
    generation_ms: z.number(),
    total_ms: z.number(),
    step_seconds: z.number().nullable(),
  }),
}).openapi("GenerationResponse");

/** `/readyz`. */
export const ReadySchema = z.object({
  ready: z.boolean(),
  status: z.enum(["starting", "ready", "draining", "failed"]),
  backend: z.string().nullable(),
  model_version: z.string().nullable(),
  precision: z.string().nullable(),
  sizes: z.unknown(),
  queue_depth: z.number().int(),
  queue_limit: z.number().int(),
  concurrency: z.number().int(),
  step_seconds: z.number().nullable()
    .openapi({ description: "Measured seconds per denoising step, scaled to 1024x1024" }),
  error: z.string().nullable(),
}).openapi("Ready");

/** `GET /v1/models`: the served model, its request defaults and trained sizes. */
export const ModelsSchema = z.object({
  object: z.literal("list"),
  data: z.array(z.object({
    id: z.string(),
    object: z.literal("model"),
    description: z.string(),
    defaults: z.object({
      size: z.string(),
      steps: z.number().int(),
      guidance_scale: z.number(),
      sampler: z.enum(SAMPLERS),
    }),
    sizes: z.array(z.string()).openapi({ description: 'Trained sizes, "WIDTHxHEIGHT".' }),
  })),
}).openapi("Models");

/** `/v1/schedules`. */
export const SchedulesSchema = z.object({
  data: z.array(z.object({
    name: z.string(),
    cron: z.string(),
    next_run: z.string().nullable(),
    last_run: z.object({
      slot: z.string(),
      at: z.string(),
      status: z.enum(["queued", "queue_full", "failed"]),
      tries: z.number().int(),
      job_id: z.string().nullable(),
      error: z.string().nullable(),
    }).nullable(),
    request: z.record(z.string(), z.unknown()),
    webhook: z.boolean(),
  })),
}).openapi("Schedules");
