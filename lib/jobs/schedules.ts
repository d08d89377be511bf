/**
 * Scheduled generation. Schedules come from a JSON file, are registered with `Deno.cron`, and every
 * replica's cron fires; an atomic KV claim per (schedule, slot) lets exactly one of them submit the job.
 *
 * File format: `{ "schedules": [{ "name", "cron", "request": { ...POST /v1/jobs body }, "destination"?:
 * { "webhook"?: url } }] }`. Images always go to the results store.
 *
 * @module
 */
import { type CronSpec, nextRun, parseCron } from "./cron.ts";
import { type GenerationParams, keys, type Log } from "./job.ts";
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

/** What the last run of a schedule did (`["schedule", name]`). */
export interface ScheduleState {
  lastSlot: number;
  lastJobId: string;
  lastRunAt: number;
}

/** The parsed request of a schedule, as the HTTP layer validates it. */
export interface ParsedRequest {
  params: GenerationParams;
  fixedSeed: boolean;
  webhook?: string;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Reads and validates a schedules file. `parseRequest` validates each request exactly like
 * `POST /v1/jobs` does and throws a message naming the field.
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
  const seen = new Set<string>();
  return list.map((item, i) => {
    const where = `schedules file "${path}", entry ${i}`;
    const { name, cron, request, destination } = item ?? {};
    if (typeof name !== "string" || !NAME.test(name)) {
      throw new TypeError(`Cannot read ${where}: "name" must match ${NAME}`);
    }
    if (seen.has(name)) throw new TypeError(`Cannot read ${where}: duplicate name "${name}"`);
    seen.add(name);
    if (typeof cron !== "string") {
      throw new TypeError(`Cannot read ${where}: "cron" must be a string`);
    }
    let spec: CronSpec;
    let parsed: ParsedRequest;
    try {
      spec = parseCron(cron);
      const webhook = destination?.webhook;
      parsed = parseRequest(webhook === undefined ? request : { ...request, webhook_url: webhook });
    } catch (error) {
      throw new TypeError(`Cannot read ${where} ("${name}"): ${(error as Error).message}`);
    }
    return { name, cron, spec, ...parsed };
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
  /** Submits the job of one run; returns its id. */
  submit: (schedule: Schedule, params: GenerationParams) => Promise<string>;
  signal?: AbortSignal;
}

/** Runs one slot: claims it, submits the job, records the run. Returns the job id or null. */
export async function runSlot(
  schedule: Schedule,
  slot: number,
  options: RegisterOptions,
): Promise<string | null> {
  if (!(await claimSlot(options.kv, schedule.name, slot, options.worker))) {
    options.log("info", "schedule slot taken by another replica", {
      schedule: schedule.name,
      slot,
    });
    return null;
  }
  const seed = schedule.fixedSeed
    ? schedule.params.seed
    : crypto.getRandomValues(new Uint32Array(1))[0];
  const jobId = await options.submit(schedule, { ...schedule.params, seed });
  const state: ScheduleState = { lastSlot: slot, lastJobId: jobId, lastRunAt: Date.now() };
  await withKvRetry(() => options.kv.set(keys.scheduleState(schedule.name), state));
  options.log("info", "schedule slot ran", { schedule: schedule.name, slot, job: jobId });
  return jobId;
}

/** Registers every schedule with `Deno.cron` (never awaited: the promise lives as long as the cron). */
export function registerSchedules(schedules: readonly Schedule[], options: RegisterOptions): void {
  for (const schedule of schedules) {
    Deno.cron(`hydit-${schedule.name}`, schedule.cron, { signal: options.signal }, async () => {
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
