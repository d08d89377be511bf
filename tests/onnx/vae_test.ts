import assert from "node:assert/strict";
import { parseVaeConfig } from "../../lib/onnx/vae.ts";
import { GOLDEN } from "../engine/goldens.ts";

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
