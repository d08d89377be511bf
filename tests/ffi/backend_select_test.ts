import assert from "node:assert/strict";
import { GRAPH_NAMES } from "../../lib/engine/components.ts";
import {
  type BackendFacts,
  parseBackendPreference,
  probeBackend,
  selectBackend,
} from "../../lib/engine/backend_select.ts";
import {
  BUILDER_VERSION,
  fileEntry,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  ManifestError,
  validateManifest,
  writeManifest,
} from "../../lib/engine/manifest.ts";
import { resolvePlanShapes } from "../../engines/trt_profile.ts";

function facts(overrides: Partial<BackendFacts> = {}): BackendFacts {
  return {
    preference: "auto",
    shim: { path: "/opt/hydit/lib/libhydit_trt.so", exists: true },
    plans: { required: GRAPH_NAMES, present: GRAPH_NAMES },
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
    [{ plans: { required: GRAPH_NAMES, present: [] } }, /has no TensorRT plans/],
    [
      { plans: { required: GRAPH_NAMES, present: ["transformer", "vae_decoder"] } },
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

/** A valid manifest listing one plan (what `engines:build --only transformer --trt` would write). */
async function writePlanManifest(dir: string): Promise<void> {
  await Deno.writeTextFile(`${dir}/transformer.plan`, "plan");
  const manifest = {
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    builder: { name: "engines/build.ts", version: BUILDER_VERSION },
    createdAt: new Date(0).toISOString(),
    modelVersion: null,
    precision: "fp16",
    source: { checkpoint: "ckpt", modelIndex: null },
    components: {},
    tokenizers: {},
    tensorrt: {
      version: "11.1.0",
      gpu: "NVIDIA H100 80GB HBM3",
      sm: "9.0",
      shapes: resolvePlanShapes(),
      plans: { transformer: "transformer.plan" },
      builtAt: new Date(0).toISOString(),
    },
    files: { "transformer.plan": await fileEntry(`${dir}/transformer.plan`) },
  };
  await writeManifest(dir, validateManifest(manifest));
}

Deno.test("probeBackend() reads plans from the manifest and falls back when the shim is missing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writePlanManifest(dir);
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

    await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify({ tensorrt: {} }));
    await assert.rejects(
      probeBackend(dir, { shimPath: `${dir}/libhydit_trt.so` }),
      (e: Error) => e instanceof ManifestError && /field "format"/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
