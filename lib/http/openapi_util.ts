/**
 * Small helpers for route declarations: documented error responses and the request's base URL.
 *
 * @module
 */
import type { Context } from "hono";
import type { AppDeps } from "./deps.ts";
import { ErrorSchema } from "./schemas.ts";

const DESCRIPTIONS: Record<number, string> = {
  400: "Invalid request",
  401: "Missing or wrong API key",
  403: "Image link tampered with or expired",
  404: "No such resource for this key",
  408: "Request body not received in time",
  409: "Conflict",
  410: "Image gone: its bytes were deleted or changed",
  413: "Body too large",
  415: "Body is not JSON",
  429: "Queue full; see Retry-After",
  500: "Generation failed",
  503: "Not ready or draining",
};

/** Error responses for the given statuses, all with the error body. */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(statuses.map((s) => [s, {
    description: DESCRIPTIONS[s] ?? "Error",
    content: { "application/json": { schema: ErrorSchema } },
  }]));
}

/** Origin used in links: HYDIT_PUBLIC_URL, else the request's own. */
export function baseUrl(c: Context, deps: AppDeps): string {
  return deps.config.publicUrl !== ""
    ? deps.config.publicUrl.replace(/\/+$/, "")
    : new URL(c.req.url).origin;
}
