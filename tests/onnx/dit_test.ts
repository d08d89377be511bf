import assert from "node:assert/strict";
import { buildComponent } from "../../engines/build_component.ts";
import { parseDitConfig } from "../../lib/onnx/dit_config.ts";
import { GOLDEN } from "../engine/goldens.ts";

Deno.test("DiT v1.1 graph declares style and image_meta_size, v1.2 does not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dit_test_" });
  try {
    const names = async (variant: string) =>
      (await buildComponent(`${GOLDEN}tiny/tiny-${variant}`, "transformer", dir, "fp16")).entry
        .inputs.map((i) => `${i.name}:${i.dtype}`);
    const common = [
      "x:float16",
      "t:float16",
      "encoder_hidden_states:float16",
      "text_embedding_mask:int64",
      "encoder_hidden_states_t5:float16",
      "text_embedding_mask_t5:int64",
    ];
    const rope = ["cos_cis_img:float32", "sin_cis_img:float32"];
    assert.deepEqual(await names("v12"), [...common, ...rope]);
    assert.deepEqual(await names("v11"), [
      ...common,
      "image_meta_size:float16",
      "style:int64",
      ...rope,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseDitConfig() rejects odd layer counts and inconsistent sizes, naming the key", () => {
  const base = {
    in_channels: 4,
    patch_size: 2,
    num_attention_heads: 4,
    attention_head_dim: 16,
    hidden_size: 64,
    num_layers: 4,
  };
  assert.equal(parseDitConfig(base).layers, 4);
  assert.equal(parseDitConfig(base).ffInner, 256); // int(64 * 4.0), diffusers' default mlp_ratio
  assert.equal(parseDitConfig({ ...base, mlp_ratio: 4.3637 }).ffInner, 279);
  assert.throws(() => parseDitConfig({ ...base, num_layers: 41 }), /"num_layers" must be an even/);
  assert.throws(() => parseDitConfig({ ...base, hidden_size: 72 }), /"hidden_size" is 72/);
  assert.throws(() => parseDitConfig({ ...base, norm_type: "ada_norm" }), /"norm_type"/);
  assert.throws(() => parseDitConfig({ ...base, patch_size: undefined }), /"patch_size"/);
  assert.throws(
    () => parseDitConfig({ ...base, _class_name: "PixArtTransformer2DModel" }),
    /"_class_name"/,
  );
  assert.equal(parseDitConfig(base).styleAndMeta, true); // diffusers' default when the key is absent
});
