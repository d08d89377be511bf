/**
 * `deno task generate --server URL`: the job is queued on a running service (which fills the
 * defaults and validates), followed over its SSE events for the progress bar, and its image is
 * fetched through the signed link the job gives.
 *
 * @module
 */
import { failure, type Outcome, usageError } from "./outcome.ts";
import { stepProgress } from "./progress.ts";

/** Generates `body` on the service at `server`; writes the image to `out` (default by seed). */
export async function generateRemotely(
  server: string,
  apiKey: string | undefined,
  body: Record<string, unknown>,
  out: string | undefined,
): Promise<Outcome> {
  const base = server.replace(/\/+$/, "");
  const headers: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
  const started = performance.now();
  let res: Response;
  try {
    res = await fetch(`${base}/v1/jobs`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (error) {
    return failure(`cannot reach ${base}: ${(error as Error).message}`);
  }
  const job = await res.json().catch(() => null);
  if (!res.ok) {
    const message = job?.error?.message ?? `HTTP ${res.status}`;
    return res.status < 500
      ? usageError(`${res.status}: ${message}`)
      : failure(`${res.status}: ${message}`);
  }
  const done = await follow(`${base}/v1/jobs/${job.id}/events`, headers);
  if (!done) return failure(`lost the event stream of job ${job.id}`);
  if (done.status !== "succeeded") {
    return failure(`job ${job.id} ${done.status}: ${done.error?.message ?? "no image"}`);
  }
  const image = done.images[0];
  const bytes = await fetch(image.url);
  if (!bytes.ok) return failure(`cannot download ${image.url}: HTTP ${bytes.status}`);
  const path = out ?? `hydit-${image.seed}.${image.format}`;
  await Deno.writeFile(path, await bytes.bytes());
  return {
    code: 0,
    path,
    seed: image.seed,
    size: `${image.width}x${image.height}`,
    steps: done.request.steps,
    seconds: (performance.now() - started) / 1000,
  };
}

/** The parts of the final job view (the terminal SSE event) the CLI reads. */
interface FinishedJob {
  status: string;
  error: { message: string } | null;
  images: { url: string; seed: number; width: number; height: number; format: string }[];
  request: { steps: number };
}

/** Reads the job's SSE stream, drawing progress, until its terminal event; returns the job view. */
async function follow(url: string, headers: Record<string, string>): Promise<FinishedJob | null> {
  const res = await fetch(url, { headers });
  if (!res.ok || !res.body) return null;
  const progress = stepProgress();
  let buffer = "";
  try {
    for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!event || !data) continue;
        const value = JSON.parse(data);
        if (event === "step") progress.step(value.step, value.steps);
        if (["succeeded", "failed", "cancelled"].includes(event)) {
          await res.body.cancel().catch(() => {});
          return value;
        }
      }
    }
    return null;
  } finally {
    progress.done();
  }
}
