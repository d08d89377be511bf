/**
 * The service's Prometheus instruments, registered in one place.
 *
 * @module
 */
import type { Counter, Gauge, Histogram, Registry } from "./http/mod.ts";

/** The service's instruments (names in the registry: `hydit_*`). */
export interface ServiceMetrics {
  finishedJobs: Counter;
  stepHist: Histogram;
  genHist: Histogram;
  loadGauge: Gauge;
  warmGauge: Gauge;
  readyGauge: Gauge;
  depthGauge: Gauge;
  jobsGauge: Gauge;
  webhooks: Counter;
  scheduleRuns: Counter;
  sweeps: Counter;
  connTimeouts: Counter;
}

/** Registers every service metric on `registry` and returns the instruments. */
export function serviceMetrics(registry: Registry): ServiceMetrics {
  return {
    finishedJobs: registry.counter(
      "hydit_jobs_finished_total",
      "Jobs that reached a terminal state here",
    ),
    stepHist: registry.histogram(
      "hydit_step_seconds",
      "Denoising step latency",
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
    genHist: registry.histogram(
      "hydit_generation_seconds",
      "Generation time per job run",
      [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
    ),
    loadGauge: registry.gauge("hydit_engine_load_seconds", "Time to load the engines"),
    warmGauge: registry.gauge("hydit_warmup_seconds", "Time of the warm-up generation"),
    readyGauge: registry.gauge("hydit_ready", "1 when ready to accept work"),
    depthGauge: registry.gauge("hydit_queue_depth", "Unfinished jobs (queued + running)"),
    jobsGauge: registry.gauge(
      "hydit_jobs",
      "Unfinished jobs by state (running_here: this process)",
    ),
    webhooks: registry.counter(
      "hydit_webhook_deliveries_total",
      "Webhook delivery attempts by outcome (delivered, retry, failed)",
    ),
    scheduleRuns: registry.counter(
      "hydit_schedule_runs_total",
      "Schedule slot tries by outcome (queued, queue_full, skipped, failed)",
    ),
    sweeps: registry.counter(
      "hydit_swept_total",
      "Removed by kind: expired jobs and images, orphaned image bytes (no record)",
    ),
    connTimeouts: registry.counter(
      "hydit_connection_timeouts_total",
      "Connections closed for a slow request head (header) or idleness (idle)",
    ),
  };
}
