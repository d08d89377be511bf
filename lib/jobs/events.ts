/**
 * In-process job events for live progress (SSE) and for waking waiters. Events for jobs run by another
 * process are not seen here; readers fall back to polling the KV record.
 *
 * @module
 */
import type { JobRecord } from "./job.ts";

/** One thing that happened to a job. */
export type JobEvent =
  | { type: "started"; attempt: number }
  | {
    type: "step";
    image: number;
    step: number;
    steps: number;
    stepSeconds: number;
    /** A small PNG of the picture so far (when the generator made one for this step). */
    preview?: Uint8Array;
  }
  | {
    type: "image";
    index: number;
    imageId: string;
    /** The encoded image, for in-process waiters (the results store holds the same bytes). */
    bytes: Uint8Array;
  }
  | { type: "succeeded" | "failed" | "cancelled"; job: JobRecord };

/** Listener for one job's events. */
export type JobListener = (event: JobEvent) => void;

/** A publish/subscribe hub keyed by job id. */
export interface JobEvents {
  publish(jobId: string, event: JobEvent): void;
  /** Returns the unsubscribe function. */
  subscribe(jobId: string, listener: JobListener): () => void;
}

/** Creates an empty hub. */
export function createJobEvents(): JobEvents {
  const listeners = new Map<string, Set<JobListener>>();
  return {
    publish(jobId, event) {
      for (const listener of listeners.get(jobId) ?? []) listener(event);
    },
    subscribe(jobId, listener) {
      let set = listeners.get(jobId);
      if (!set) listeners.set(jobId, set = new Set());
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(jobId);
      };
    },
  };
}
