/**
 * One error type for the API and one place that renders it: `{ "error": { "code", "message", "field" } }`.
 *
 * @module
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";

/** An error that becomes a JSON response with `status`. */
export class HttpError extends Error {
  /** HTTP status (4xx or 5xx). */
  readonly status: ContentfulStatusCode;
  /** Stable machine-readable code. */
  readonly code: string;
  /** The request field at fault, as a dotted path, if any. */
  readonly field?: string;
  /** Extra response headers (e.g. Retry-After). */
  readonly headers: Record<string, string>;

  /** Creates an error; `message` should say what the client should change. */
  constructor(
    status: ContentfulStatusCode,
    code: string,
    message: string,
    options: { field?: string; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.field = options.field;
    this.headers = options.headers ?? {};
  }
}

/** The JSON body of an error response. */
export function errorBody(code: string, message: string, field?: string): {
  error: { code: string; message: string; field?: string };
} {
  return { error: { code, message, ...(field !== undefined ? { field } : {}) } };
}

/** Renders an error as the API's JSON error response. */
export function errorResponse(c: Context, error: HttpError): Response {
  for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
  return c.json(errorBody(error.code, error.message, error.field), error.status);
}

/** Turns the first zod issue into a 400 naming the field. */
export function validationError(error: z.ZodError): HttpError {
  const issue = error.issues[0];
  let path = issue.path.map(String).join(".");
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0];
    path = path ? `${path}.${key}` : key;
    message = `Unknown field "${key}": remove it`;
  }
  return new HttpError(400, "invalid_request", path ? `${path}: ${message}` : message, {
    ...(path ? { field: path } : {}),
  });
}
