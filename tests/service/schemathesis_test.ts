/**
 * Runs tests/service/schemathesis.sh (schemathesis from PyPI against /openapi.json of a live server)
 * when schemathesis is installed (SCHEMATHESIS or /opt/st-venv/bin/schemathesis); see that script for
 * the install line. Under CI (which installs it) a missing binary fails instead of skipping.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { testEngines } from "./_harness.ts";

const binary = Deno.env.get("SCHEMATHESIS") ?? "/opt/st-venv/bin/schemathesis";
const installed = await Deno.stat(binary).then(() => true, () => false);

Deno.test({
  name: "schemathesis finds no 5xx and no schema violation on the live server",
  ignore: !installed && !Deno.env.get("CI"),
  async fn() {
    assert.ok(installed, `schemathesis is not installed at ${binary}`);
    const engines = await testEngines();
    const script = fileURLToPath(new URL("./schemathesis.sh", import.meta.url));
    const out = await new Deno.Command("bash", {
      args: [script],
      env: {
        SCHEMATHESIS: binary,
        DENO: Deno.execPath(),
        NO_COLOR: "1",
        HYDIT_TEST_ENGINES: engines,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text.slice(-4000));
    assert.match(text, /\d+ generated, \d+ passed/);
  },
});
