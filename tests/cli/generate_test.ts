/**
 * The command-line tools as a user runs them (child processes): `generate` here with the bundled
 * hydit-tiny and against a running service (loopback, in-process), its exit codes (0 written, 2 bad
 * input, 1 failure) and one-line errors; `--help` and bad flags of `start` and `engines:build`.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { fakeGenerator } from "../service/_fake_generator.ts";
import { startInProcess } from "../service/_in_process.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const KEY = "cli-test-key-0001";

async function cli(script: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", script, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** One line on stderr, no stack trace. */
function oneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(stderr, /^\s+at /m);
}

Deno.test("generate makes an image here with the model's defaults, progress and timing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hydit-cli-" });
  try {
    const out = `${dir}/star.png`;
    const r = await cli("cli/generate.ts", ["黄色背景上的紫色星形", "--seed", "5", "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${out}  seed 5  128x128  20 steps  [\\d.]+ s`));
    assert.match(r.stderr, /\] 20\/20 +[\d.]+ steps\/s/);
    const meta = await sharp(out).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ["png", 128, 128]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("generate refuses bad input with exit code 2 and one line", async () => {
  const cases: [string[], RegExp][] = [
    [["a cat", "--stepz", "3"], /^generate: Unknown option '--stepz' \(see --help\)$/],
    [["a cat", "--steps", "0"], /^generate: steps: Too small/],
    [["a cat", "--guidance", "lots"], /^generate: guidance_scale: /],
    [["a cat", "--size", "100x100"], /^generate: size: width 100 must be a multiple of 16/],
    [[], /^generate: expected one prompt \(quote it\), got 0/],
  ];
  for (const [args, pattern] of cases) {
    const r = await cli("cli/generate.ts", args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    oneLine(r.stderr, pattern);
  }
  const help = await cli("cli/generate.ts", ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: deno task generate "prompt"/);
});

Deno.test("generate asks a running service: image, bad key (2) and failed job (1)", async () => {
  const server = await startInProcess({
    generator: fakeGenerator(1),
    env: { HYDIT_API_KEYS: KEY },
  });
  const dir = await Deno.makeTempDir({ prefix: "hydit-cli-" });
  try {
    const out = `${dir}/remote.png`;
    const args = ["a red circle", "--server", server.url, "--size", "64x64", "--steps", "4"];
    const ok = await cli("cli/generate.ts", [...args, "--seed", "9", "--out", out], {
      HYDIT_API_KEY: KEY,
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`^${out}  seed 9  64x64  4 steps`));
    assert.match(ok.stderr, /\] 4\/4 /);
    assert.equal((await sharp(out).metadata()).width, 64);

    const badKey = await cli("cli/generate.ts", [...args, "--api-key", "wrong"]);
    assert.equal(badKey.code, 2);
    oneLine(badKey.stderr, /^generate: 401: Send a valid API key/);

    const failing = ["__fail__", "--server", server.url, "--api-key", KEY, "--steps", "2"];
    const failed = await cli("cli/generate.ts", failing);
    assert.equal(failed.code, 1);
    oneLine(failed.stderr, /^generate: job [0-9a-f]{32} failed: engine "dit" failed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await server.stop();
  }
});

Deno.test("start and engines:build answer --help and refuse a bad flag in one line", async () => {
  const start = await cli("main.ts", ["--help"]);
  assert.equal(start.code, 0);
  assert.match(start.stdout, /^usage: deno task start/);
  assert.match(start.stdout, /--link-secret +HYDIT_LINK_SECRET/);
  const badStart = await cli("main.ts", ["--prot", "1"]);
  assert.equal(badStart.code, 1);
  oneLine(badStart.stderr, /^hydit: Cannot parse flag "--prot": unknown flag/);

  const noEngines = await cli("main.ts", ["--engines", "/nonexistent/engines"]);
  assert.equal(noEngines.code, 1);
  assert.match(noEngines.stderr, /deno task engines:build --checkpoint CHECKPOINT/);
  assert.match(noEngines.stderr, /deno task demo/);
  assert.doesNotMatch(noEngines.stderr, /^\s+at /m);

  const build = await cli("engines/build.ts", ["--help"]);
  assert.equal(build.code, 0);
  assert.match(build.stdout, /--checkpoint DIR/);
  const badBuild = await cli("engines/build.ts", ["--chekpoint", "x"]);
  assert.equal(badBuild.code, 2);
  oneLine(badBuild.stderr, /^engines:build: Unknown option '--chekpoint' \(see --help\)$/);

  const dir = await Deno.makeTempDir({ prefix: "hydit-cli-" });
  try {
    await Deno.writeTextFile(`${dir}/schedules.json`, "{ not json");
    const badSchedules = await cli("main.ts", [], {
      HYDIT_SCHEDULES: `${dir}/schedules.json`,
      HYDIT_KV_PATH: `${dir}/kv`,
      HYDIT_RESULTS_DIR: `${dir}/results`,
      HYDIT_PORT: "0",
    });
    assert.equal(badSchedules.code, 1);
    const lines = badSchedules.stderr.trim().split("\n");
    assert.match(lines.at(-1)!, /^hydit: Cannot read schedules file ".*schedules.json": /);
    assert.doesNotMatch(badSchedules.stderr, /^\s+at /m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
