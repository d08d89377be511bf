/**
 * Builds the demo engine folder (engines/out/demo) from the bundled tiny random checkpoint unless it
 * is already there, so `deno task demo` serves on a fresh machine with no model download.
 *
 * @module
 */

import { MANIFEST_FILE } from "../lib/engine/mod.ts";
import { parseBuildArgs } from "./build.ts";
import { runBuild } from "./build_folder.ts";

/** Where the demo engines go. */
const DEMO_ENGINES = "engines/out/demo";

const CHECKPOINT = new URL("../tests/golden/data/tiny/tiny-v12", import.meta.url).pathname;

/** True when `dir` holds a finished engine folder (the manifest is written last). */
async function built(dir: string): Promise<boolean> {
  try {
    await Deno.stat(`${dir}/${MANIFEST_FILE}`);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

if (import.meta.main) {
  if (await built(DEMO_ENGINES)) {
    console.error(`${DEMO_ENGINES}: demo engines already built`);
  } else {
    console.error(`building demo engines from the tiny random checkpoint ${CHECKPOINT}`);
    const args = ["--checkpoint", CHECKPOINT, "--out", DEMO_ENGINES, "--precision", "fp32"];
    await runBuild(parseBuildArgs(args));
  }
}
