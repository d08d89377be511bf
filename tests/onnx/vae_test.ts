import assert from "node:assert/strict";
import { buildComponent } from "../../engines/build.ts";
import { loadOnnxEngine } from "../../lib/engine/onnx.ts";
import type { Precision } from "../../lib/onnx/nn.ts";
import { parseVaeConfig } from "../../lib/onnx/vae.ts";
import { compare, GOLDEN, goldenCases, goldenFeeds, goldenOutput } from "./engine_goldens.ts";

const TOLERANCE: Record<Precision, { relL2: number; maxAbs: number }> = {
  fp32: { relL2: 1e-5, maxAbs: 1e-4 },
  fp16: { relL2: 2e-2, maxAbs: Infinity },
};

for (const precision of ["fp32", "fp16"] as const) {
  Deno.test(`VAE decoder ${precision} graph matches diffusers on square and non-square latents`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "vae_test_" });
    try {
      const built = await buildComponent(`${GOLDEN}tiny/tiny-v12`, "vae", dir, precision);
      const engine = await loadOnnxEngine(`${dir}/${built.entry.file}`, { threads: 1 });
      try {
        const cases = await goldenCases();
        for (const name of ["vae_square", "vae_nonsquare"]) {
          const c = cases[name];
          const out = (await engine.run(await goldenFeeds(c, engine))).sample;
          assert.equal(out.dtype, precision === "fp16" ? "float16" : "float32");
          const err = compare(out, await goldenOutput(c, "sample"));
          const tol = TOLERANCE[precision];
          assert.ok(
            err.relL2 < tol.relL2 && err.maxAbs < tol.maxAbs,
            `${name}: rel L2 ${err.relL2}, max abs ${err.maxAbs}`,
          );
        }
      } finally {
        await engine.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("parseVaeConfig() reads the tiny config and rejects what it cannot build, naming the key", async () => {
  const raw = JSON.parse(await Deno.readTextFile(`${GOLDEN}tiny/tiny-v12/vae/config.json`));
  assert.deepEqual(parseVaeConfig(raw), {
    latentChannels: 4,
    outChannels: 3,
    blockOutChannels: [16, 16, 32, 32],
    layersPerBlock: 2,
    groups: 8,
    midAttention: true,
    postQuantConv: true,
  });
  assert.throws(() => parseVaeConfig({ ...raw, act_fn: "gelu" }), /config key "act_fn"/);
  assert.throws(() => parseVaeConfig({ ...raw, norm_num_groups: 6 }), /"norm_num_groups"/);
  assert.throws(
    () => parseVaeConfig({ ...raw, up_block_types: ["UpDecoderBlock2D"] }),
    /config key "up_block_types"/,
  );
  assert.throws(() => parseVaeConfig({ ...raw, block_out_channels: [] }), /"block_out_channels"/);
  assert.throws(
    () => parseVaeConfig({ ...raw, _class_name: "AutoencoderTiny" }),
    /config key "_class_name"/,
  );
});
