import assert from "node:assert/strict";
import { buildComponent } from "../../engines/build.ts";
import { loadOnnxEngine } from "../../lib/engine/onnx.ts";
import { parseBertConfig } from "../../lib/onnx/bert.ts";
import type { Precision } from "../../lib/onnx/nn.ts";
import { compare, GOLDEN, goldenCases, goldenFeeds, goldenOutput } from "./engine_goldens.ts";

const TOLERANCE: Record<Precision, { relL2: number; maxAbs: number }> = {
  fp32: { relL2: 1e-5, maxAbs: 1e-4 },
  fp16: { relL2: 2e-2, maxAbs: Infinity },
};

for (const precision of ["fp32", "fp16"] as const) {
  Deno.test(`BERT ${precision} graph matches transformers' BertModel last_hidden_state`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "bert_test_" });
    try {
      const built = await buildComponent(`${GOLDEN}tiny/tiny-v12`, "text_encoder", dir, precision);
      assert.deepEqual(built.entry.inputs.map((s) => [s.name, s.dtype]), [
        ["input_ids", "int64"],
        ["attention_mask", "int64"],
      ]);
      const engine = await loadOnnxEngine(`${dir}/${built.entry.file}`, { threads: 1 });
      try {
        const c = (await goldenCases()).bert;
        const feeds = await goldenFeeds(c, engine);
        const want = await goldenOutput(c, "last_hidden_state");
        const out = (await engine.run(feeds)).last_hidden_state;
        assert.equal(out.dtype, precision === "fp16" ? "float16" : "float32");
        const err = compare(out, want);
        const tol = TOLERANCE[precision];
        assert.ok(
          err.relL2 < tol.relL2 && err.maxAbs < tol.maxAbs,
          `rel L2 ${err.relL2}, max abs ${err.maxAbs}`,
        );
        if (precision === "fp32") {
          // The golden's masks have many zeros: ignoring the mask must break the match.
          const ones = new BigInt64Array(feeds.attention_mask.data.length).fill(1n);
          const unmasked = await engine.run({
            ...feeds,
            attention_mask: { dtype: "int64", dims: feeds.attention_mask.dims, data: ones },
          });
          assert.ok(compare(unmasked.last_hidden_state, want).maxAbs > 1e-2);
        }
      } finally {
        await engine.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

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
