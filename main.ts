/** Service entry point: starts the HTTP API. */
import { Hono } from "hono";

const app = new Hono();
app.get("/healthz", (c) => c.json({ status: "ok" }));

const port = Number(Deno.env.get("HYDIT_PORT") ?? "8000");
Deno.serve({ port }, app.fetch);
