/**
 * JSON body reading with the checks a public endpoint needs before any schema runs: a size limit (on
 * Content-Length and while streaming, so chunked bodies are bounded too), a JSON content type, strict
 * UTF-8 and well-formed JSON. Each failure is a 4xx with its own code.
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
): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return concat(chunks);
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, "payload_too_large", `Request body exceeds ${limit} bytes: send less`);
}

/** Middleware that parses the JSON body and hands it to the route's validator. */
export function jsonBody(limit: number): MiddlewareHandler<AppEnv> {
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
    const bytes = await readLimited(c.req.raw.body, limit);
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
