/**
 * Worker-thread side of {@linkcode threadedPipeline}: loads the diffusion pipeline and runs its
 * generations, reporting steps by message. Cancellation arrives through a shared flag, read after every
 * step, because a busy worker does not process incoming messages until its generation yields.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { loadPipeline, type PipelineOptions } from "../diffusion/mod.ts";
import type { GeneratorRequest, ImageGenerator } from "./generator.ts";

/** Messages the main thread sends. */
export type ThreadRequest =
  | { type: "load"; engineDir: string; options: PipelineOptions }
  | { type: "generate"; id: number; request: GeneratorRequest; abort: SharedArrayBuffer }
  | { type: "close" };

/** Messages the thread answers with. */
export type ThreadReply =
  | { type: "loaded"; info: ReturnType<ImageGenerator["describe"]> }
  | { type: "load_failed"; message: string }
  | { type: "step"; id: number; step: number; total: number }
  | { type: "preview"; id: number; step: number; rgb: Uint8Array; width: number; height: number }
  | { type: "done"; id: number; image: Uint8Array; width: number; height: number }
  | { type: "failed"; id: number; name: string; message: string }
  | { type: "closed" };

let generator: ImageGenerator | null = null;
const post = (reply: ThreadReply, transfer: Transferable[] = []) =>
  self.postMessage(reply, transfer);

self.onmessage = async (event: MessageEvent<ThreadRequest>) => {
  const msg = event.data;
  if (msg.type === "load") {
    try {
      generator = await loadPipeline(msg.engineDir, msg.options);
      post({ type: "loaded", info: generator!.describe() });
    } catch (error) {
      post({
        type: "load_failed",
        message: error instanceof Error ? error.message : String(error),
      });
    }
  } else if (msg.type === "generate") {
    const flag = new Int32Array(msg.abort);
    const controller = new AbortController();
    if (Atomics.load(flag, 0) === 1) controller.abort();
    try {
      const result = await generator!.generate(msg.request, {
        signal: controller.signal,
        onPreview: (step, preview) => post({ type: "preview", id: msg.id, step, ...preview }),
        onStep: (step, total) => {
          post({ type: "step", id: msg.id, step, total });
          if (Atomics.load(flag, 0) === 1) controller.abort();
        },
      });
      // Transfer (not copy) the pixels; a view into a larger buffer is copied out first.
      const whole = result.image.byteOffset === 0 &&
        result.image.byteLength === result.image.buffer.byteLength;
      const image = whole ? result.image : result.image.slice();
      post(
        { type: "done", id: msg.id, image, width: result.width, height: result.height },
        [image.buffer as ArrayBuffer],
      );
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      post({ type: "failed", id: msg.id, name: e.name, message: e.message });
    }
  } else if (msg.type === "close") {
    await generator?.close();
    post({ type: "closed" });
  }
};
