/**
 * The engine conformance suite: every backend behind lib/engine's `Engine` passes these cases. The
 * contract cases run on the tiny VAE decoder (a static channel dimension, dynamic size); the golden
 * cases compare each of the four networks, built from the tiny random checkpoints, with the
 * diffusers/transformers outputs of tests/golden/gen_engine_goldens.py.
 *
 * A backend runs the suite with a {@linkcode ConformanceTarget}: ONNX Runtime in
 * tests/engine/onnx_conformance_test.ts (`deno task test`), TensorRT in tests/gpu/smoke.ts
 * (`deno task test:gpu`). A case a backend cannot run is listed in its `skip` with the reason.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { ComponentName } from "../../lib/engine/components.ts";
import {
  type Backend,
  type Engine,
  EngineClosedError,
  EngineFeedError,
  type FeedProblem,
  type Tensor,
  type TensorSpec,
} from "../../lib/engine/engine.ts";
import { asFloat32, floatTensor } from "../../lib/engine/tensors.ts";
import type { Precision } from "../../lib/onnx/nn.ts";
import { compare, goldenCases, goldenFeeds, goldenOutput } from "./goldens.ts";

/** One network of the tiny checkpoints, built in one precision profile. */
export interface Network {
  variant: "v12" | "v11";
  component: ComponentName;
  precision: Precision;
}

/** Largest relative L2 and absolute error a backend allows against the goldens. */
export interface Tolerance {
  relL2: number;
  maxAbs: number;
}

/** A backend under test. */
export interface ConformanceTarget {
  backend: Backend;
  /** Opens a fresh engine of `network` (the case closes it). */
  open(network: Network): Promise<Engine>;
  /** The profile the contract cases run in. */
  precision: Precision;
  /** Error bound against the goldens for a graph of `precision`. */
  tolerance(precision: Precision): Tolerance;
  /** Cases this backend does not run, by name, each with the reason. */
  skip?: Readonly<Record<string, string>>;
}

/** One case: throws (an AssertionError) when the backend breaks the contract. */
export interface ConformanceCase {
  name: string;
  run(target: ConformanceTarget): Promise<void>;
}

const LATENT = [1, 4, 8, 8];

async function withEngine(
  target: ConformanceTarget,
  network: Network,
  fn: (engine: Engine) => Promise<void> | void,
): Promise<void> {
  const engine = await target.open(network);
  try {
    await fn(engine);
  } finally {
    await engine.close();
  }
}

/** The contract cases' engine: the tiny VAE decoder, input `latent` [batch, 4, height, width]. */
function withVae(target: ConformanceTarget, fn: (engine: Engine) => Promise<void> | void) {
  return withEngine(target, { variant: "v12", component: "vae", precision: target.precision }, fn);
}

/** A deterministic latent feed of `dims` in the engine's input dtype. */
function latentFeeds(engine: Engine, seed: number, dims = LATENT): Record<string, Tensor> {
  const spec = engine.inputs[0];
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(seed * 1000 + i * 0.37);
  return { [spec.name]: floatTensor(data, dims, spec.dtype) };
}

async function refuses(
  engine: Engine,
  feeds: Record<string, Tensor>,
  problem: FeedProblem,
  message: RegExp,
): Promise<void> {
  await assert.rejects(engine.run(feeds), (e: unknown) => {
    assert.ok(e instanceof EngineFeedError, `expected EngineFeedError, got ${e}`);
    assert.equal(e.problem, problem);
    assert.equal(e.input, "latent");
    assert.match(e.message, message);
    return true;
  });
}

const CONTRACT: ConformanceCase[] = [
  {
    name: "describe() names the backend and repeats the inputs and outputs",
    run: (target) =>
      withVae(target, (engine) => {
        const d = engine.describe();
        assert.equal(d.backend, target.backend);
        const dynamic = [-1, 4, -1, -1];
        assert.deepEqual(engine.inputs.map((s) => [s.name, s.shape]), [["latent", dynamic]]);
        assert.deepEqual(engine.outputs.map((s) => [s.name, s.shape]), [["sample", [
          -1,
          3,
          -1,
          -1,
        ]]]);
        const plain = (specs: readonly TensorSpec[]) =>
          specs.map(({ name, dtype, shape }) => ({ name, dtype, shape }));
        assert.deepEqual(plain(d.inputs), plain(engine.inputs));
        assert.deepEqual(plain(d.outputs), plain(engine.outputs));
      }),
  },
  {
    name: "run() returns every output with the dtype and dims it computed",
    run: (target) =>
      withVae(target, async (engine) => {
        const out = await engine.run(latentFeeds(engine, 1));
        assert.deepEqual(Object.keys(out), ["sample"]);
        assert.equal(out.sample.dtype, engine.outputs[0].dtype);
        assert.deepEqual(out.sample.dims, [1, 3, 64, 64]);
        assert.equal(out.sample.data.length, 3 * 64 * 64);
      }),
  },
  {
    name: "run() refuses a missing input with EngineFeedError naming it",
    run: (target) =>
      withVae(target, (engine) => refuses(engine, {}, "missing", /input "latent" is missing/)),
  },
  {
    name: "run() refuses a feed of another dtype",
    run: (target) =>
      withVae(target, async (engine) => {
        const other = engine.inputs[0].dtype === "float32" ? "float16" : "float32";
        const feed = floatTensor(new Float32Array(256), LATENT, other);
        await refuses(engine, { latent: feed }, "dtype", /must be float/);
      }),
  },
  {
    name: "run() refuses a feed of another rank",
    run: (target) =>
      withVae(
        target,
        (engine) =>
          refuses(engine, latentFeeds(engine, 1, [4, 8, 8]), "rank", /rank 3, expected 4/),
      ),
  },
  {
    name: "run() refuses a static dimension that differs",
    run: (target) =>
      withVae(
        target,
        (engine) =>
          refuses(engine, latentFeeds(engine, 1, [1, 3, 8, 8]), "shape", /dimension 1 is 3/),
      ),
  },
  {
    name: "run() refuses data whose length does not fit the dimensions",
    run: (target) =>
      withVae(target, async (engine) => {
        const feed = latentFeeds(engine, 1).latent;
        const short = { ...feed, data: feed.data.subarray(1) } as Tensor;
        await refuses(engine, { latent: short }, "data", /holds 255 values for shape \[1,4,8,8\]/);
      }),
  },
  {
    name: "run() refuses data in a typed array that does not carry the dtype",
    run: (target) =>
      withVae(target, async (engine) => {
        const feed = { ...latentFeeds(engine, 1).latent, data: new Int32Array(256) };
        await refuses(engine, { latent: feed }, "data", /data must be a/);
      }),
  },
  {
    name: "run() ignores feeds for names the engine does not declare",
    run: (target) =>
      withVae(target, async (engine) => {
        const feeds = latentFeeds(engine, 2);
        const plain = asFloat32((await engine.run(feeds)).sample);
        const extra = { ...feeds, unused: floatTensor(new Float32Array(2), [2], "float32") };
        assert.deepEqual(asFloat32((await engine.run(extra)).sample), plain);
      }),
  },
  {
    name: "runs started together each get their own result",
    run: (target) =>
      withVae(target, async (engine) => {
        const [a, b] = [latentFeeds(engine, 3), latentFeeds(engine, 4)];
        const soloA = (await engine.run(a)).sample;
        const soloB = (await engine.run(b)).sample;
        assert.ok(compare(soloA, soloB).relL2 > 0.1, "the two inputs give different images");
        const [gotA, gotB] = await Promise.all([engine.run(a), engine.run(b)]);
        assert.ok(compare(gotA.sample, soloA).relL2 < 1e-5);
        assert.ok(compare(gotB.sample, soloB).relL2 < 1e-5);
      }),
  },
  {
    name: "close() lets a started run finish, is idempotent, and later runs reject",
    async run(target) {
      const engine = await target.open({
        variant: "v12",
        component: "vae",
        precision: target.precision,
      });
      const running = engine.run(latentFeeds(engine, 5));
      const [first, second] = [engine.close(), engine.close()];
      assert.deepEqual((await running).sample.dims, [1, 3, 64, 64]);
      await first;
      await second;
      await engine.close();
      await assert.rejects(
        engine.run(latentFeeds(engine, 5)),
        (e: unknown) => e instanceof EngineClosedError && /is closed/.test(e.message),
      );
    },
  },
];

/** Goldens of one network: the index.json cases and the output to compare. */
interface GoldenSpec {
  label: string;
  variant: "v12" | "v11";
  component: ComponentName;
  cases: string[];
  output: string;
  /** The profile's precision of the graph itself (mT5 stays fp32 in the fp16 profile). */
  graphPrecision?: (profile: Precision) => Precision;
  /** Extra check on the fp32 graph. */
  extra?: (engine: Engine, feeds: Record<string, Tensor>, want: Tensor) => Promise<void>;
}

const GOLDEN_NETWORKS: GoldenSpec[] = [
  {
    label: "DiT v1.2",
    variant: "v12",
    component: "transformer",
    cases: ["dit_v12_square", "dit_v12_nonsquare"],
    output: "output",
  },
  {
    label: "DiT v1.1",
    variant: "v11",
    component: "transformer",
    cases: ["dit_v11_square", "dit_v11_nonsquare"],
    output: "output",
  },
  {
    label: "VAE decoder",
    variant: "v12",
    component: "vae",
    cases: ["vae_square", "vae_nonsquare"],
    output: "sample",
  },
  {
    label: "BERT",
    variant: "v12",
    component: "text_encoder",
    cases: ["bert"],
    output: "last_hidden_state",
    async extra(engine, feeds, want) {
      // The golden's masks have many zeros: ignoring the mask must break the match.
      const ones = new BigInt64Array(feeds.attention_mask.data.length).fill(1n);
      const unmasked = await engine.run({
        ...feeds,
        attention_mask: { dtype: "int64", dims: feeds.attention_mask.dims, data: ones },
      });
      assert.ok(compare(unmasked.last_hidden_state, want).maxAbs > 1e-2, "the mask matters");
    },
  },
  {
    label: "mT5 encoder",
    variant: "v12",
    component: "text_encoder_2",
    cases: ["mt5"],
    output: "last_hidden_state",
    // mT5 overflows fp16, so the fp16 profile builds it fp32 too.
    graphPrecision: () => "fp32",
  },
];

function goldenCase(spec: GoldenSpec, profile: Precision): ConformanceCase {
  return {
    name: `${spec.label} ${profile} profile matches the reference on ${
      spec.cases.length > 1 ? "square and non-square inputs" : "its golden"
    }`,
    run: (target) =>
      withEngine(
        target,
        { variant: spec.variant, component: spec.component, precision: profile },
        async (engine) => {
          const precision = spec.graphPrecision?.(profile) ?? profile;
          const tol = target.tolerance(precision);
          const cases = await goldenCases();
          for (const name of spec.cases) {
            const feeds = await goldenFeeds(cases[name], engine);
            const want = await goldenOutput(cases[name], spec.output);
            const got = (await engine.run(feeds))[spec.output];
            assert.equal(got.dtype, precision === "fp16" ? "float16" : "float32");
            const err = compare(got, want);
            assert.ok(
              err.relL2 < tol.relL2 && err.maxAbs < tol.maxAbs,
              `${name}: rel L2 ${err.relL2}, max abs ${err.maxAbs}`,
            );
            if (precision === "fp32") await spec.extra?.(engine, feeds, want);
          }
        },
      ),
  };
}

/** Every case, contract first, then the goldens of each network in both profiles. */
export const CONFORMANCE_CASES: readonly ConformanceCase[] = [
  ...CONTRACT,
  ...GOLDEN_NETWORKS.flatMap((spec) => [goldenCase(spec, "fp32"), goldenCase(spec, "fp16")]),
];
