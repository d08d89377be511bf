/**
 * An in-memory `Jobs` for HTTP tests: it records every call, keeps job statuses and images in maps,
 * publishes events through a real event hub, and answers each method from what the test set up.
 * Job policy (visibility, retention, queue bounds) is tested on the real facade, not here.
 */
import { createJobEvents, type JobEvents } from "../../lib/jobs/events.ts";
import type { GenerationParams, ImageMeta, JobRecord } from "../../lib/jobs/job.ts";
import type {
  ImageRead,
  Jobs,
  JobStatus,
  ScheduleStatus,
  Submission,
  SubmitOutcome,
} from "../../lib/jobs/jobs.ts";
import type { CancelResult } from "../../lib/jobs/store.ts";
import type { WaitResult } from "../../lib/jobs/wait.ts";
import { testParams } from "../service/_params.ts";

/** The fake, with its state and call log open to the test. */
export interface FakeJobs extends Jobs {
  /** Every call, in order: the method name and its arguments. */
  calls: [string, ...unknown[]][];
  /** Jobs by id, as `view` returns them to any caller. */
  statuses: Map<string, JobStatus>;
  /** Images by id, as `readImage` returns them to any caller. */
  images: Map<string, { meta: ImageMeta; bytes: Uint8Array<ArrayBuffer> | null }>;
  /** The hub `subscribe` follows; tests publish on it. */
  events: JobEvents;
  /** Answers set by the test; without one, `submit` creates a queued job and `wait` returns it. */
  next: {
    submit?: SubmitOutcome;
    wait?: WaitResult;
    cancel?: CancelResult;
    depth?: number;
    schedules?: ScheduleStatus[];
    stepSeconds?: number;
  };
  /** Makes every method throw (an unexpected failure behind the HTTP layer). */
  broken?: Error;
}

let counter = 0;

/** A job record with a fresh id, owned by `owner`, with `overrides` applied. */
export function fakeJob(owner: string, overrides: Partial<JobRecord> = {}): JobRecord {
  const id = (++counter).toString(16).padStart(32, "0");
  return {
    id,
    owner,
    state: "queued",
    params: testParams(),
    createdAt: Date.UTC(2026, 0, 1),
    attempts: 0,
    images: [],
    ...overrides,
  };
}

/** A status of `job` at queue position 0 with no ETA. */
export function statusOf(job: JobRecord): JobStatus {
  return { job, progress: null, estimate: { position: 0, etaSeconds: null } };
}

/** Creates an empty fake. */
export function fakeJobs(): FakeJobs {
  const fake: FakeJobs = {
    calls: [],
    statuses: new Map(),
    images: new Map(),
    events: createJobEvents(),
    next: {},
    submit(submission: Submission) {
      record("submit", submission);
      if (fake.next.submit) return Promise.resolve(fake.next.submit);
      const params: GenerationParams = submission.params;
      const job = fakeJob(submission.owner, { params });
      fake.statuses.set(job.id, statusOf(job));
      return Promise.resolve({ kind: "created", job });
    },
    view(id, owner, options) {
      record("view", id, owner, options);
      return Promise.resolve(fake.statuses.get(id) ?? null);
    },
    list(owner, page) {
      record("list", owner, page);
      const mine = [...fake.statuses.values()].filter((s) => s.job.owner === owner)
        .sort((a, b) => b.job.createdAt - a.job.createdAt);
      const start = page.cursor ? Number(page.cursor) : 0;
      if (!Number.isInteger(start)) return Promise.resolve(null);
      const jobs = mine.slice(start, start + page.limit);
      const more = start + page.limit < mine.length;
      return Promise.resolve({ jobs, cursor: more ? String(start + page.limit) : null });
    },
    cancel(id, owner) {
      record("cancel", id, owner);
      if (!fake.statuses.has(id)) return Promise.resolve(null);
      return Promise.resolve(fake.next.cancel ?? "cancelled");
    },
    wait(id, options) {
      record("wait", id, options);
      const job = fake.statuses.get(id)?.job ?? null;
      return Promise.resolve(fake.next.wait ?? { job, images: new Map() });
    },
    readImage(id, owner) {
      record("readImage", id, owner);
      const image = fake.images.get(id);
      if (!image) return Promise.resolve(null);
      const read: ImageRead = {
        meta: image.meta,
        read: () => {
          record("read", id);
          return Promise.resolve(image.bytes);
        },
      };
      return Promise.resolve(read);
    },
    queueDepth() {
      record("queueDepth");
      return Promise.resolve(fake.next.depth ?? 0);
    },
    stepSeconds: () => fake.next.stepSeconds ?? 0,
    listSchedules() {
      record("listSchedules");
      return Promise.resolve(fake.next.schedules ?? []);
    },
    subscribe(id, listener) {
      record("subscribe", id);
      return fake.events.subscribe(id, listener);
    },
  };
  function record(method: string, ...args: unknown[]): void {
    fake.calls.push([method, ...args]);
    if (fake.broken) throw fake.broken;
  }
  return fake;
}
