/**
 * Live previews over SSE through the whole service in-process (real ONNX pipeline on its worker
 * thread, real KV, loopback HTTP): after the warm-up decode, every `step` event of a job carries a
 * PNG data URL of the picture so far, and it changes as the job denoises.
 */
import assert from "node:assert/strict";
import { call } from "./_harness.ts";
import { startInProcess } from "./_in_process.ts";

Deno.test("SSE step events carry a changing PNG preview", async () => {
  const server = await startInProcess();
  try {
    const body = { prompt: "a red circle", size: "64x64", steps: 5, sampler: "ddim" };
    const { body: job } = await call(server, "POST", "/v1/jobs", { body });
    const text = await (await fetch(`${server.url}/v1/jobs/${job.id}/events`)).text();
    const steps = text.split("\n\n").filter((b) => b.startsWith("event: step"))
      .map((b) => JSON.parse(/data: (.*)/.exec(b)![1]));
    assert.ok(steps.length >= 2, `got ${steps.length} step events`);
    for (const step of steps) {
      assert.match(step.preview, /^data:image\/png;base64,/);
      const png = Uint8Array.fromBase64(step.preview.slice("data:image/png;base64,".length));
      assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    }
    assert.notEqual(steps[0].preview, steps.at(-1).preview);
  } finally {
    await server.stop();
  }
});
