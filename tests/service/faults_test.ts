/**
 * Faults that need real server processes: kill -9 mid-generation and restart, SIGTERM drain (finish
 * and release), and two processes on one KV file sharing one cron schedule.
 */
import assert from "node:assert/strict";
import sharp from "sharp";
import { withKvRetry } from "../../lib/jobs/kv_retry.ts";
import {
  call,
  freePort,
  runningJob,
  type ServerHandle,
  startServer,
  until,
  waitJob,
  writeSchedules,
} from "./_harness.ts";

/** The claim and lease log lines of both processes, in time order (for a failed attempts count). */
function leaseTimeline(...servers: ServerHandle[]): string {
  return servers.flatMap((s, i) =>
    s.records().map((r): Record<string, unknown> => ({ ...r, process: i + 1 }))
  )
    .filter((r) => /job (started|stop|lease)|lease renewal/.test(String(r.msg)))
    .map((r) => JSON.stringify(r))
    .sort()
    .join("\n");
}

Deno.test("kill -9 mid-generation, restart: the job completes with nothing lost", async () => {
  // A lease long enough for a loaded CI machine's renewals (every lease/3), short enough that the
  // second worker takes the dead one's job over within seconds.
  const env = { HYDIT_LEASE_MS: "6000", HYDIT_WORKER_ID: "first" };
  const first = await startServer({ env });
  const submitted = await call(first, "POST", "/v1/jobs", {
    body: { prompt: "survive a crash", size: "128x128", steps: 150, n: 2, seed: 99 },
  });
  assert.equal(submitted.status, 202);
  const id = submitted.body.id;
  // Wait until the first image is stored and the second is under way.
  let before: { images: { id: string }[] } = { images: [] };
  await until(
    async () => {
      before = (await call(first, "GET", `/v1/jobs/${id}`)).body;
      return before.images.length === 1 &&
        (await call(first, "GET", `/v1/jobs/${id}`)).body.progress?.step >= 2;
    },
    60_000,
    "the second image to start",
  );
  await first.kill();
  // A different worker id: the job is picked up only after the dead worker's lease expires.
  const second = await startServer({
    dir: first.dir,
    port: first.port,
    env: { ...env, HYDIT_WORKER_ID: "second" },
  });
  try {
    const done = await waitJob(second, id, { timeoutMs: 60_000 });
    assert.equal(done.status, "succeeded");
    assert.equal(done.attempts, 2, `claims and lease events:\n${leaseTimeline(first, second)}`);
    assert.equal(done.images.length, 2);
    assert.equal(done.images[0].id, before.images[0].id, "the image made before the crash is kept");
    assert.deepEqual(done.images.map((i: { seed: number }) => i.seed), [99, 100]);
    for (const image of done.images) {
      const bytes = new Uint8Array(await (await fetch(image.url)).arrayBuffer());
      const meta = await sharp(bytes).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ["png", 128, 128]);
    }
  } finally {
    await second.stop();
  }
});

Deno.test("SIGTERM: not ready at once, in-flight job finishes, exit 0 within the grace period", async () => {
  const server = await startServer({ env: { HYDIT_GRACE_MS: "15000" } });
  const id = await runningJob(server, { prompt: "finish me", size: "128x128", steps: 150 });
  const t0 = Date.now();
  server.proc.kill("SIGTERM");
  await until(async () => (await call(server, "GET", "/readyz")).status === 503, 2000, "not ready");
  const refused = await call(server, "POST", "/v1/jobs", {
    body: { prompt: "late", size: "64x64", steps: 1 },
  });
  assert.equal(refused.status, 503);
  assert.equal(refused.body.error.code, "not_ready");
  const status = await server.status;
  assert.equal(status.code, 0);
  assert.ok(Date.now() - t0 < 15_000);
  const kv = await Deno.openKv(`${server.dir}/kv/hydit.kv`);
  const record = (await withKvRetry(() => kv.get<{ state: string }>(["jobs", id]))).value;
  kv.close();
  assert.equal(record?.state, "succeeded");
});

Deno.test("SIGTERM: a job longer than the grace period is released and resumes after restart", async () => {
  // A grace well below the job's run time, yet long enough for a loaded machine to release it.
  const server = await startServer({ env: { HYDIT_GRACE_MS: "1500" } });
  const id = await runningJob(server, { prompt: "too long", size: "256x256", steps: 200 });
  const status = await server.stop();
  assert.equal(status.code, 0);
  const restarted = await startServer({ dir: server.dir, port: server.port });
  try {
    const done = await waitJob(restarted, id, { timeoutMs: 60_000 });
    assert.equal(done.status, "succeeded");
    assert.equal(done.attempts, 1, "a drained run does not count as an attempt");
    assert.ok(server.records().some((r) => r.msg === "job released for another worker"));
  } finally {
    await restarted.stop();
  }
});

Deno.test({
  name: "two processes on one KV file run each cron slot exactly once",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "hydit-cron-" });
    const schedules = await writeSchedules(dir, "every-minute");
    const env = { HYDIT_SCHEDULES: schedules };
    const a = await startServer({ dir, env: { ...env, HYDIT_WORKER_ID: "a" } });
    const b = await startServer({ dir, port: freePort(), env: { ...env, HYDIT_WORKER_ID: "b" } });
    try {
      const listed = await call(a, "GET", "/v1/schedules");
      assert.equal(listed.body.data[0].name, "every-minute");
      assert.ok(listed.body.data[0].next_run);
      // Wait for one slot that both processes saw, plus time for its job to finish.
      const slotSeen = (r: Record<string, unknown>) =>
        typeof r.slot === "number" && String(r.msg).startsWith("schedule slot");
      // A minute may begin while only one process has registered its cron: use a slot both saw.
      const slotsOf = (s: typeof a) => new Set(s.records().filter(slotSeen).map((r) => r.slot));
      const common = () => [...slotsOf(a)].find((slot) => slotsOf(b).has(slot));
      await until(
        () => Promise.resolve(common() !== undefined),
        135_000,
        "a cron slot in both processes",
      );
      const slot = common();
      const outcomes = [...a.records(), ...b.records()].filter((r) =>
        slotSeen(r) && r.slot === slot
      ).map((r) => r.msg);
      assert.deepEqual(outcomes.sort(), [
        "schedule slot ran",
        "schedule slot taken by another replica",
      ]);
      const kv = await Deno.openKv(`${dir}/kv/hydit.kv`);
      const jobs: { schedule?: string; id: string }[] = [];
      for await (const e of kv.list<{ schedule?: string; id: string }>({ prefix: ["jobs"] })) {
        jobs.push(e.value);
      }
      kv.close();
      // A slower start can let one process run an earlier slot alone: every slot still runs once,
      // and every scheduled job in KV is the one job of a slot that ran.
      const ran = [...a.records(), ...b.records()].filter((r) => r.msg === "schedule slot ran");
      assert.equal(new Set(ran.map((r) => r.slot)).size, ran.length, "no slot ran twice");
      const scheduled = jobs.filter((j) => j.schedule === "every-minute");
      const ranJobs = new Set(ran.map((r) => r.job));
      assert.ok(scheduled.every((j) => ranJobs.has(j.id)), "every scheduled job came from a slot");
      const job = ran.find((r) => r.slot === slot)!.job as string;
      assert.ok(scheduled.some((j) => j.id === job), "the common slot's job is in KV");
      const done = await waitJob(a, job);
      assert.equal(done.status, "succeeded");
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  },
});
