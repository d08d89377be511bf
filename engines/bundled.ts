/**
 * The bundled model: hydit-tiny, a small HunyuanDiT trained by engines/train on coloured shapes
 * (engines/models/hydit-tiny, a diffusers pipeline folder). Its fp32 engines are built once into
 * engines/out/hydit-tiny and rebuilt only when the checkpoint or the builder changes, so a fresh
 * machine serves real pictures with no download.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { BUILDER_VERSION, COMPONENT_NAMES, readManifest } from "../lib/engine/mod.ts";
import { runBuild } from "./build_folder.ts";
import { checkpointDigest } from "./model_source.ts";

/** The bundled checkpoint folder. */
export const BUNDLED_CHECKPOINT = fileURLToPath(new URL("./models/hydit-tiny", import.meta.url));
/** Where its engines are built. */
export const BUNDLED_ENGINES = fileURLToPath(new URL("./out/hydit-tiny", import.meta.url));

/** True when `dir` holds a build of the bundled checkpoint as it is now, by this builder. */
async function upToDate(dir: string, digest: string): Promise<boolean> {
  try {
    const m = await readManifest(dir);
    return m.source.digest === digest && m.builder.version === BUILDER_VERSION;
  } catch {
    return false;
  }
}

/** Returns the bundled model's engine folder, building it first when missing or stale. */
export async function bundledEngines(
  log: (line: string) => void = (line) => console.error(line),
): Promise<string> {
  const digest = await checkpointDigest(BUNDLED_CHECKPOINT);
  if (await upToDate(BUNDLED_ENGINES, digest)) return BUNDLED_ENGINES;
  log(`building the bundled hydit-tiny engines into ${BUNDLED_ENGINES} (once, a few seconds)`);
  await runBuild({
    checkpoint: BUNDLED_CHECKPOINT,
    out: BUNDLED_ENGINES,
    precision: "fp32",
    only: [...COMPONENT_NAMES],
    threads: 0,
    force: true,
    verify: true,
    trt: false,
    dryRun: false,
  }, log);
  return BUNDLED_ENGINES;
}

if (import.meta.main) {
  console.error(`bundled engines: ${await bundledEngines()}`);
}
