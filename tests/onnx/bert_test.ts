import assert from "node:assert/strict";
import { parseBertConfig } from "../../lib/onnx/bert.ts";

Deno.test("parseBertConfig() reads the tiny config and rejects what it cannot build, naming the key", () => {
  const base = {
    model_type: "bert",
    hidden_size: 32,
    num_attention_heads: 2,
    num_hidden_layers: 2,
    intermediate_size: 80,
    hidden_act: "gelu",
    layer_norm_eps: 1e-12,
  };
  assert.deepEqual(parseBertConfig(base), {
    hiddenSize: 32,
    heads: 2,
    layers: 2,
    intermediateSize: 80,
    eps: 1e-12,
    act: "gelu_erf",
  });
  assert.equal(parseBertConfig({ ...base, hidden_act: "gelu_new" }).act, "gelu_tanh");
  assert.throws(() => parseBertConfig({ ...base, hidden_act: "swish" }), /config key "hidden_act"/);
  assert.throws(
    () => parseBertConfig({ ...base, position_embedding_type: "relative_key" }),
    /config key "position_embedding_type"/,
  );
  assert.throws(
    () => parseBertConfig({ ...base, num_attention_heads: 3 }),
    /"num_attention_heads"/,
  );
  assert.throws(() => parseBertConfig({ ...base, hidden_size: undefined }), /"hidden_size"/);
  assert.throws(() => parseBertConfig({ ...base, model_type: "t5" }), /"model_type"/);
});
