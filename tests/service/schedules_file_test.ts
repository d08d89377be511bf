/**
 * The schedules file: every entry checked as `Deno.cron` and `POST /v1/jobs` would, errors naming
 * file, entry and field; and a process given a bad file fails start-up without running a job.
 */
import assert from "node:assert/strict";
import { type JobRecord, keys } from "../../lib/jobs/job.ts";
import { loadSchedules, type ParsedRequest } from "../../lib/jobs/schedules.ts";
import { submitJob } from "../../lib/jobs/store.ts";
import { startServer, stateDir } from "./_harness.ts";
import { testParams } from "./_params.ts";

const REQUEST = { prompt: "tick", size: "64x64", steps: 2 };

/** A request parser that accepts anything with a prompt and names `prompt` otherwise. */
function parseRequest(raw: unknown): ParsedRequest {
  if (typeof (raw as { prompt?: unknown })?.prompt !== "string") {
    throw Object.assign(new Error("prompt: Required"), { field: "prompt" });
  }
  return { params: testParams(), fixedSeed: false };
}

async function load(schedules: unknown[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "hydit-sched-" });
  const path = `${dir}/schedules.json`;
  await Deno.writeTextFile(path, JSON.stringify({ schedules }));
  try {
    const loaded = await loadSchedules(path, parseRequest);
    return `ok ${loaded.map((s) => s.name).join(",")}`;
  } catch (error) {
    return (error as Error).message.replace(path, "FILE");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadSchedules() refuses what Deno.cron refuses, naming file, entry and field", async () => {
  const ok = { name: "daily", cron: "0 6 * * 1", request: REQUEST };
  assert.equal(await load([ok]), "ok daily");
  assert.equal(
    await load([ok, { ...ok, name: "sunday", cron: "0 6 * * 0" }]),
    'Cannot read schedules file "FILE", entry 1 ("sunday"), field "cron": ' +
      'Cannot parse cron day of week "0": expected a number from 1 to 7',
  );
  assert.match(
    await load([{ ...ok, cron: "*/60 * * * *" }]),
    /entry 0 \("daily"\), field "cron": .*minute "\*\/60": a step must be 1-59/,
  );
  assert.match(await load([{ ...ok, cron: "0 0 31 2 *" }]), /field "cron": .*never occurs/);
  // "hydit-" + 58 characters is Deno.cron's 64; one more is refused.
  assert.equal(await load([{ ...ok, name: "n".repeat(58) }]), `ok ${"n".repeat(58)}`);
  assert.match(
    await load([{ ...ok, name: "n".repeat(59) }]),
    /entry 0 \("n+"\), field "name": Deno.cron name "hydit-n+" is longer than 64 characters \(65\)/,
  );
  assert.match(await load([{ ...ok, name: "a.b" }]), /entry 0 \("a.b"\), field "name"/);
  assert.match(await load([ok, ok]), /entry 1 \("daily"\), field "name": duplicate/);
  assert.match(await load([{ ...ok, request: {} }]), /field "request.prompt": prompt: Required/);
  assert.match(
    await load(Array.from({ length: 101 }, (_, i) => ({ ...ok, name: `s${i}` }))),
    /101 schedules, at most 100/,
  );
});

Deno.test("a bad schedules file fails start-up with one line, and the process runs no queued job", async () => {
  const { dir, openKv } = await stateDir();
  const kv = await openKv();
  try {
    const submitted = await submitJob(kv, { owner: "*", params: testParams({ steps: 2 }) }, {
      maxDepth: 8,
      idempotencyTtlMs: 60_000,
    });
    assert.equal(submitted.kind, "created");
    const id = submitted.kind === "created" ? submitted.job.id : "";
    const path = `${dir}/schedules.json`;
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        schedules: [
          { name: "weekdays", cron: "0 6 * * 2-6", request: REQUEST },
          { name: "sunday", cron: "0 6 * * 0", request: REQUEST },
        ],
      }),
    );
    const server = await startServer({ dir, env: { HYDIT_SCHEDULES: path }, waitReady: false });
    const state = async () => (await kv.get<JobRecord>(keys.job(id))).value?.state;
    // Until the process exits, watch that the job stays queued (a process that ran it fails here).
    let exited = false;
    server.status.then(() => exited = true);
    while (!exited && await state() === "queued") await new Promise((r) => setTimeout(r, 25));
    if (!exited) await server.kill();
    assert.equal(await state(), "queued", server.logs.join("\n"));
    const status = await server.status;
    assert.equal(status.code, 1);
    // Besides JSON log records, exactly one line: the reason.
    const lines = server.logs.filter((line) => line.trim() !== "" && !line.startsWith("{"));
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.equal(
      lines[0],
      `hydit: Cannot read schedules file "${path}", entry 1 ("sunday"), field "cron": ` +
        'Cannot parse cron day of week "0": expected a number from 1 to 7',
    );
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});
