/**
 * Memory admission (issue 10 item 8): a size whose estimated peak does not fit the budget share is
 * refused with 413 naming `size` before anything is submitted; the estimate follows the backend.
 */
import assert from "node:assert/strict";
import {
  estimatePeakMiB,
  MEMORY_CURVES,
  memoryRefusal,
  resolveBudgetMiB,
} from "../../lib/jobs/memory.ts";
import { KEY_A, testApp } from "./_app.ts";

Deno.test("a size over the memory budget is 413 image_too_large naming size; nothing is submitted", async () => {
  // onnx curve: 512 MiB + 3200 MiB per megapixel -> 128x128 ~565 MiB, 256x256 ~722 MiB
  const t = await testApp({ HYDIT_MEMORY_BUDGET_MB: "600" });
  for (const path of ["/v1/jobs", "/v1/images/generations"]) {
    for (const n of [1, 4]) {
      const res = await t.call("POST", path, {
        key: KEY_A,
        body: { prompt: "a red fox", size: "256x256", n },
      });
      assert.equal(res.status, 413);
      const { error } = await res.json();
      assert.deepEqual([error.code, error.field], ["image_too_large", "size"]);
      assert.match(error.message, /256x256 image needs about 722 MiB .* 600 MiB/);
    }
  }
  assert.deepEqual(t.jobs.calls, []);
  // Images of a job run one after another: n does not change the verdict.
  const fits = await t.call("POST", "/v1/jobs", {
    key: KEY_A,
    body: { prompt: "a red fox", size: "128x128", n: 4 },
  });
  assert.equal(fits.status, 202);
  assert.deepEqual(t.jobs.calls.filter((c) => c[0] === "submit").length, 1);
});

Deno.test("the budget is shared by the jobs that run at once, and follows the backend's curve", async () => {
  const t = await testApp({ HYDIT_MEMORY_BUDGET_MB: "1200", HYDIT_CONCURRENCY: "2" });
  const big = await t.call("POST", "/v1/jobs", {
    key: KEY_A,
    body: { prompt: "a red fox", size: "256x256" },
  });
  assert.equal(big.status, 413); // 722 MiB > 1200 / 2
  t.state.info = { ...t.state.info!, backend: "tensorrt" };
  const onGpu = await t.call("POST", "/v1/jobs", {
    key: KEY_A,
    body: { prompt: "a red fox", size: "256x256" },
  });
  assert.equal(onGpu.status, 202); // host side of TensorRT: 512 + 64 * 0.066 MiB
});

Deno.test("memoryRefusal() estimates weights + curve and holds it against budget / concurrency", () => {
  const policy = { budgetMiB: 12_000, concurrency: 1, onnxWeightsMiB: 1000, backend: () => "onnx" };
  const mp = (side: number) => (side * side) / 1e6;
  assert.equal(
    estimatePeakMiB(MEMORY_CURVES.onnx, 1000, 1024, 1024),
    Math.ceil(1000 + MEMORY_CURVES.onnx.fixedMiB + MEMORY_CURVES.onnx.perMegapixelMiB * mp(1024)),
  );
  assert.equal(memoryRefusal(policy, 1024, 1024), null);
  const refused = memoryRefusal(policy, 2048, 2048);
  assert.ok(refused && refused.estimateMiB > 12_000 && refused.shareMiB === 12_000);
  assert.notEqual(memoryRefusal({ ...policy, concurrency: 4 }, 1024, 1024), null);
  // TensorRT keeps weights and activations on the GPU: the host estimate ignores the ONNX weights.
  assert.equal(memoryRefusal({ ...policy, backend: () => "tensorrt" }, 2048, 2048), null);
  assert.equal(resolveBudgetMiB(750), 750);
  assert.equal(resolveBudgetMiB(0), Math.floor(Deno.systemMemoryInfo().total / 2 ** 20));
});
