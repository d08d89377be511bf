/**
 * Scheduled generation. Schedules come from a JSON file, are registered with `Deno.cron`, and every
 * replica's cron fires; an atomic KV claim per (schedule, slot) lets exactly one of them submit the job.
 * A slot that finds the queue full is retried within the slot and recorded, never dropped silently.
 *
 * File format: `{ "schedules": [{ "name", "cron", "request": { ...POST /v1/jobs body }, "destination"?:
 * { "webhook"?: url } }] }`. Images always go to the results store.
 *
 * @module
 */
import { cronNameError, type CronSpec, nextRun, parseCron } from "./cron.ts";
import type { Log } from "../log.ts";
import { type GenerationParams, keys } from "./job.ts";
import { withKvRetry } from "./kv_retry.ts";

/** A validated schedule. */
export interface Schedule {
  name: string;
  cron: string;
  spec: CronSpec;
  params: GenerationParams;
  /** Whether an explicit seed was given; otherwise each run draws a fresh one. */
  fixedSeed: boolean;
  webhook?: string;
}

/** How the last slot of a schedule went: its job queued, refused by a full queue, or an error. */
export type SlotStatus = "queued" | "queue_full" | "failed";

/** What the last run of a schedule did (`["schedule", name]`), updated after every try. */
export interface ScheduleState {
  lastSlot: number;
  /** Time of the latest try in the slot. */
  lastRunAt: number;
  status: SlotStatus;
  /** Tries made in the slot (more than one when the queue was full). */
  tries: number;
  lastJobId: string | null;
  error?: string;
}

/** What submitting a scheduled job came to. */
export type SlotSubmission = { kind: "created"; jobId: string } | { kind: "full"; depth: number };

/** The parsed request of a schedule, as the HTTP layer validates it. */
export interface ParsedRequest {
  params: GenerationParams;
  fixedSeed: boolean;
  webhook?: string;
}

const NAME = /^[A-Za-z0-9_-]+$/;

/** Prefix of each schedule's `Deno.cron` name. */
export const CRON_PREFIX = "hydit-";

/** At most this many schedules (`Deno.cron` allows about 100 crons per process). */
export const MAX_SCHEDULES = 100;

/** The `Deno.cron` name of a schedule. */
export function cronName(schedule: string): string {
  return `${CRON_PREFIX}${schedule}`;
}

/**
 * Reads and validates a schedules file: names and cron expressions exactly as `Deno.cron` takes
 * them (so registering cannot fail later), and each request as `POST /v1/jobs` does. Errors name
 * the file, the entry and the field. `parseRequest` throws a message naming the request field
 * (an error with a `field` property gives its path).
 */
export async function loadSchedules(
  path: string,
  parseRequest: (raw: unknown) => ParsedRequest,
): Promise<Schedule[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    throw new Error(`Cannot read schedules file "${path}": ${(error as Error).message}`);
  }
  const list = (raw as { schedules?: unknown })?.schedules;
  if (!Array.isArray(list)) {
    throw new TypeError(`Cannot read schedules file "${path}": no "schedules" array`);
  }
  if (list.length > MAX_SCHEDULES) {
    throw new RangeError(
      `Cannot read schedules file "${path}": ${list.length} schedules, at most ${MAX_SCHEDULES}`,
    );
  }
  const seen = new Set<string>();
  return list.map((item, i) => {
    const { name, cron, request, destination } = item ?? {};
    const label = typeof name === "string" ? ` ("${name}")` : "";
    const bad = (field: string, why: string): never => {
      throw new TypeError(
        `Cannot read schedules file "${path}", entry ${i}${label}, field "${field}": ${why}`,
      );
    };
    if (typeof name !== "string" || !NAME.test(name)) {
      bad("name", "must be letters, digits, - and _");
    }
    const nameError = cronNameError(cronName(name));
    if (nameError) bad("name", `Deno.cron name "${cronName(name)}" is ${nameError}`);
    if (seen.has(name)) bad("name", `duplicate name "${name}"`);
    seen.add(name);
    if (typeof cron !== "string") bad("cron", "must be a string");
    let spec: CronSpec;
    try {
      spec = parseCron(cron);
    } catch (error) {
      return bad("cron", (error as Error).message);
    }
    const webhook = destination?.webhook;
    try {
      const parsed = parseRequest(
        webhook === undefined ? request : { ...request, webhook_url: webhook },
      );
      return { name, cron, spec, ...parsed };
    } catch (error) {
      const field = (error as { field?: string }).field;
      const where = field === "webhook_url" && webhook !== undefined
        ? "destination.webhook"
        : field
        ? `request.${field}`
        : "request";
      return bad(where, (error as Error).message);
    }
  });
}

/** The next run of a schedule after `now`. */
export function nextRunOf(schedule: Schedule, now = new Date()): Date | null {
  return nextRun(schedule.spec, now);
}

/** Claims one slot of a schedule for this worker; false if another replica already did. */
export async function claimSlot(
  kv: Deno.Kv,
  schedule: string,
  slot: number,
  worker: string,
): Promise<boolean> {
  const key = keys.slot(schedule, new Date(slot).toISOString());
  const res = await withKvRetry(() =>
    kv.atomic().check({ key, versionstamp: null })
      .set(key, { worker, at: Date.now() }, { expireIn: 7 * 86_400_000 })
      .commit()
  );
  return res.ok;
}

/** Reads the last-run state of each schedule. */
export async function scheduleStates(
  kv: Deno.Kv,
  names: readonly string[],
): Promise<Map<string, ScheduleState>> {
  const out = new Map<string, ScheduleState>();
  for (const name of names) {
    const entry = await withKvRetry(() => kv.get<ScheduleState>(keys.scheduleState(name)));
    if (entry.value) out.set(name, entry.value);
  }
  return out;
}

/** Options for {@linkcode registerSchedules}. */
export interface RegisterOptions {
  kv: Deno.Kv;
  worker: string;
  log: Log;
  /** Submits the job of one run. */
  submit: (schedule: Schedule, params: GenerationParams) => Promise<SlotSubmission>;
  /**
   * Called after each try with its result: "queued", "queue_full" (will retry), "skipped" (the queue
   * stayed full for the whole slot) or "failed" (metrics).
   */
  observe?: (schedule: Schedule, result: SlotStatus | "skipped") => void;
  /** Wait between tries while the queue is full. @default 5000 */
  retryMs?: number;
  /** Tries stop this long after the slot began. @default 50000 */
  slotWindowMs?: number;
  signal?: AbortSignal;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

/**
 * Runs one slot: claims it, submits the job and records the run. While the queue is full it records a
 * `queue_full` state (visible in `GET /v1/schedules`) and tries again every `retryMs` until the slot's
 * window ends; then the slot is skipped. Returns the job id, or null when the slot was taken by another
 * replica or skipped.
 */
export async function runSlot(
  schedule: Schedule,
  slot: number,
  options: RegisterOptions,
): Promise<string | null> {
  const { kv, log } = options;
  if (!(await claimSlot(kv, schedule.name, slot, options.worker))) {
    log("info", "schedule slot taken by another replica", { schedule: schedule.name, slot });
    return null;
  }
  const seed = schedule.fixedSeed
    ? schedule.params.seed
    : crypto.getRandomValues(new Uint32Array(1))[0];
  const record = (state: Omit<ScheduleState, "lastSlot" | "lastRunAt">) =>
    withKvRetry(() =>
      kv.set(keys.scheduleState(schedule.name), { lastSlot: slot, lastRunAt: Date.now(), ...state })
    );
  const deadline = slot + (options.slotWindowMs ?? 50_000);
  for (let tries = 1;; tries++) {
    let result: SlotSubmission;
    try {
      result = await options.submit(schedule, { ...schedule.params, seed });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await record({ status: "failed", tries, lastJobId: null, error: message });
      options.observe?.(schedule, "failed");
      throw error;
    }
    if (result.kind === "created") {
      await record({ status: "queued", tries, lastJobId: result.jobId });
      options.observe?.(schedule, "queued");
      log("info", "schedule slot ran", { schedule: schedule.name, slot, job: result.jobId, tries });
      return result.jobId;
    }
    const retryMs = options.retryMs ?? 5_000;
    const retry = Date.now() + retryMs <= deadline && !options.signal?.aborted;
    const error = `Queue full (${result.depth} jobs): ${
      retry ? `retrying in ${retryMs} ms` : "slot skipped"
    }`;
    await record({ status: "queue_full", tries, lastJobId: null, error });
    options.observe?.(schedule, retry ? "queue_full" : "skipped");
    log("warn", retry ? "schedule slot found the queue full" : "schedule slot skipped", {
      schedule: schedule.name,
      slot,
      tries,
      depth: result.depth,
    });
    if (!retry) return null;
    await sleep(retryMs, options.signal);
  }
}

/** Registers every schedule with `Deno.cron` (never awaited: the promise lives as long as the cron). */
export function registerSchedules(schedules: readonly Schedule[], options: RegisterOptions): void {
  for (const schedule of schedules) {
    Deno.cron(cronName(schedule.name), schedule.cron, { signal: options.signal }, async () => {
      const slot = Math.floor(Date.now() / 60_000) * 60_000;
      try {
        await runSlot(schedule, slot, options);
      } catch (error) {
        options.log("error", "schedule run failed", {
          schedule: schedule.name,
          error: String(error),
        });
      }
    });
  }
}
