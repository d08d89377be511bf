/**
 * Per-model request defaults: a request that names only its prompt gets the served model's size,
 * steps, guidance and sampler, `GET /v1/models` states them, and the OpenAPI document says them.
 */
import assert from "node:assert/strict";
import type { ModelCard } from "../../lib/diffusion/mod.ts";
import { KEY_A, testApp } from "./_app.ts";

const TINY: ModelCard = {
  name: "hydit-tiny",
  description: "shapes",
  defaults: { width: 128, height: 128, steps: 20, guidanceScale: 4.5, sampler: "dpmpp" },
  sizes: [{ width: 128, height: 128 }],
};

Deno.test("a prompt-only request gets the model's size, steps, guidance and sampler", async () => {
  const t = await testApp({}, TINY);
  const res = await t.call("POST", "/v1/jobs", { key: KEY_A, body: { prompt: "a red circle" } });
  assert.equal(res.status, 202);
  const [[, submission]] = t.jobs.calls as [string, { params: Record<string, unknown> }][];
  const { width, height, steps, guidanceScale, sampler } = submission.params;
  assert.deepEqual(
    { width, height, steps, guidanceScale, sampler },
    { width: 128, height: 128, steps: 20, guidanceScale: 4.5, sampler: "dpmpp" },
  );
});

Deno.test("a real checkpoint's card keeps diffusers' defaults, the size clamped to the sides", async () => {
  const t = await testApp({ HYDIT_MAX_SIDE: "1280" });
  await t.call("POST", "/v1/jobs", { key: KEY_A, body: { prompt: "a cat" } });
  const [[, submission]] = t.jobs.calls as [string, { params: Record<string, unknown> }][];
  const { width, height, steps, guidanceScale, sampler } = submission.params;
  assert.deepEqual(
    { width, height, steps, guidanceScale, sampler },
    { width: 1024, height: 1024, steps: 50, guidanceScale: 5, sampler: "ddpm" },
  );
  const small = await testApp({ HYDIT_MAX_SIDE: "512" });
  await small.call("POST", "/v1/jobs", { key: KEY_A, body: { prompt: "a cat" } });
  const [[, clamped]] = small.jobs.calls as [string, { params: Record<string, unknown> }][];
  assert.equal(clamped.params.width, 512);
});

Deno.test("GET /v1/models states the defaults and sizes; /openapi.json describes them", async () => {
  const t = await testApp({}, TINY);
  const unauthorised = await t.call("GET", "/v1/models");
  assert.equal(unauthorised.status, 401);
  await unauthorised.body?.cancel();
  const res = await t.call("GET", "/v1/models", { key: KEY_A });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    object: "list",
    data: [{
      id: "hydit-tiny",
      object: "model",
      description: "shapes",
      defaults: { size: "128x128", steps: 20, guidance_scale: 4.5, sampler: "dpmpp" },
      sizes: ["128x128"],
    }],
  });
  const doc = await (await t.call("GET", "/openapi.json")).json();
  const props = doc.components.schemas.GenerationRequest.properties;
  assert.match(props.steps.description, /Default 20\./);
  assert.match(props.sampler.description, /Default dpmpp\./);
  assert.match(props.size.description, /Default 128x128\./);
});
