/**
 * The page at `/` and its two assets (`/ui/app.js`, `/ui/app.css`) from lib/http/web/: plain files,
 * read once at start, no build step and nothing from a CDN. The page talks to the public API with
 * the key the user saved in the browser.
 *
 * @module
 */
import type { App } from "./deps.ts";

const FILES = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/ui/app.js": ["app.js", "text/javascript; charset=utf-8"],
  "/ui/app.css": ["app.css", "text/css; charset=utf-8"],
} as const;

/** Mounts the page and its assets. */
export function mountWebRoutes(api: App): void {
  for (const [path, [file, type]] of Object.entries(FILES)) {
    const body = Deno.readTextFileSync(new URL(`./web/${file}`, import.meta.url));
    api.get(path, (c) =>
      c.body(body, 200, {
        "Content-Type": type,
        "Cache-Control": "no-cache",
        "Content-Security-Policy":
          "default-src 'self'; img-src * data:; style-src 'self'; script-src 'self'",
      }));
  }
}
