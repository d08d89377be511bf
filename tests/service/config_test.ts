import assert from "node:assert/strict";
import { loadConfig } from "../../lib/config.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("loadConfig() applies defaults, environment, then flags", () => {
  const defaults = loadConfig([], env({}));
  assert.equal(defaults.port, 8000);
  assert.deepEqual(defaults.apiKeys, []);
  assert.equal(defaults.queueDepth, 32);
  assert.equal(defaults.resultsStore, "kv");
  assert.equal(defaults.workerId, `${Deno.hostname()}:8000`);
  const fromEnv = loadConfig(
    [],
    env({ HYDIT_PORT: "9000", HYDIT_API_KEYS: " a , b,,", HYDIT_KV_PATH: "/x/kv" }),
  );
  assert.equal(fromEnv.port, 9000);
  assert.deepEqual(fromEnv.apiKeys, ["a", "b"]);
  assert.equal(fromEnv.kvPath, "/x/kv");
  assert.match(defaults.trtShim, /\/ffi\/build\/libhydit_trt\.so$/);
  assert.equal(loadConfig([], env({ HYDIT_TRT_SHIM: "/opt/shim.so" })).trtShim, "/opt/shim.so");
  assert.equal(loadConfig([], env({ HYDIT_TRT_SHIM: "" })).trtShim, defaults.trtShim);
  const flags = loadConfig(["--port", "9100", "--queue-depth=4"], env({ HYDIT_PORT: "9000" }));
  assert.equal(flags.port, 9100);
  assert.equal(flags.queueDepth, 4);
});

Deno.test("loadConfig() rejects bad values naming the setting", () => {
  assert.throws(
    () => loadConfig([], env({ HYDIT_PORT: "80a" })),
    /HYDIT_PORT: "80a" is not an integer/,
  );
  assert.throws(() => loadConfig([], env({ HYDIT_PORT: "70000" })), /HYDIT_PORT: 70000 is outside/);
  assert.throws(() => loadConfig([], env({ HYDIT_CONCURRENCY: "0" })), /HYDIT_CONCURRENCY/);
  assert.throws(() => loadConfig(["--nope", "1"], env({})), /--nope": unknown flag/);
  assert.throws(() => loadConfig(["--port"], env({})), /missing value/);
  assert.throws(() => loadConfig([], env({ HYDIT_LOG_LEVEL: "loud" })), /HYDIT_LOG_LEVEL/);
  assert.throws(
    () => loadConfig([], env({ HYDIT_RESULTS_STORE: "s3" })),
    /HYDIT_RESULTS_STORE: "s3" is not kv or dir/,
  );
  assert.throws(
    () => loadConfig([], env({ HYDIT_MIN_SIDE: "512", HYDIT_MAX_SIDE: "256" })),
    /MIN_SIDE/,
  );
});
