/**
 * The two attention forms: ONNX Runtime graphs (fp32) use its fused operators, so no score matrix
 * and no element-wise RoPE/GELU chains remain; TensorRT graphs keep standard ops with the
 * MatMul -> Softmax (fp32) -> MatMul pattern and Q scaled before the first MatMul.
 */
import assert from "node:assert/strict";
import { buildComponent } from "../../engines/build_component.ts";
import type { ComponentName } from "../../lib/engine/components.ts";
import { CONTRIB_DOMAIN } from "../../lib/onnx/graph.ts";
import { decodeModel, inferTypes, type Model } from "../../lib/onnx/inspect.ts";
import type { GraphTarget, Precision } from "../../lib/onnx/nn.ts";
import { GOLDEN } from "../engine/goldens.ts";

type Node = NonNullable<NonNullable<Model["graph"]>["node"]>[number];

async function build(
  component: ComponentName,
  precision: Precision,
  target: GraphTarget,
): Promise<Model> {
  const dir = await Deno.makeTempDir({ prefix: "attention_forms_" });
  try {
    const ckpt = `${GOLDEN}tiny/tiny-v12`;
    const built = await buildComponent(ckpt, component, dir, precision, () => {}, target);
    return decodeModel(await Deno.readFile(`${dir}/${built.entry.file}`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function count(model: Model, op: string, domain = ""): number {
  return (model.graph?.node ?? []).filter((n) => n.opType === op && (n.domain ?? "") === domain)
    .length;
}

async function layersOf(): Promise<number> {
  const path = `${GOLDEN}tiny/tiny-v12/transformer/config.json`;
  return JSON.parse(await Deno.readTextFile(path)).num_layers;
}

Deno.test("fp32 ONNX Runtime DiT: fused attention, RoPE and bias+GELU, no score matrix", async () => {
  const model = await build("transformer", "fp32", "onnxruntime");
  const layers = await layersOf();
  // self + cross attention per block, plus the T5 attention pool
  assert.equal(count(model, "MultiHeadAttention", CONTRIB_DOMAIN), 2 * layers + 1);
  // Q and K of the self attention, Q of the cross attention
  assert.equal(count(model, "RotaryEmbedding", CONTRIB_DOMAIN), 3 * layers);
  assert.equal(count(model, "FastGelu", CONTRIB_DOMAIN), layers);
  for (const op of ["Softmax", "Tanh", "Neg", "Transpose"]) {
    // Transpose remains only in patchify/unpatchify
    const limit = op === "Transpose" ? 2 : 0;
    assert.ok(count(model, op) <= limit, `${op}: ${count(model, op)}`);
  }
  assert.ok(model.opsetImport?.some((o) => o.domain === CONTRIB_DOMAIN));
});

Deno.test("fp32 ONNX Runtime VAE decoder: the mid attention is one fused op", async () => {
  const model = await build("vae", "fp32", "onnxruntime");
  assert.equal(count(model, "MultiHeadAttention", CONTRIB_DOMAIN), 1);
  assert.equal(count(model, "Softmax"), 0);
});

function producers(model: Model): Map<string, Node> {
  const map = new Map<string, Node>();
  for (const n of model.graph?.node ?? []) for (const o of n.output ?? []) map.set(o, n);
  return map;
}

/** Follows Cast nodes back to the node that computed `value`. */
function source(value: string, by: Map<string, Node>): Node | undefined {
  let n = by.get(value);
  while (n?.opType === "Cast") n = by.get(n.input![0]);
  return n;
}

for (const precision of ["fp32", "fp16"] as const) {
  for (const component of ["transformer", "vae"] as const) {
    Deno.test(`${precision} TensorRT ${component}: standard ops, Q-scaled MatMul -> fp32 Softmax -> MatMul`, async () => {
      const model = await build(component, precision, "tensorrt");
      const nodes = model.graph?.node ?? [];
      assert.deepEqual(nodes.filter((n) => (n.domain ?? "") !== ""), []);
      assert.ok(!model.opsetImport?.some((o) => o.domain === CONTRIB_DOMAIN));
      const by = producers(model);
      const types = inferTypes(model);
      const softmaxes = nodes.filter((n) => n.opType === "Softmax");
      assert.ok(softmaxes.length > 0);
      const consumers = (value: string) => nodes.filter((n) => n.input?.includes(value));
      for (const sm of softmaxes) {
        assert.equal(types.get(sm.input![0]), "float32");
        const bmm1 = source(sm.input![0], by);
        assert.equal(bmm1?.opType, "MatMul", `${sm.name} reads a MatMul`);
        const scaled = by.get(bmm1!.input![0]);
        assert.equal(scaled?.opType, "Mul", `${bmm1!.name}: Q is scaled before the MatMul`);
        const next = consumers(sm.output![0]).flatMap((c) =>
          c.opType === "Cast" ? consumers(c.output![0]) : [c]
        );
        assert.deepEqual(next.map((c) => c.opType), ["MatMul"], `${sm.name} feeds the PV MatMul`);
      }
    });
  }
}
