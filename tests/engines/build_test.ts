import assert from "node:assert/strict";
import { COMPONENT_NAMES } from "../../lib/engine/components.ts";
import { readManifest, validateManifest, verifyFiles } from "../../lib/engine/manifest.ts";
import { openCheckpoint } from "../../lib/onnx/safetensors.ts";
import { checkpointDigest } from "../../engines/model_source.ts";
import { loadEngineSet } from "../../lib/engine/engine_set.ts";
import { compare, GOLDEN, goldenCases, goldenFeeds, goldenOutput } from "../engine/goldens.ts";

const BUILD = new URL("../../engines/build.ts", import.meta.url).pathname;
const TINY = `${GOLDEN}tiny`;

async function cli(...args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", BUILD, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** `engines:build --checkpoint ckpt --out out --only transformer` with `extra` arguments. */
function buildTransformer(ckpt: string, out: string, ...extra: string[]) {
  return cli("--checkpoint", ckpt, "--out", out, "--only", "transformer", ...extra);
}

/** A folder holding only transformer/config.json and its safetensors (the outside contract). */
async function transformerOnly(
  variant: string,
  edit: {
    config?: (c: Record<string, unknown>) => void;
    dropTensor?: string;
    sharded?: boolean;
  } = {},
): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "build_test_ckpt_" });
  const src = `${TINY}/tiny-${variant}/transformer`;
  await Deno.mkdir(`${root}/transformer`);
  const config = JSON.parse(await Deno.readTextFile(`${src}/config.json`));
  edit.config?.(config);
  await Deno.writeTextFile(`${root}/transformer/config.json`, JSON.stringify(config));
  let weights: Uint8Array = await Deno.readFile(`${src}/diffusion_pytorch_model.safetensors`);
  if (edit.dropTensor) weights = dropFromSafetensors(weights, edit.dropTensor);
  await Deno.writeFile(`${root}/transformer/diffusion_pytorch_model.safetensors`, weights);
  if (edit.sharded) await shard(`${root}/transformer`);
  return root;
}

/** Rewrites a single-file checkpoint as two shards plus `diffusion_pytorch_model.safetensors.index.json`. */
async function shard(dir: string): Promise<void> {
  const path = `${dir}/diffusion_pytorch_model.safetensors`;
  const ckpt = await openCheckpoint(path);
  const names = [...ckpt.entries.keys()].sort();
  const parts = [names.slice(0, names.length / 2), names.slice(names.length / 2)];
  const weightMap: Record<string, string> = {};
  for (const [i, part] of parts.entries()) {
    const file = `diffusion_pytorch_model-0000${i + 1}-of-00002.safetensors`;
    const header: Record<string, unknown> = {};
    const chunks: Uint8Array[] = [];
    let offset = 0;
    for (const name of part) {
      const e = ckpt.entries.get(name)!;
      header[name] = {
        dtype: e.dtype,
        shape: e.shape,
        data_offsets: [offset, offset + e.byteLength],
      };
      chunks.push(await ckpt.readBytes(name));
      offset += e.byteLength;
      weightMap[name] = file;
    }
    const json = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + offset);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    let at = 8 + json.length;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    await Deno.writeFile(`${dir}/${file}`, out);
  }
  ckpt.close();
  await Deno.remove(path);
  await Deno.writeTextFile(`${path}.index.json`, JSON.stringify({ weight_map: weightMap }));
}

/** Removes one tensor from a safetensors header (its bytes stay as unreferenced padding). */
function dropFromSafetensors(file: Uint8Array, name: string): Uint8Array {
  const len = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + len)));
  assert.ok(name in header, `fixture has ${name}`);
  delete header[name];
  let text = JSON.stringify(header);
  text = text.padEnd(len, " "); // same header length keeps every data offset valid
  const out = file.slice();
  out.set(new TextEncoder().encode(text), 8);
  return out;
}

/** Runs `fn` on a {@linkcode transformerOnly} checkpoint and an empty output parent, then removes both. */
async function withCheckpoint(
  args: Parameters<typeof transformerOnly>,
  fn: (ckpt: string, parent: string) => Promise<void>,
): Promise<void> {
  const ckpt = await transformerOnly(...args);
  const parent = await Deno.makeTempDir({ prefix: "build_test_out_" });
  try {
    await fn(ckpt, parent);
  } finally {
    await Deno.remove(ckpt, { recursive: true });
    await Deno.remove(parent, { recursive: true });
  }
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("engines:build --only transformer works on a folder with only the transformer", async () => {
  await withCheckpoint(["v12"], async (ckpt, parent) => {
    const out = `${parent}/engine`;
    const r = await buildTransformer(ckpt, out, "--precision", "fp32");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /transformer: done fp32/);
    assert.deepEqual(await entries(parent), ["engine"], "no staging folder left behind");
    assert.deepEqual(await entries(out), [
      "manifest.json",
      "transformer.onnx",
      "transformer.weights",
    ]);

    const manifest = await readManifest(out);
    assert.equal(manifest.modelVersion, "v1.2");
    assert.equal(manifest.precision, "fp32");
    assert.deepEqual(Object.keys(manifest.components), ["transformer"]);
    assert.deepEqual(Object.keys(manifest.files).sort(), [
      "transformer.onnx",
      "transformer.weights",
    ]);
    assert.deepEqual(manifest.components.transformer!.outputs, [
      { name: "output", dtype: "float32", shape: ["batch", 8, "height", "width"] },
    ]);
    await verifyFiles(out, manifest, true);

    const set = await loadEngineSet(out, { threads: 1, verifyChecksums: true });
    try {
      const dit = set.get("transformer");
      const c = (await goldenCases())["dit_v12_nonsquare"];
      const err = compare(
        (await dit.run(await goldenFeeds(c, dit))).output,
        await goldenOutput(c, "output"),
      );
      assert.ok(err.relL2 < 1e-5 && err.maxAbs < 1e-4, JSON.stringify(err));
      assert.throws(() => set.get("vae"), /component "vae" is not loaded/);
    } finally {
      await set.close();
    }
    await assert.rejects(
      () => loadEngineSet(out, { backend: "tensorrt" }),
      /manifest lists no TensorRT plan for transformer \(build with --trt\)/,
    );
  });
});

Deno.test("engines:build reads a sharded checkpoint through its index.json", async () => {
  await withCheckpoint(["v11", { sharded: true }], async (ckpt, parent) => {
    const out = `${parent}/engine`;
    const files = await entries(`${ckpt}/transformer`);
    assert.ok(files.includes("diffusion_pytorch_model.safetensors.index.json"), files.join());
    const r = await buildTransformer(ckpt, out);
    assert.equal(r.code, 0, r.stderr);
    const set = await loadEngineSet(out, { threads: 1 });
    try {
      const dit = set.get("transformer");
      const c = (await goldenCases())["dit_v11_square"];
      const got = (await dit.run(await goldenFeeds(c, dit))).output;
      const err = compare(got, await goldenOutput(c, "output"));
      assert.ok(err.relL2 < 1e-5 && err.maxAbs < 1e-4, JSON.stringify(err));
    } finally {
      await set.close();
    }
  });
});

Deno.test("engines:build refuses an odd layer count naming config.json and the key", async () => {
  await withCheckpoint(["v11", { config: (c) => (c.num_layers = 5) }], async (ckpt, parent) => {
    const r = await buildTransformer(ckpt, `${parent}/engine`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /transformer\/config\.json: config key "num_layers" must be an even/);
    assert.deepEqual(await entries(parent), [], "nothing written");
  });
});

Deno.test("engines:build refuses a checkpoint missing a tensor, naming the file and tensor", async () => {
  await withCheckpoint(
    ["v12", { dropTensor: "blocks.1.attn2.norm_k.weight" }],
    async (ckpt, parent) => {
      const r = await buildTransformer(ckpt, `${parent}/engine`);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /diffusion_pytorch_model\.safetensors: .*"blocks\.1\.attn2\.norm_k\.weight"/,
      );
      assert.deepEqual(await entries(parent), [], "the staging folder was removed");
    },
  );
});

Deno.test("engines:build refuses to overwrite an existing folder without --force", async () => {
  const ckpt = await transformerOnly("v12");
  const out = await Deno.makeTempDir({ prefix: "build_test_out_" });
  try {
    await Deno.writeTextFile(`${out}/keep.txt`, "old");
    const r = await buildTransformer(ckpt, out);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already exists; pass --force/);
    assert.deepEqual(await entries(out), ["keep.txt"]);

    const forced = await buildTransformer(ckpt, out, "--force");
    assert.equal(forced.code, 0, forced.stderr);
    assert.ok((await entries(out)).includes("manifest.json"));
    assert.ok(!(await entries(out)).includes("keep.txt"), "the old folder was replaced whole");
  } finally {
    await Deno.remove(ckpt, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("engines:build rejects bad arguments and a full build without model_index.json", async () => {
  await withCheckpoint(["v12"], async (ckpt, parent) => {
    const out = `${parent}/engine`;
    const bad = await cli("--checkpoint", ckpt, "--out", out, "--precision", "bf16");
    assert.match(bad.stderr, /--precision must be fp32 or fp16/);
    const unknown = await cli("--checkpoint", ckpt, "--out", out, "--only", "unet");
    assert.match(unknown.stderr, /unknown component "unet"/);
    const full = await cli("--checkpoint", ckpt, "--out", out);
    assert.equal(full.code, 1);
    assert.match(full.stderr, /model_index\.json: missing/);
    assert.deepEqual(await entries(parent), []);
  });
});

Deno.test("engines:build --dry-run prints the trtexec command for each graph", async () => {
  await withCheckpoint(["v11"], async (ckpt, parent) => {
    const out = `${parent}/engine`;
    const r = await buildTransformer(ckpt, out, "--precision", "fp16", "--dry-run");
    assert.equal(r.code, 0, r.stderr);
    const line = r.stderr.split("\n").find((l) => l.startsWith("trtexec "));
    assert.ok(line, r.stderr);
    assert.ok(line.includes(`--onnx=${out}/transformer.onnx`) && line.includes("--stronglyTyped"));
    assert.match(line, /--minShapes=x:2x4x\d+x\d+,t:2,.*style:2,cos_cis_img:\d+x16/);
    assert.deepEqual(await entries(parent), [], "a dry run writes nothing");
  });
});

Deno.test("engines:build writes all four networks, tokenizer and scheduler files for a full pipeline", async () => {
  const parent = await Deno.makeTempDir({ prefix: "build_test_out_" });
  const out = `${parent}/engine`;
  try {
    const r = await cli("--checkpoint", `${TINY}/tiny-v11`, "--out", out, "--precision", "fp16");
    assert.equal(r.code, 0, r.stderr);
    const manifest = await readManifest(out);
    assert.equal(manifest.modelVersion, "v1.1");
    assert.deepEqual(Object.keys(manifest.components).sort(), [...COMPONENT_NAMES].sort());
    assert.equal(manifest.components.text_encoder_2!.precision, "fp32", "mT5 stays fp32");
    assert.equal(manifest.components.transformer!.precision, "fp16");
    assert.equal(manifest.tokenizers.bert?.vocab, "tokenizer/vocab.txt");
    assert.equal(manifest.tokenizers.mt5?.spiece, "tokenizer_2/spiece.model");
    assert.equal(manifest.scheduler?.config.beta_end, 0.03);
    // No serving.json: the card is derived (native size = sample_size 8 x 8) with diffusers' defaults.
    assert.deepEqual(manifest.model, {
      name: "tiny-v11",
      description: "",
      defaults: { width: 64, height: 64, steps: 50, guidanceScale: 5, sampler: "ddpm" },
      sizes: [[64, 64]],
    });
    assert.equal(manifest.source.digest, await checkpointDigest(`${TINY}/tiny-v11`));
    for (
      const f of [
        "transformer.onnx",
        "text_encoder.onnx",
        "text_encoder_2.onnx",
        "vae_decoder.onnx",
      ]
    ) {
      assert.ok(f in manifest.files, f);
    }
    await verifyFiles(out, manifest, true);
    const set = await loadEngineSet(out, { threads: 1 });
    await set.close();
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("a tampered or incomplete engine folder is refused when loading", async () => {
  await withCheckpoint(["v12"], async (ckpt, parent) => {
    const out = `${parent}/engine`;
    const r = await buildTransformer(ckpt, out, "--skip-verify");
    assert.equal(r.code, 0, r.stderr);
    const weights = `${out}/transformer.weights`;
    const bytes = await Deno.readFile(weights);
    bytes[100] ^= 0xff;
    await Deno.writeFile(weights, bytes);
    await loadEngineSet(out, { threads: 1 }).then((s) => s.close()); // sizes still match
    await assert.rejects(
      () => loadEngineSet(out, { verifyChecksums: true }),
      /transformer\.weights: sha256 differs/,
    );
    await Deno.writeFile(weights, bytes.subarray(0, 64));
    await assert.rejects(
      () => loadEngineSet(out),
      /transformer\.weights: 64 bytes, manifest\.json says/,
    );

    const manifest = JSON.parse(await Deno.readTextFile(`${out}/manifest.json`));
    delete manifest.files["transformer.onnx"];
    assert.throws(
      () => validateManifest(manifest),
      /components\.transformer\.file "transformer\.onnx" has no entry in "files"/,
    );
    assert.throws(() => validateManifest({ ...manifest, precision: "int8" }), /field "precision"/);
    await Deno.remove(`${out}/manifest.json`);
    await assert.rejects(() => loadEngineSet(out), /cannot read the engine manifest/);
  });
});
