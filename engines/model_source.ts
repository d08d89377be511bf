/**
 * What the builder records about its source checkpoint: the model spec (name, generation defaults,
 * trained sizes) from the checkpoint's optional `serving.json` or derived from its transformer
 * config, and a digest that tells whether a build is stale.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { fileEntry, type ModelSpec, modelSpecSchema } from "../lib/engine/mod.ts";
import { deriveModelSpec, toModelCard } from "../lib/diffusion/mod.ts";
import { CheckpointFileError, readJsonObject } from "./build_component.ts";

/** Optional file of a checkpoint folder with its {@linkcode ModelSpec} (engines/train writes one). */
export const SERVING_FILE = "serving.json";
/** Files up to this size are hashed whole for the digest; larger ones (weights) by name and size. */
const HASHED_BYTES = 16 << 20;

/** Relative paths of every file under `dir`, sorted. */
export async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(prefix ? `${dir}/${prefix}` : dir)) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...await listFiles(dir, rel));
    else if (e.isFile) out.push(rel);
  }
  return out.sort();
}

/** The checkpoint's `serving.json`, validated, or the spec derived from its transformer config. */
export async function readModelSpec(checkpoint: string): Promise<ModelSpec> {
  const path = `${checkpoint}/${SERVING_FILE}`;
  let raw: Record<string, unknown>;
  try {
    raw = await readJsonObject(path);
  } catch (e) {
    if (!(e instanceof CheckpointFileError) || !(e.cause instanceof Deno.errors.NotFound)) throw e;
    const configPath = `${checkpoint}/transformer/config.json`;
    const config = await readJsonObject(configPath).catch(() => ({}));
    const name = checkpoint.replace(/\/+$/, "").split("/").pop() || "hunyuandit";
    return deriveModelSpec(name, config);
  }
  const parsed = modelSpecSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CheckpointFileError(path, `field "${issue.path.join(".")}": ${issue.message}`);
  }
  try {
    toModelCard(parsed.data);
  } catch (e) {
    throw new CheckpointFileError(path, (e as Error).message);
  }
  return parsed.data;
}

/**
 * sha256 over the checkpoint's file names, sizes and (for files up to 16 MiB: configs, tokenizers,
 * small models) contents. Multi-GB weights count by name and size, so a build does not read them twice.
 */
export async function checkpointDigest(checkpoint: string): Promise<string> {
  const hash = createHash("sha256");
  for (const rel of await listFiles(checkpoint)) {
    const path = `${checkpoint}/${rel}`;
    const { size } = await Deno.stat(path);
    const content = size <= HASHED_BYTES ? (await fileEntry(path)).sha256 : "-";
    hash.update(`${rel}\0${size}\0${content}\n`);
  }
  return hash.digest("hex");
}
