/**
 * Bounded loopback load test of the service: requests/s of `/healthz` and of job submission, then
 * p50/p99 latency of the non-generation endpoints while a generation runs. Every phase stops at its
 * request count or its time budget, whichever comes first; nothing leaves 127.0.0.1.
 *
 * Run: `deno run -A tests/load/service_load.ts [--concurrency 8] [--requests 2000] [--seconds 10]`
 * Prints one JSON object (also written to $LOAD_OUT if set).
 */
import { call, startServer } from "../service/_harness.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const CONCURRENCY = arg("concurrency", 8);
const REQUESTS = arg("requests", 2000);
const SECONDS = arg("seconds", 10);

interface PhaseResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Runs `one()` from CONCURRENCY loops until `count` requests or `seconds` have passed. */
async function phase(
  count: number,
  seconds: number,
  one: () => Promise<boolean>,
): Promise<PhaseResult> {
  const latencies: number[] = [];
  let issued = 0;
  let errors = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (issued < count && performance.now() < deadline) {
      issued++;
      const t0 = performance.now();
      const ok = await one().catch(() => false);
      latencies.push(performance.now() - t0);
      if (!ok) errors++;
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    requests: latencies.length,
    errors,
    seconds: round(elapsed),
    rps: round(latencies.length / elapsed),
    p50_ms: round(percentile(latencies, 50)),
    p99_ms: round(percentile(latencies, 99)),
  };
}

const server = await startServer({ env: { HYDIT_QUEUE_DEPTH: "100000", HYDIT_LOG_LEVEL: "warn" } });
try {
  const ready = (await call(server, "GET", "/readyz")).body;
  const get = (path: string) => async () => {
    const res = await fetch(`${server.url}${path}`);
    await res.body?.cancel();
    return res.ok;
  };
  const healthz = await phase(REQUESTS, SECONDS, get("/healthz"));
  const ids: string[] = [];
  const submit = await phase(Math.min(REQUESTS, 500), SECONDS, async () => {
    const res = await call(server, "POST", "/v1/jobs", {
      body: { prompt: "load", size: "64x64", steps: 1 },
    });
    if (res.status === 202) ids.push(res.body.id);
    return res.status === 202;
  });
  // Drop the submitted backlog so the next phase measures one generation in flight.
  for (const id of ids) await call(server, "DELETE", `/v1/jobs/${id}`);
  const long = await call(server, "POST", "/v1/jobs", {
    body: { prompt: "a long generation", size: "256x256", steps: 200, n: 4 },
  });
  const probe = long.body.id;
  const during: Record<string, PhaseResult> = {};
  for (const path of ["/healthz", "/readyz", `/v1/jobs/${probe}`, "/metrics"]) {
    const name = path.startsWith("/v1/jobs/") ? "/v1/jobs/{id}" : path;
    during[name] = await phase(Math.min(REQUESTS, 500), Math.min(SECONDS, 5), get(path));
  }
  const state = (await call(server, "GET", `/v1/jobs/${long.body.id}`)).body;
  await call(server, "DELETE", `/v1/jobs/${long.body.id}`);
  const report = {
    machine: { cpus: navigator.hardwareConcurrency, deno: Deno.version.deno },
    generator: { backend: ready.backend, precision: ready.precision },
    concurrency: CONCURRENCY,
    healthz,
    job_submission: submit,
    during_generation: { job_status: state.status, job_progress: state.progress, latency: during },
  };
  const text = JSON.stringify(report, null, 2);
  console.log(text);
  const out = Deno.env.get("LOAD_OUT");
  if (out) await Deno.writeTextFile(out, text);
} finally {
  await server.stop();
}
