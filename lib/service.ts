/**
 * The composition root: the whole service wired together. KV, results store, events and the `Jobs`
 * facade; the HTTP app and server; model load (backend choice, pipeline threads) and warm-up; the
 * worker, webhook deliveries, schedules and retention sweeper; and the SIGTERM drain (not ready at
 * once, stop claiming, finish or release in-flight jobs, exit within the grace period).
 *
 * @module
 */
import type { Config } from "./config.ts";
import type { ModelCard } from "./diffusion/mod.ts";
import {
  createApp,
  createAuthenticator,
  createLinkSigner,
  createRegistry,
  generationRequestSchema,
  type Phase,
  serveGuarded,
  toParams,
  validationError,
  webhookBody,
} from "./http/mod.ts";
import {
  checkWebhookTarget,
  createDeliveryLoop,
  createJobEvents,
  createJobs,
  createWorker,
  type DeliveryLoop,
  type GeneratorInfo,
  type ImageGenerator,
  loadSchedules,
  openKvResultsStore,
  openResultsStore,
  ORPHAN_AGE_MS,
  parseWebhookAllow,
  pendingWork,
  registerSchedules,
  resolveBudgetMiB,
  type Schedule,
  sweepExpired,
  sweepOrphans,
  type Worker,
} from "./jobs/mod.ts";
import { openServiceKv } from "./kv_open.ts";
import { createLogger, type Log } from "./log.ts";
import {
  type GeneratorLoader,
  onnxWeightsMiB,
  pipelineLoader,
  readModelCard,
  warmUp,
} from "./service_model.ts";

export type { GeneratorLoader };
import { serviceMetrics } from "./service_metrics.ts";

/** Options of {@linkcode startService}. */
export interface ServiceOptions {
  /** Loads the model. @default {@linkcode pipelineLoader} for the config */
  loadGenerator?: GeneratorLoader;
  /** Where log records go. @default JSON lines on stdout at `config.logLevel` */
  log?: Log;
  /** The served model's card. @default read from the manifest of `config.engines` */
  model?: ModelCard;
}

/** A running service. */
export interface Service {
  /** Where the server listens (port 0 in the config picks a free one). */
  addr: Deno.NetAddr;
  /** Resolves after a drain completes. */
  finished: Promise<void>;
  /** Starts the drain (what SIGTERM does). */
  shutdown(): Promise<void>;
}

/**
 * Parses one schedule request exactly as `POST /v1/jobs` validates a body; a webhook destination needs
 * the signing secret, as `webhook_url` does.
 */
function scheduleParser(config: Config, model: ModelCard) {
  const schema = generationRequestSchema(config, model.defaults);
  return (raw: unknown) => {
    const result = schema.safeParse(raw);
    if (!result.success) throw validationError(result.error);
    const parsed = toParams(result.data, config, model.defaults);
    if (parsed.webhook !== undefined && config.webhookSecret === "") {
      throw Object.assign(new Error("a webhook destination needs HYDIT_WEBHOOK_SECRET"), {
        field: "webhook_url",
      });
    }
    if (parsed.webhook !== undefined && config.publicUrl === "") {
      throw new Error(
        "a webhook destination needs HYDIT_PUBLIC_URL (a scheduled job has no request origin for " +
          "the links in its payload)",
      );
    }
    return parsed;
  };
}

/** Starts the service; resolves once it listens (the model keeps loading in the background). */
export async function startService(config: Config, options: ServiceOptions = {}): Promise<Service> {
  const log = options.log ?? createLogger(config.logLevel);
  const model = options.model ?? await readModelCard(config.engines);
  const loadGenerator = options.loadGenerator ?? pipelineLoader(config, log);
  const auth = await createAuthenticator(config.apiKeys);
  if (auth.open) {
    log(
      "warn",
      "OPEN MODE: no HYDIT_API_KEYS configured, every request is accepted without a key",
      {
        hint: "set HYDIT_API_KEYS=key1,key2 for production",
      },
    );
  }
  const schedules: Schedule[] = config.schedules
    ? await loadSchedules(config.schedules, scheduleParser(config, model))
    : [];
  const webhookAllow = parseWebhookAllow(config.webhookAllow);
  for (const schedule of schedules) {
    if (schedule.webhook === undefined) continue;
    const target = await checkWebhookTarget(schedule.webhook, webhookAllow);
    if (!target.ok) {
      throw new Error(
        `Cannot read schedules file "${config.schedules}", schedule "${schedule.name}": ` +
          `destination.webhook: ${target.reason}`,
      );
    }
  }
  const kv = await openServiceKv(config.kvPath);
  const results = config.resultsStore === "kv"
    ? openKvResultsStore(kv)
    : await openResultsStore(config.resultsDir);
  const events = createJobEvents();
  const registry = createRegistry();
  const m = serviceMetrics(registry);
  const retentionMs = config.retentionS * 1000;
  const boot = crypto.randomUUID();

  // Aborted near the end of a drain: open SSE streams and synchronous waits answer and end.
  const closing = new AbortController();
  let phase: Phase = "starting";
  let startupError: string | null = null;
  let generator: ImageGenerator | null = null;
  let info: GeneratorInfo | null = null;
  let worker: Worker | null = null;

  // Deliveries are durable KV records (written when a job ends); this process delivers its share.
  const deliveries: DeliveryLoop | null = config.webhookSecret === "" ? null : createDeliveryLoop({
    kv,
    log,
    worker: config.workerId,
    secret: config.webhookSecret,
    allow: webhookAllow,
    attempts: config.webhookAttempts,
    backoffMs: config.webhookBackoffMs,
    pollMs: config.pollMs,
    render: (job) => webhookBody(config.publicUrl, job),
    observe: (kind) => m.webhooks.inc({ result: kind }),
  });
  deliveries?.start();
  const onFinished = () => deliveries?.wake();

  const jobs = createJobs({
    kv,
    results,
    events,
    // The worker starts after the model loads; until then submissions only queue.
    worker: {
      wake: () => worker?.wake(),
      cancelLocal: (id) => worker?.cancelLocal(id) ?? false,
      stepSeconds: () => worker?.stepSeconds() ?? 0,
    },
    policy: {
      queueDepth: config.queueDepth,
      queuePerKey: config.queuePerKey,
      retentionMs,
      concurrency: config.concurrency,
    },
    schedules,
    onFinished,
  });

  registry.onCollect(async () => {
    const pending = await pendingWork(kv);
    const running = pending.filter((w) => w.running).length;
    m.depthGauge.set(pending.length);
    m.jobsGauge.set(pending.length - running, { state: "queued" });
    m.jobsGauge.set(running, { state: "running" });
    m.jobsGauge.set(worker ? worker.runningIds().length : 0, { state: "running_here" });
    m.readyGauge.set(phase === "ready" ? 1 : 0);
  });

  const app = createApp({
    config,
    model,
    jobs,
    auth,
    // Without a configured secret, links signed here open only on this process.
    links: createLinkSigner(config.linkSecret || crypto.randomUUID(), config.linkTtlS),
    log,
    registry,
    generatorInfo: () => info,
    phase: () => phase,
    startupError: () => startupError,
    closing: closing.signal,
    memory: {
      budgetMiB: resolveBudgetMiB(config.memoryBudgetMb),
      concurrency: config.concurrency,
      onnxWeightsMiB: await onnxWeightsMiB(config.engines),
      backend: () => info?.backend ?? null,
    },
  });

  // Deno.serve behind a relay that times out slow request heads and idle keep-alive connections.
  const server = serveGuarded({
    port: config.port,
    hostname: config.host,
    timeouts: { headerMs: config.headerTimeoutMs, idleMs: config.idleTimeoutMs },
    onTimeout: (kind) => {
      m.connTimeouts.inc({ kind });
      log("debug", "connection timed out", { kind });
    },
    onListen: ({ hostname, port }) =>
      log("info", "listening", { hostname, port, worker: config.workerId }),
  }, app.fetch);

  const cronAbort = new AbortController();
  const sweeper = setInterval(() => {
    sweepExpired(kv, results)
      .then((r) => {
        if (r.jobs) m.sweeps.inc({ kind: "job" }, r.jobs);
        if (r.images) m.sweeps.inc({ kind: "image" }, r.images);
      })
      .catch((error) => log("error", "sweep failed", { error: String(error) }));
  }, config.sweepS * 1000);
  // Orphaned image bytes: swept at start and then every safety age.
  const sweepOrphansNow = () =>
    sweepOrphans(kv, results)
      .then((n) => {
        if (n) m.sweeps.inc({ kind: "orphan" }, n);
        log("info", "orphan sweep done", { removed: n });
      })
      .catch((error) => log("error", "orphan sweep failed", { error: String(error) }));
  let orphanSweep = sweepOrphansNow();
  const orphanSweeper = setInterval(() => orphanSweep = sweepOrphansNow(), ORPHAN_AGE_MS);

  async function bringUp(): Promise<void> {
    const t0 = performance.now();
    generator = await loadGenerator(config.engines);
    info = generator.describe();
    const seconds = (performance.now() - t0) / 1000;
    m.loadGauge.set(seconds);
    log("info", "engines loaded", { engines: config.engines, ...info, seconds });
    worker = createWorker({
      kv,
      generator,
      results,
      events,
      log,
      identity: { id: config.workerId, boot },
      concurrency: config.concurrency,
      leaseMs: config.leaseMs,
      pollMs: config.pollMs,
      retentionMs,
      observer: {
        step: (s) => m.stepHist.observe(s),
        generation: (s) => m.genHist.observe(s),
        finished: (state) => m.finishedJobs.inc({ state }),
      },
      onFinished,
    });
    if (config.warmupSteps > 0) {
      const t1 = performance.now();
      await warmUp(generator, worker, config);
      m.warmGauge.set((performance.now() - t1) / 1000);
      log("info", "warm-up done", { seconds: (performance.now() - t1) / 1000 });
    }
    if (phase !== "starting") return;
    // Crons first: a registration that fails leaves a failed process that never started its worker.
    registerSchedules(schedules, {
      kv,
      worker: config.workerId,
      log,
      signal: cronAbort.signal,
      submit: async (schedule, params) => {
        const result = await jobs.submit({
          owner: "*",
          params,
          schedule: schedule.name,
          ...(schedule.webhook ? { webhookUrl: schedule.webhook } : {}),
        });
        if (result.kind === "full") return result;
        if (result.kind !== "created") {
          throw new Error(`Cannot queue scheduled job: ${result.kind}`);
        }
        return { kind: "created", jobId: result.job.id };
      },
      observe: (schedule, result) => m.scheduleRuns.inc({ schedule: schedule.name, result }),
    });
    worker.start();
    phase = "ready";
    log("info", "ready", { schedules: schedules.map((s) => s.name) });
  }

  bringUp().catch((error) => {
    phase = "failed";
    startupError = error instanceof Error ? error.message : String(error);
    log("error", "startup failed", { error: startupError });
  });

  let resolveFinished: () => void = () => {};
  const finished = new Promise<void>((resolve) => resolveFinished = resolve);
  let draining: Promise<void> | null = null;

  function shutdown(): Promise<void> {
    draining ??= (async () => {
      phase = "draining";
      const t0 = Date.now();
      log("info", "draining", { grace_ms: config.graceMs });
      cronAbort.abort();
      clearInterval(sweeper);
      clearInterval(orphanSweeper);
      const hardExit = setTimeout(() => {
        log("error", "grace period exceeded; exiting");
        Deno.exit(1);
      }, config.graceMs);
      // Jobs and webhooks get the grace period less a reserve, in which open SSE streams and
      // synchronous waits are answered (they would hold the server open) and the process stops;
      // streams are closed once jobs are released, or halfway through the reserve at the latest.
      const reserve = Math.min(2000, Math.floor(config.graceMs / 2));
      const closeAt = setTimeout(() => closing.abort(), config.graceMs - reserve / 2);
      // Keep answering (not ready) while in-flight jobs finish or are released; webhooks go on
      // meanwhile, and those still pending after the grace period stay in KV for the next process.
      await worker?.drain(config.graceMs - reserve);
      await deliveries?.stop(Math.max(0, config.graceMs - reserve - (Date.now() - t0)));
      clearTimeout(closeAt);
      closing.abort();
      await server.shutdown();
      await generator?.close();
      await orphanSweep;
      kv.close();
      clearTimeout(hardExit);
      log("info", "stopped", { ms: Date.now() - t0 });
      resolveFinished();
    })();
    return draining;
  }

  return { addr: server.addr, finished, shutdown };
}
