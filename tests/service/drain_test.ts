/**
 * SIGTERM with clients still attached: open SSE streams end with a `draining` event and a waiting
 * synchronous request answers 202 with its job, so the process exits 0 within HYDIT_GRACE_MS (its
 * backstop exits 1 at the grace deadline, so exit code 0 means it finished in time).
 */
import assert from "node:assert/strict";
import { call, runningJob, startServer, until } from "./_harness.ts";

/** Reads an SSE response to its end; returns [event, data] pairs. */
async function events(res: Response): Promise<[string, Record<string, unknown>][]> {
  const text = await res.text();
  return text.split("\n\n").filter((b) => b.includes("event:")).map((block) => [
    /event: (.*)/.exec(block)![1],
    JSON.parse(/data: (.*)/.exec(block)![1]),
  ]);
}

Deno.test("SIGTERM with open SSE and sync clients: draining event, 202 with the job, exit 0 in the grace", async () => {
  const server = await startServer({ env: { HYDIT_GRACE_MS: "4000" } });
  const running = await runningJob(server, {
    prompt: "outlasts the grace",
    size: "256x256",
    steps: 200,
    n: 4,
  });
  const queued = (await call(server, "POST", "/v1/jobs", {
    body: { prompt: "never starts here", size: "64x64", steps: 2 },
  })).body.id;
  const streams = [running, queued].map((id) => fetch(`${server.url}/v1/jobs/${id}/events`));
  const sync = fetch(`${server.url}/v1/images/generations`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt: "waits synchronously", size: "64x64", steps: 2 }),
  });
  await until(
    async () => (await call(server, "GET", "/readyz")).body.queue_depth === 3,
    10_000,
    "the synchronous job to queue",
  );
  const [runningRes, queuedRes] = await Promise.all(streams);
  assert.deepEqual([runningRes.status, queuedRes.status], [200, 200]);
  server.proc.kill("SIGTERM");

  for (const [id, res] of [[running, runningRes], [queued, queuedRes]] as const) {
    const seen = await events(res);
    const [event, data] = seen[seen.length - 1];
    assert.equal(event, "draining", `stream of ${id} ends with draining: ${JSON.stringify(seen)}`);
    assert.equal(data.job_id, id);
    // Released at the grace deadline (or, on a slow step, still stopping): queued for others.
    const expected = id === queued ? ["queued"] : ["queued", "running"];
    assert.ok(expected.includes(data.status as string), `${id}: ${data.status}`);
    assert.equal(data.status_url, `${server.url}/v1/jobs/${id}`);
  }
  const answer = await sync;
  assert.equal(answer.status, 202);
  const view = await answer.json();
  assert.equal(view.status, "queued");
  assert.equal(answer.headers.get("location"), `${server.url}/v1/jobs/${view.id}`);

  const status = await server.status;
  assert.equal(status.code, 0, server.logs.slice(-10).join("\n"));
  assert.ok(server.records().some((r) => r.msg === "stopped"));
  assert.ok(!server.records().some((r) => r.msg === "grace period exceeded; exiting"));
});
