/** A worker for in-process tests: a timed fake generator and short leases, over given stores. */
import type { JobEvents } from "../../lib/jobs/events.ts";
import type { ResultsStore } from "../../lib/jobs/results.ts";
import { createWorker, type Worker, type WorkerOptions } from "../../lib/jobs/worker.ts";
import { fakeGenerator } from "./_fake_generator.ts";

/** A worker "w" over `kv`, `results` and `events` (fake generator, 5 ms a step), with `overrides`. */
export function testWorker(
  stores: { kv: Deno.Kv; results: ResultsStore; events: JobEvents },
  overrides: Partial<WorkerOptions> = {},
): Worker {
  return createWorker({
    ...stores,
    generator: fakeGenerator(5),
    log: () => {},
    identity: { id: "w", boot: "b" },
    concurrency: 1,
    leaseMs: 2000,
    pollMs: 50,
    retentionMs: 60_000,
    ...overrides,
  });
}
