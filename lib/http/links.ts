/**
 * Signed image links, like presigned object-store URLs: `?expires=<unix s>&sig=<hex>` where `sig` is
 * HMAC-SHA256 over `<image id>.<expires>` under HYDIT_LINK_SECRET. A signed link opens without an
 * Authorization header (an `<img src>`, `curl URL`) until it expires; expiries are rounded up to the
 * minute, so a job's links stay the same between polls.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";

/** Signs and checks image links. */
export interface LinkSigner {
  /** The query string (`expires=..&sig=..`) that opens image `id` until `now` + TTL (ms clock). */
  sign(id: string, now?: number): string;
  /** Whether `sig` is this signer's signature of `id` until `expires`, and `expires` is still ahead. */
  verify(id: string, expires: string, sig: string, now?: number): "ok" | "expired" | "invalid";
}

/** Creates a signer over `secret` whose links last `ttlS` seconds (at most a minute longer). */
export function createLinkSigner(secret: string, ttlS: number): LinkSigner {
  const mac = (id: string, expires: number) =>
    createHmac("sha256", secret).update(`${id}.${expires}`).digest();
  return {
    sign(id, now = Date.now()) {
      const expires = Math.ceil((now / 1000 + ttlS) / 60) * 60;
      return `expires=${expires}&sig=${mac(id, expires).toString("hex")}`;
    },
    verify(id, expires, sig, now = Date.now()) {
      if (!/^[0-9]{1,12}$/.test(expires) || !/^[0-9a-f]{64}$/.test(sig)) return "invalid";
      const expected = mac(id, Number(expires));
      if (!timingSafeEqual(expected, Buffer.from(sig, "hex"))) return "invalid";
      return Number(expires) * 1000 > now ? "ok" : "expired";
    },
  };
}

/** True for a GET of `/v1/images/{id}` that carries a link signature (checked by the route). */
export function isSignedImageRequest(method: string, url: string): boolean {
  const { pathname, searchParams } = new URL(url);
  return (method === "GET" || method === "HEAD") && pathname.startsWith("/v1/images/") &&
    (searchParams.has("sig") || searchParams.has("expires"));
}
