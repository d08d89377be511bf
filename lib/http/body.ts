/**
 * JSON body reading with the checks a public endpoint needs before any schema runs: a size limit (on
 * Content-Length and while streaming, so chunked bodies are bounded too), a JSON content type, strict
 * UTF-8, well-formed JSON, and a time limit (a stalled body is a 408). Each failure is a 4xx with its own
 * code.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { concat } from "../bytes.ts";
import type { AppEnv } from "./deps.ts";
import { HttpError } from "./errors.ts";

async function readLimited(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
  timeoutMs: number,
): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = timeoutMs > 0
    ? new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), timeoutMs))
    : null;
  for (;;) {
    const next = expired ? await Promise.race([reader.read(), expired]) : await reader.read();
    if (next === null) {
      await reader.cancel().catch(() => {});
      throw new HttpError(
        408,
        "request_timeout",
        `Request body not received within ${timeoutMs} ms: send it at once`,
      );
    }
    const { done, value } = next;
    if (done) break;
    size += value.length;
    if (size > limit) {
      clearTimeout(timer);
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  clearTimeout(timer);
  return concat(chunks);
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, "payload_too_large", `Request body exceeds ${limit} bytes: send less`);
}

/**
 * Middleware that parses the JSON body and hands it to the route's validator; a body that takes
 * longer than `timeoutMs` (0 = no limit) to arrive is a 408.
 */
export function jsonBody(limit: number, timeoutMs: number): MiddlewareHandler<AppEnv> {
  if (!(limit > 0)) throw new RangeError(`Cannot create jsonBody: limit ${limit} is not positive`);
  return async function jsonBody(c, next) {
    const declared = c.req.header("content-length");
    if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
    const type = c.req.header("content-type") ?? "";
    if (!/^application\/([a-z0-9.+-]*\+)?json\s*(;.*)?$/i.test(type)) {
      throw new HttpError(
        415,
        "unsupported_media_type",
        "Send the body as Content-Type: application/json",
      );
    }
    const bytes = await readLimited(c.req.raw.body, limit, timeoutMs);
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new HttpError(400, "invalid_utf8", "Request body is not valid UTF-8");
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new HttpError(
        400,
        "invalid_json",
        `Request body is not valid JSON: ${(error as Error).message}`,
      );
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new HttpError(400, "invalid_request", "Request body must be a JSON object");
    }
    // The route's zod validator reads the body through c.req.json(); hand it the parsed value.
    c.req.bodyCache.json = Promise.resolve(parsed);
    c.set("jsonBody", parsed);
    await next();
  };
}
