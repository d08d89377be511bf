import assert from "node:assert/strict";
import {
  ALL_COMPONENTS,
  type BackendFacts,
  parseBackendPreference,
  probeBackend,
  selectBackend,
} from "../../lib/engine/backend_select.ts";

function facts(overrides: Partial<BackendFacts> = {}): BackendFacts {
  return {
    preference: "auto",
    shim: { path: "/opt/hydit/lib/libhydit_trt.so", exists: true },
    plans: { required: ALL_COMPONENTS, present: ALL_COMPONENTS },
    ...overrides,
  };
}

Deno.test("selectBackend() picks tensorrt when the shim, every plan and the GPU are usable", () => {
  const choice = selectBackend(facts());
  assert.equal(choice.backend, "tensorrt");
  assert.match(choice.reason, /libhydit_trt\.so/);
});

Deno.test("selectBackend() falls back to onnx under auto and says why", () => {
  const cases: [Partial<BackendFacts>, RegExp][] = [
    [
      { shim: { path: "/x/libhydit_trt.so", exists: false } },
      /shim \/x\/libhydit_trt\.so does not exist/,
    ],
    [{ plans: { required: ALL_COMPONENTS, present: [] } }, /has no TensorRT plans/],
    [
      { plans: { required: ALL_COMPONENTS, present: ["transformer", "vae_decoder"] } },
      /lacks TensorRT plans for text_encoder, text_encoder_2$/,
    ],
    [{ runtimeProblem: "cudaGetDeviceCount failed: cudaErrorNoDevice" }, /cudaErrorNoDevice/],
  ];
  for (const [override, reason] of cases) {
    const choice = selectBackend(facts(override));
    assert.equal(choice.backend, "onnx");
    assert.match(choice.reason, /^using onnx because /);
    assert.match(choice.reason, reason);
  }
});

Deno.test("selectBackend() honours an explicit onnx and refuses an impossible explicit tensorrt", () => {
  assert.deepEqual(selectBackend(facts({ preference: "onnx" })), {
    backend: "onnx",
    reason: "HYDIT_BACKEND=onnx",
  });
  assert.equal(selectBackend(facts({ preference: "tensorrt" })).backend, "tensorrt");
  assert.throws(
    () =>
      selectBackend(
        facts({ preference: "tensorrt", runtimeProblem: "plans built by TensorRT 10.16.1" }),
      ),
    /Cannot use the tensorrt backend \(HYDIT_BACKEND=tensorrt\): plans built by TensorRT 10\.16\.1/,
  );
});

Deno.test("selectBackend() only requires the plans it is told to require", () => {
  const choice = selectBackend(
    facts({ plans: { required: ["transformer"], present: ["transformer"] } }),
  );
  assert.equal(choice.backend, "tensorrt");
});

Deno.test("parseBackendPreference() accepts auto, onnx, tensorrt and rejects anything else", () => {
  assert.equal(parseBackendPreference(undefined), "auto");
  assert.equal(parseBackendPreference(""), "auto");
  assert.equal(parseBackendPreference(" TensorRT "), "tensorrt");
  assert.equal(parseBackendPreference("onnx"), "onnx");
  assert.throws(() => parseBackendPreference("cuda"), /Invalid HYDIT_BACKEND "cuda"/);
});

Deno.test("probeBackend() reads plans from the manifest and falls back when the shim is missing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/manifest.json`,
      JSON.stringify({ tensorrt: { plans: { transformer: "transformer.plan" } } }),
    );
    await Deno.writeTextFile(`${dir}/transformer.plan`, "plan");
    const missingShim = await probeBackend(dir, { shimPath: `${dir}/libhydit_trt.so` });
    assert.equal(missingShim.backend, "onnx");
    assert.match(missingShim.reason, /libhydit_trt\.so does not exist/);

    await Deno.writeTextFile(`${dir}/libhydit_trt.so`, "");
    const missingPlans = await probeBackend(dir, { shimPath: `${dir}/libhydit_trt.so` });
    assert.match(
      missingPlans.reason,
      /lacks TensorRT plans for text_encoder, text_encoder_2, vae_decoder/,
    );

    const noManifest = await probeBackend(`${dir}/nowhere`, { shimPath: `${dir}/libhydit_trt.so` });
    assert.match(noManifest.reason, /has no TensorRT plans/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
