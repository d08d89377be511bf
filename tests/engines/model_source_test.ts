/**
 * What the builder records about a checkpoint: the model spec from serving.json (validated, naming
 * file and field) or derived from the transformer config, and the digest that marks stale builds.
 */
import assert from "node:assert/strict";
import { checkpointDigest, readModelSpec, SERVING_FILE } from "../../engines/model_source.ts";
import { deriveModelSpec, STANDARD_SIZES } from "../../lib/diffusion/mod.ts";
import { GOLDEN } from "../engine/goldens.ts";

const TINY = `${GOLDEN}tiny/tiny-v12`;

/** A checkpoint folder with the tiny transformer config and, when given, a serving.json. */
async function checkpoint(serving?: unknown): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "model_source_test_" });
  await Deno.mkdir(`${dir}/transformer`);
  await Deno.copyFile(`${TINY}/transformer/config.json`, `${dir}/transformer/config.json`);
  if (serving !== undefined) {
    await Deno.writeTextFile(`${dir}/${SERVING_FILE}`, JSON.stringify(serving));
  }
  return dir;
}

const SPEC = {
  name: "hydit-tiny",
  description: "shapes",
  defaults: { width: 128, height: 128, steps: 20, guidanceScale: 4.5, sampler: "dpmpp" },
  sizes: [[128, 128]],
};

Deno.test("readModelSpec() takes serving.json as written", async () => {
  const dir = await checkpoint(SPEC);
  try {
    assert.deepEqual(await readModelSpec(dir), SPEC);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readModelSpec() derives a card from the transformer config without serving.json", async () => {
  const dir = await checkpoint();
  try {
    const spec = await readModelSpec(dir);
    assert.equal(spec.name, dir.split("/").pop());
    assert.deepEqual(spec.defaults, {
      width: 64,
      height: 64,
      steps: 50,
      guidanceScale: 5,
      sampler: "ddpm",
    });
    assert.deepEqual(spec.sizes, [[64, 64]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a real checkpoint (sample_size 128) defaults to 1024x1024 and lists the 10 trained sizes", () => {
  const spec = deriveModelSpec("HunyuanDiT-v1.2-Diffusers", { sample_size: 128 });
  assert.deepEqual(spec.defaults, {
    width: 1024,
    height: 1024,
    steps: 50,
    guidanceScale: 5,
    sampler: "ddpm",
  });
  assert.deepEqual(spec.sizes, STANDARD_SIZES.map((s) => [s.width, s.height]));
});

Deno.test("a bad serving.json is refused naming the file and the field", async () => {
  const cases: [unknown, RegExp][] = [
    [{ ...SPEC, defaults: { ...SPEC.defaults, sampler: "euler" } }, /sampler: "euler" is not one/],
    [{ ...SPEC, defaults: { ...SPEC.defaults, steps: 0 } }, /field "defaults\.steps"/],
    [{ ...SPEC, sizes: [] }, /field "sizes"/],
    [{ ...SPEC, colour: "red" }, /colour/],
  ];
  for (const [serving, message] of cases) {
    const dir = await checkpoint(serving);
    try {
      await assert.rejects(readModelSpec(dir), (e: Error) => {
        assert.match(e.message, new RegExp(`${SERVING_FILE}`));
        assert.match(e.message, message);
        return true;
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("checkpointDigest() is the same for equal folders and changes with a file's content", async () => {
  const a = await checkpoint(SPEC);
  const b = await checkpoint(SPEC);
  try {
    assert.equal(await checkpointDigest(a), await checkpointDigest(b));
    await Deno.writeTextFile(`${b}/${SERVING_FILE}`, JSON.stringify({ ...SPEC, name: "other" }));
    assert.notEqual(await checkpointDigest(a), await checkpointDigest(b));
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});
