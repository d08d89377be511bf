/**
 * `GET /v1/images/{id}`: image bytes from the results store, with content type, ETag and private
 * immutable caching until the image expires.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { CONTENT_TYPES } from "../image/mod.ts";
import type { App, AppDeps } from "./deps.ts";
import { HttpError } from "./errors.ts";
import { errorResponses } from "./openapi_util.ts";
import { IdParam } from "./schemas.ts";

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
        ...errorResponses(400, 401, 404),
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
      if (c.req.header("if-none-match") === meta.etag) {
        return c.body(null, 304, headers);
      }
      const bytes = await image.read();
      if (!bytes) {
        throw new HttpError(404, "not_found", `Image "${id}" has expired`, { field: "id" });
      }
      return c.body(bytes, 200, {
        ...headers,
        "Content-Type": CONTENT_TYPES[meta.format],
        "Content-Length": String(bytes.length),
        "Content-Disposition": `inline; filename="${id}.${meta.format}"`,
      });
    },
  );
}
