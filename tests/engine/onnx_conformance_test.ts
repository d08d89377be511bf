/**
 * ONNX Runtime (CPU) against the engine conformance suite: each network is built once from the tiny
 * checkpoints by the real engine builder, and every case opens a fresh engine of it.
 */
import { buildComponent } from "../../engines/build_component.ts";
import { loadOnnxEngine } from "../../lib/engine/onnx.ts";
import { CONFORMANCE_CASES, type ConformanceTarget, type Network } from "./conformance.ts";
import { GOLDEN } from "./goldens.ts";

Deno.test("ONNX Runtime engines pass the engine conformance suite", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "onnx_conformance_" });
  const built = new Map<string, Promise<string>>();
  const graph = (n: Network) => {
    const key = `${n.variant}-${n.component}-${n.precision}`;
    if (!built.has(key)) {
      built.set(
        key,
        Deno.mkdir(`${dir}/${key}`).then(() =>
          buildComponent(
            `${GOLDEN}tiny/tiny-${n.variant}`,
            n.component,
            `${dir}/${key}`,
            n.precision,
          )
        ).then((b) => `${dir}/${key}/${b.entry.file}`),
      );
    }
    return built.get(key)!;
  };
  const target: ConformanceTarget = {
    backend: "onnx",
    open: async (n) => loadOnnxEngine(await graph(n), { threads: 1 }),
    precision: "fp32",
    tolerance: (p) =>
      p === "fp32" ? { relL2: 1e-5, maxAbs: 1e-4 } : { relL2: 2e-2, maxAbs: Infinity },
  };
  try {
    for (const c of CONFORMANCE_CASES) {
      await t.step({
        name: c.name,
        ignore: c.name in (target.skip ?? {}),
        fn: () => c.run(target),
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
