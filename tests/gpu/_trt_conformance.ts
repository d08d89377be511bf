/**
 * TensorRT against the engine conformance suite (tests/engine/conformance.ts), for
 * `deno task test:gpu`: builds fp16 graphs of the tiny checkpoints and TensorRT plans whose profiles
 * cover the golden inputs (64..192 px, up to 2 images), then runs every case on fresh engines.
 *
 * @module
 */

import { buildComponent, toTensorSpec } from "../../engines/build_component.ts";
import { buildTrtPlans } from "../../engines/trt_plan.ts";
import { COMPONENT_NAMES, graphName } from "../../lib/engine/components.ts";
import type { TrtManifest } from "../../lib/engine/manifest.ts";
import { openTensorRtEngine } from "../../lib/engine/tensorrt.ts";
import { CONFORMANCE_CASES, type ConformanceTarget } from "../engine/conformance.ts";
import { GOLDEN } from "../engine/goldens.ts";

/** Profiles covering the goldens: 16x16 and 16x24 DiT latents, VAE batch 2, text batch 4. */
const GOLDEN_SHAPES = { minSide: 64, maxSide: 192, optHeight: 128, optWidth: 128, maxImages: 2 };

const SKIP_FP32 = "test:gpu builds the fp16 profile only (fp32 layers would run TF32)";

/** One case's outcome: passed, failed with a message, or skipped with the reason. */
export interface CaseResult {
  name: string;
  outcome: "pass" | "fail" | "skip";
  detail: string;
}

/** Builds fp16 graphs and golden-profile plans for one tiny checkpoint variant into `dir`. */
async function buildVariant(
  dir: string,
  variant: "v12" | "v11",
  log: (line: string) => void,
): Promise<TrtManifest> {
  await Deno.mkdir(dir, { recursive: true });
  const names = variant === "v12" ? COMPONENT_NAMES : (["transformer"] as const);
  const sources = [];
  for (const name of names) {
    const built = await buildComponent(`${GOLDEN}tiny/tiny-${variant}`, name, dir, "fp16");
    sources.push({
      component: graphName(name),
      onnx: `${dir}/${built.entry.file}`,
      inputs: built.entry.inputs.map(toTensorSpec),
    });
  }
  const section = await buildTrtPlans(dir, sources, { ...GOLDEN_SHAPES, log });
  if (!section) throw new Error("Cannot build conformance plans: trtexec produced nothing");
  return section;
}

/** Runs the suite on TensorRT through the shim at `library`; plans go under `dir`. */
export async function runTrtConformance(
  dir: string,
  library: string,
  log: (line: string) => void,
): Promise<CaseResult[]> {
  const sections = {
    v12: await buildVariant(`${dir}/v12`, "v12", log),
    v11: await buildVariant(`${dir}/v11`, "v11", log),
  };
  const target: ConformanceTarget = {
    backend: "tensorrt",
    open(network) {
      const section = sections[network.variant];
      const plan = section.plans[graphName(network.component)];
      if (!plan) throw new Error(`No conformance plan for ${network.variant} ${network.component}`);
      return openTensorRtEngine(`${dir}/${network.variant}/${plan}`, {
        library,
        expect: section,
        name: network.component,
      });
    },
    precision: "fp16",
    // fp16 like ONNX Runtime's fp16 bound; fp32 graphs (mT5) run TF32 matmuls by default.
    tolerance: (p) =>
      p === "fp16" ? { relL2: 2e-2, maxAbs: Infinity } : { relL2: 5e-3, maxAbs: Infinity },
    skip: Object.fromEntries(
      CONFORMANCE_CASES.filter((c) => / fp32 profile /.test(c.name)).map((
        c,
      ) => [c.name, SKIP_FP32]),
    ),
  };
  const results: CaseResult[] = [];
  for (const c of CONFORMANCE_CASES) {
    const reason = target.skip?.[c.name];
    if (reason !== undefined) {
      results.push({ name: c.name, outcome: "skip", detail: reason });
      continue;
    }
    try {
      await c.run(target);
      results.push({ name: c.name, outcome: "pass", detail: "" });
    } catch (error) {
      results.push({ name: c.name, outcome: "fail", detail: (error as Error).message });
    }
  }
  return results;
}
