/**
 * `GET /v1/images/{id}`: image bytes from the results store, with content type, ETag and private
 * immutable caching until the image expires. A signed link (`?expires=..&sig=..`, links.ts) opens
 * without a key; a tampered or expired one is a 403.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { CONTENT_TYPES } from "../image/mod.ts";
import type { App, AppDeps } from "./deps.ts";
import { HttpError } from "./errors.ts";
import { errorResponses } from "./openapi_util.ts";
import { IdParam, SignedLinkQuery } from "./schemas.ts";

/** Mounts the image route. */
export function mountImageRoutes(api: App, deps: AppDeps): void {
  const binary = z.string().openapi({ format: "binary" });
  api.openapi(
    createRoute({
      method: "get",
      path: "/v1/images/{id}",
      summary: "Image bytes",
      security: [{ bearer: [] }],
      request: { params: IdParam, query: SignedLinkQuery },
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
        ...errorResponses(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { expires, sig } = c.req.valid("query");
      const signed = expires !== undefined || sig !== undefined;
      if (signed) {
        const check = deps.links.verify(id, expires ?? "", sig ?? "");
        if (check !== "ok") {
          const why = check === "expired"
            ? "This image link has expired: fetch the job again for a fresh link"
            : "This image link's signature is not valid: use the link exactly as the API gave it";
          throw new HttpError(403, check === "expired" ? "link_expired" : "bad_signature", why, {
            field: check === "expired" ? "expires" : "sig",
          });
        }
      }
      const image = await deps.jobs.readImage(id, signed ? null : c.get("owner"));
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
