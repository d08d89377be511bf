/**
 * Runs the diffusion pipeline on worker threads, one per slot, so that a backend whose inference
 * blocks its thread (ONNX Runtime's Node binding does) never stalls the HTTP event loop. The result
 * satisfies {@linkcode ImageGenerator}; `generate` calls go to a free thread (concurrency = thread
 * count). Each thread runs pipeline_thread.ts, which imports `loadPipeline` statically.
 *
 * @module
 */
import type { PipelineOptions } from "../diffusion/mod.ts";
import type {
  GeneratorInfo,
  GeneratorOptions,
  GeneratorRequest,
  GeneratorResult,
  ImageGenerator,
} from "./generator.ts";
import type { ThreadReply, ThreadRequest } from "./pipeline_thread.ts";

/** What each thread loads: the engine folder, with the pipeline's options. */
export interface ThreadedOptions {
  engineDir: string;
  /** Options of `loadPipeline` (structured-cloneable). @default {} */
  options?: PipelineOptions;
  /** Worker threads, each with its own pipeline. @default 1 */
  threads?: number;
}

interface Pending {
  resolve: (r: GeneratorResult) => void;
  reject: (e: unknown) => void;
  onStep?: (step: number, total: number) => void;
  onPreview?: GeneratorOptions["onPreview"];
}

interface Thread {
  worker: Worker;
  busy: boolean;
  pending: Map<number, Pending>;
}

function once<T extends ThreadReply["type"]>(
  worker: Worker,
  types: T[],
): Promise<Extract<ThreadReply, { type: T }>> {
  return new Promise((resolve) => {
    const listener = (e: MessageEvent<ThreadReply>) => {
      if ((types as string[]).includes(e.data.type)) {
        worker.removeEventListener("message", listener);
        resolve(e.data as Extract<ThreadReply, { type: T }>);
      }
    };
    worker.addEventListener("message", listener);
  });
}

async function startThread(
  options: ThreadedOptions,
): Promise<{ thread: Thread; info: GeneratorInfo }> {
  const worker = new Worker(new URL("./pipeline_thread.ts", import.meta.url), { type: "module" });
  const thread: Thread = { worker, busy: false, pending: new Map() };
  const loaded = once(worker, ["loaded", "load_failed"]);
  worker.postMessage(
    {
      type: "load",
      engineDir: options.engineDir,
      options: options.options ?? {},
    } satisfies ThreadRequest,
  );
  const reply = await loaded;
  if (reply.type === "load_failed") {
    worker.terminate();
    throw new Error(reply.message);
  }
  worker.addEventListener("message", (e: MessageEvent<ThreadReply>) => {
    const msg = e.data;
    if (msg.type === "loaded" || msg.type === "load_failed" || msg.type === "closed") return;
    const pending = thread.pending.get(msg.id);
    if (!pending) return;
    if (msg.type === "preview") {
      pending.onPreview?.(msg.step, { rgb: msg.rgb, width: msg.width, height: msg.height });
      return;
    }
    if (msg.type === "step") {
      pending.onStep?.(msg.step, msg.total);
      return;
    }
    thread.pending.delete(msg.id);
    if (msg.type === "done") {
      pending.resolve({ image: msg.image, width: msg.width, height: msg.height });
    } else {
      const error = msg.name === "AbortError"
        ? new DOMException(msg.message, "AbortError")
        : new Error(msg.message);
      pending.reject(error);
    }
  });
  return { thread, info: reply.info };
}

/** Loads the pipeline in `threads` worker threads and returns one generator over all of them. */
export async function threadedPipeline(options: ThreadedOptions): Promise<ImageGenerator> {
  const started = await Promise.all(
    Array.from({ length: options.threads ?? 1 }, () => startThread(options)),
  );
  const threads = started.map((s) => s.thread);
  const info = started[0].info;
  const waiting: ((t: Thread) => void)[] = [];
  let nextId = 1;

  function acquire(): Promise<Thread> {
    const free = threads.find((t) => !t.busy);
    if (free) {
      free.busy = true;
      return Promise.resolve(free);
    }
    return new Promise((resolve) => waiting.push(resolve));
  }

  function release(thread: Thread): void {
    const next = waiting.shift();
    if (next) next(thread);
    else thread.busy = false;
  }

  return {
    async generate(
      request: GeneratorRequest,
      opts: GeneratorOptions = {},
    ): Promise<GeneratorResult> {
      const thread = await acquire();
      const abort = new SharedArrayBuffer(4);
      const flag = new Int32Array(abort);
      const onAbort = () => Atomics.store(flag, 0, 1);
      if (opts.signal?.aborted) onAbort();
      opts.signal?.addEventListener("abort", onAbort);
      const id = nextId++;
      try {
        return await new Promise<GeneratorResult>((resolve, reject) => {
          thread.pending.set(id, {
            resolve,
            reject,
            onStep: opts.onStep,
            onPreview: opts.onPreview,
          });
          thread.worker.postMessage(
            { type: "generate", id, request, abort } satisfies ThreadRequest,
          );
        });
      } finally {
        opts.signal?.removeEventListener("abort", onAbort);
        release(thread);
      }
    },
    describe: () => info,
    async close() {
      await Promise.all(threads.map(async (t) => {
        const closed = once(t.worker, ["closed"]);
        t.worker.postMessage({ type: "close" } satisfies ThreadRequest);
        await closed;
        t.worker.terminate();
      }));
    },
  };
}
