import assert from "node:assert/strict";
import { buildTrtPlans, parseTrtexecLog } from "../../engines/trt_plan.ts";
import {
  formatCommand,
  planCommands,
  planProfile,
  type PlanSource,
  resolvePlanShapes,
} from "../../engines/trt_profile.ts";

// IO contracts as the engine builder writes them (Tencent's DiT export names; the
// BERT/mT5/VAE names of tests/golden/gen_engine_goldens.py), at full HunyuanDiT sizes.
const DIT: PlanSource = {
  component: "transformer",
  onnx: "engines/out/v12/transformer.onnx",
  inputs: [
    { name: "x", dtype: "float16", shape: [-1, 4, -1, -1] },
    { name: "t", dtype: "float16", shape: [-1] },
    { name: "encoder_hidden_states", dtype: "float16", shape: [-1, 77, 1024] },
    { name: "text_embedding_mask", dtype: "int64", shape: [-1, 77] },
    { name: "encoder_hidden_states_t5", dtype: "float16", shape: [-1, 256, 2048] },
    { name: "text_embedding_mask_t5", dtype: "int64", shape: [-1, 256] },
    { name: "cos_cis_img", dtype: "float32", shape: [-1, 88] },
    { name: "sin_cis_img", dtype: "float32", shape: [-1, 88] },
  ],
};
const BERT: PlanSource = {
  component: "text_encoder",
  onnx: "engines/out/v12/text_encoder.onnx",
  inputs: [
    { name: "input_ids", dtype: "int64", shape: [-1, 77] },
    { name: "attention_mask", dtype: "int64", shape: [-1, 77] },
  ],
};
const T5: PlanSource = {
  component: "text_encoder_2",
  onnx: "engines/out/v12/text_encoder_2.onnx",
  inputs: [
    { name: "input_ids", dtype: "int64", shape: [-1, -1] },
    { name: "attention_mask", dtype: "int64", shape: [-1, -1] },
  ],
};
const VAE: PlanSource = {
  component: "vae_decoder",
  onnx: "engines/out/v12/vae_decoder.onnx",
  inputs: [{ name: "latent", dtype: "float32", shape: [-1, 4, -1, -1] }],
};

const COMMON = "--timingCacheFile=engines/out/v12/timing.cache --device=0 --skipInference";

Deno.test("planCommands() prints the exact trtexec lines for the four networks at default sizes", () => {
  const lines = planCommands("engines/out/v12", [VAE, T5, DIT, BERT]).map(formatCommand);
  assert.deepEqual(lines, [
    "trtexec --onnx=engines/out/v12/transformer.onnx --saveEngine=engines/out/v12/transformer.plan " +
    "--stronglyTyped " +
    "--minShapes=x:2x4x96x96,t:2,encoder_hidden_states:2x77x1024,text_embedding_mask:2x77," +
    "encoder_hidden_states_t5:2x256x2048,text_embedding_mask_t5:2x256,cos_cis_img:2304x88,sin_cis_img:2304x88 " +
    "--optShapes=x:2x4x128x128,t:2,encoder_hidden_states:2x77x1024,text_embedding_mask:2x77," +
    "encoder_hidden_states_t5:2x256x2048,text_embedding_mask_t5:2x256,cos_cis_img:4096x88,sin_cis_img:4096x88 " +
    "--maxShapes=x:2x4x160x160,t:2,encoder_hidden_states:2x77x1024,text_embedding_mask:2x77," +
    "encoder_hidden_states_t5:2x256x2048,text_embedding_mask_t5:2x256,cos_cis_img:6400x88,sin_cis_img:6400x88 " +
    COMMON,
    "trtexec --onnx=engines/out/v12/text_encoder.onnx --saveEngine=engines/out/v12/text_encoder.plan " +
    "--stronglyTyped --minShapes=input_ids:1x77,attention_mask:1x77 " +
    "--optShapes=input_ids:2x77,attention_mask:2x77 --maxShapes=input_ids:2x77,attention_mask:2x77 " +
    COMMON,
    "trtexec --onnx=engines/out/v12/text_encoder_2.onnx --saveEngine=engines/out/v12/text_encoder_2.plan " +
    "--stronglyTyped --minShapes=input_ids:1x256,attention_mask:1x256 " +
    "--optShapes=input_ids:2x256,attention_mask:2x256 --maxShapes=input_ids:2x256,attention_mask:2x256 " +
    COMMON,
    "trtexec --onnx=engines/out/v12/vae_decoder.onnx --saveEngine=engines/out/v12/vae_decoder.plan " +
    "--stronglyTyped --minShapes=latent:1x4x96x96 --optShapes=latent:1x4x128x128 " +
    "--maxShapes=latent:1x4x160x160 " +
    COMMON,
  ]);
});

Deno.test("planCommands() follows configured sizes, images, trtexec path and builder options", () => {
  const [dit] = planCommands(
    "/e",
    [DIT],
    {
      minSide: 512,
      maxSide: 2048,
      optHeight: 768,
      optWidth: 1280,
      maxImages: 4,
      timingCache: "/cache/t.cache",
      workspaceMiB: 8192,
      optimizationLevel: 4,
      tf32: false,
      device: 1,
    },
    { TRTEXEC: "/usr/src/tensorrt/bin/trtexec" },
  );
  assert.equal(dit.program, "/usr/src/tensorrt/bin/trtexec");
  assert.equal(dit.plan, "/e/transformer.plan");
  const arg = (flag: string) => dit.args.find((a) => a.startsWith(flag));
  assert.match(arg("--minShapes=")!, /^--minShapes=x:2x4x64x64,t:2,.*cos_cis_img:1024x88,/);
  assert.match(arg("--optShapes=")!, /^--optShapes=x:2x4x96x160,t:2,.*cos_cis_img:3840x88,/);
  assert.match(arg("--maxShapes=")!, /^--maxShapes=x:8x4x256x256,t:8,.*cos_cis_img:16384x88,/);
  assert.equal(arg("--timingCacheFile="), "--timingCacheFile=/cache/t.cache");
  assert.equal(arg("--memPoolSize="), "--memPoolSize=workspace:8192M");
  assert.equal(arg("--builderOptimizationLevel="), "--builderOptimizationLevel=4");
  assert.ok(dit.args.includes("--noTF32"));
  assert.equal(arg("--device="), "--device=1");
});

Deno.test("planProfile() covers v1.1 meta inputs and leaves static inputs to the graph", () => {
  const profile = planProfile(
    {
      component: "transformer",
      onnx: "t.onnx",
      inputs: [
        { name: "image_meta_size", dtype: "float16", shape: [-1, 6] },
        { name: "style", dtype: "int64", shape: [-1] },
        { name: "t", dtype: "float16", shape: [2] },
      ],
    },
    resolvePlanShapes({ maxImages: 2 }),
  );
  assert.deepEqual(profile, {
    image_meta_size: { min: [2, 6], opt: [2, 6], max: [4, 6] },
    style: { min: [2], opt: [2], max: [4] },
  });
});

Deno.test("planProfile() refuses a dynamic dimension it has no rule for", () => {
  assert.throws(
    () =>
      planProfile(
        {
          component: "vae_decoder",
          onnx: "v.onnx",
          inputs: [{ name: "latent", dtype: "float32", shape: [1, -1, 8, 8] }],
        },
        resolvePlanShapes(),
      ),
    /vae_decoder input "latent": dimension 1 of \[1,-1,8,8\] is dynamic and has no size rule/,
  );
});

Deno.test("resolvePlanShapes() rejects sizes that are not patch multiples or out of order", () => {
  assert.throws(
    () => resolvePlanShapes({ minSide: 770 }),
    /minSide must be a multiple of 16, got 770/,
  );
  assert.throws(
    () => resolvePlanShapes({ minSide: 1280, maxSide: 768 }),
    /minSide 1280 is larger than maxSide 768/,
  );
  assert.throws(() => resolvePlanShapes({ optWidth: 1600 }), /optWidth 1600 is outside 768..1280/);
  assert.throws(() => resolvePlanShapes({ maxImages: 0 }), /maxImages must be a positive integer/);
});

Deno.test("formatCommand() single-quotes arguments a shell would split", () => {
  assert.equal(
    formatCommand({
      program: "trtexec",
      args: ["--onnx=/my models/a.onnx", "--minShapes='in:0':1x2"],
    }),
    "trtexec '--onnx=/my models/a.onnx' '--minShapes='\\''in:0'\\'':1x2'",
  );
});

const TRTEXEC_LOG = `&&&& RUNNING TensorRT.trtexec [TensorRT v110100] [b106] # trtexec --onnx=a.onnx
[11/27/2026-01:02:03] [I] === Device Information ===
[11/27/2026-01:02:03] [I] Available Devices:
[11/27/2026-01:02:03] [I]   Device 0: "NVIDIA H100 80GB HBM3" UUID: GPU-1234
[11/27/2026-01:02:03] [I] Selected Device: NVIDIA H100 80GB HBM3
[11/27/2026-01:02:03] [I] Selected Device ID: 0
[11/27/2026-01:02:03] [I] Compute Capability: 9.0
[11/27/2026-01:02:03] [I] SMs: 132
[11/27/2026-01:02:03] [I]
[11/27/2026-01:02:03] [I] TensorRT version: 11.1.0
`;

Deno.test("parseTrtexecLog() reads TensorRT version, GPU name and compute capability", () => {
  assert.deepEqual(parseTrtexecLog(TRTEXEC_LOG), {
    version: "11.1.0",
    gpu: "NVIDIA H100 80GB HBM3",
    sm: "9.0",
  });
  assert.throws(
    () => parseTrtexecLog("no device here"),
    /Cannot read the TensorRT version from the trtexec log/,
  );
});

Deno.test("buildTrtPlans() with dryRun prints the commands and builds nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines: string[] = [];
    const result = await buildTrtPlans(dir, [BERT, DIT], {
      dryRun: true,
      log: (l) => lines.push(l),
    });
    assert.equal(result, null);
    assert.equal(lines.length, 2);
    assert.ok(lines[0].includes(`--saveEngine=${dir}/transformer.plan`));
    assert.ok(lines[1].includes(`--saveEngine=${dir}/text_encoder.plan`));
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// A trtexec stand-in: prints trtexec's device/version lines and writes --saveEngine, or fails.
async function fakeTrtexec(dir: string, fail: boolean): Promise<string> {
  const path = `${dir}/trtexec`;
  const log = TRTEXEC_LOG.split("\n").map((l) => `echo '${l}'`).join("\n");
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\n${log}\n` +
      (fail ? `echo '[E] Error[4]: network has dynamic inputs but no profile' >&2\nexit 3\n` : "") +
      `for a in "$@"; do case "$a" in --saveEngine=*) printf plan > "\${a#--saveEngine=}";; esac; done\n`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

Deno.test("buildTrtPlans() runs trtexec, keeps its log, renames plans and returns the manifest section", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const trtexec = await fakeTrtexec(dir, false);
    const section = await buildTrtPlans(dir, [VAE, DIT], { trtexec, log: () => {}, maxImages: 2 });
    assert.ok(section);
    assert.equal(section.version, "11.1.0");
    assert.equal(section.gpu, "NVIDIA H100 80GB HBM3");
    assert.equal(section.sm, "9.0");
    assert.deepEqual(section.plans, {
      transformer: "transformer.plan",
      vae_decoder: "vae_decoder.plan",
    });
    assert.equal(section.shapes.maxImages, 2);
    assert.equal(await Deno.readTextFile(`${dir}/transformer.plan`), "plan");
    assert.match(
      await Deno.readTextFile(`${dir}/vae_decoder.trtexec.log`),
      /Selected Device: NVIDIA H100/,
    );
    assert.ok(!(await Deno.stat(`${dir}/transformer.plan.partial`).catch(() => null)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("buildTrtPlans() reports trtexec's last lines and leaves no plan when trtexec fails", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const trtexec = await fakeTrtexec(dir, true);
    await assert.rejects(
      buildTrtPlans(dir, [BERT], { trtexec, log: () => {} }),
      /trtexec failed for text_encoder \(exit 3\); last lines:[\s\S]*no profile/,
    );
    assert.equal(await Deno.stat(`${dir}/text_encoder.plan`).catch(() => null), null);
    assert.equal(await Deno.stat(`${dir}/text_encoder.plan.partial`).catch(() => null), null);
    await assert.rejects(
      buildTrtPlans(dir, [BERT], { trtexec: `${dir}/missing-trtexec`, log: () => {} }),
      /Cannot run trtexec ".*missing-trtexec".*set TRTEXEC/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
