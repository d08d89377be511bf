import assert from "node:assert/strict";
import { checkPlanCompatibility, PlanCompatibilityError } from "../../lib/engine/plan_compat.ts";

Deno.test("checkPlanCompatibility() accepts the same release and GPU, refuses any other", () => {
  const built = { version: "11.1.0", gpu: "NVIDIA H100 80GB HBM3", sm: "9.0" };
  checkPlanCompatibility(built, { version: "11.1.0", gpu: "NVIDIA H100 80GB HBM3", sm: "9.0" });
  assert.throws(
    () => checkPlanCompatibility(built, { version: "10.16.1", gpu: built.gpu, sm: "9.0" }),
    (e: Error) =>
      e instanceof PlanCompatibilityError &&
      e.message.includes("built by TensorRT 11.1.0, this runtime is TensorRT 10.16.1") &&
      e.message.includes("engines:build ... --trt"),
  );
  assert.throws(
    () => checkPlanCompatibility(built, { version: "11.1.0", gpu: "NVIDIA L4", sm: "8.9" }),
    /built for compute capability 9\.0 \("NVIDIA H100 80GB HBM3"\), this GPU is 8\.9 \("NVIDIA L4"\)/,
  );
  assert.throws(
    () => checkPlanCompatibility(built, { version: "11.1.0", gpu: "NVIDIA H100 PCIe", sm: "9.0" }),
    /built for "NVIDIA H100 80GB HBM3", this GPU is "NVIDIA H100 PCIe"/,
  );
});
