/**
 * `GET /v1/images/{id}`: image bytes streamed from the results store, with content type, ETag and
 * private immutable caching until the image expires. An image whose record is there but whose bytes
 * are gone or no longer match their SHA-256 is 410 `image_gone`, with `If-None-Match` too.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { CONTENT_TYPES } from "../image/mod.ts";
import type { App, AppDeps } from "./deps.ts";
import { HttpError } from "./errors.ts";
import { errorResponses } from "./openapi_util.ts";
import { IdParam } from "./schemas.ts";

/** The error for an image whose record is there but whose bytes are gone or changed. */
export function imageGone(id: string): HttpError {
  return new HttpError(
    410,
    "image_gone",
    `Image "${id}" is gone: its stored bytes were deleted or changed`,
    { field: "id" },
  );
}

/** Mounts the image route. */
export function mountImageRoutes(api: App, deps: AppDeps): void {
  const binary = z.string().openapi({ format: "binary" });
  api.openapi(
    createRoute({
      method: "get",
      path: "/v1/images/{id}",
      summary: "Image bytes",
      security: [{ bearer: [] }],
      request: { params: IdParam },
      responses: {
        200: {
          description: "The image",
          content: {
            "image/png": { schema: binary },
            "image/jpeg": { schema: binary },
            "image/webp": { schema: binary },
          },
        },
        304: { description: "Not modified (If-None-Match)" },
        ...errorResponses(400, 401, 404, 410),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const image = await deps.jobs.readImage(id, c.get("owner"));
      if (!image) {
        throw new HttpError(404, "not_found", `No image "${id}" for this API key`, { field: "id" });
      }
      const { meta } = image;
      const maxAge = Math.max(0, Math.floor((meta.expiresAt - Date.now()) / 1000));
      const headers = {
        "Cache-Control": `private, max-age=${maxAge}, immutable`,
        "ETag": meta.etag,
        "Expires": new Date(meta.expiresAt).toUTCString(),
      };
      // Checked before a 304 as well: a client's cached copy must not vouch for a gone image.
      const body = await image.open();
      if (!body) throw imageGone(id);
      if (c.req.header("if-none-match") === meta.etag) {
        await body.cancel();
        return c.body(null, 304, headers);
      }
      return c.body(body, 200, {
        ...headers,
        "Content-Type": CONTENT_TYPES[meta.format],
        "Content-Length": String(meta.bytes),
        "Content-Disposition": `inline; filename="${id}.${meta.format}"`,
      });
    },
  );
}
