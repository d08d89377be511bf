/**
 * Loads an engine folder written by engines/build.ts: validates its manifest, checks the files
 * (sizes always, sha256 on request), loads each component with the chosen backend and checks the
 * loaded IO against the manifest's contract.
 *
 * @module
 */

import { type ComponentName, graphName } from "./components.ts";
import type { Backend, Engine } from "./engine.ts";
import { type ComponentEntry, type Manifest, readManifest, verifyFiles } from "./manifest.ts";
import { loadOnnxEngine } from "./onnx.ts";
import { openTensorRtEngine } from "./tensorrt.ts";

/** Options of {@linkcode loadEngineSet}. */
export interface EngineSetOptions {
  /** Runtime for every component. @default "onnx" */
  backend?: Backend;
  /** ONNX Runtime intra-op threads (0 = its default). @default 0 */
  threads?: number;
  /** Components to load. @default every component in the manifest */
  components?: ComponentName[];
  /** Hash every file against the manifest's sha256 (slow for large weights). @default false */
  verifyChecksums?: boolean;
  /** Path of libhydit_trt.so; required for the tensorrt backend (`Config.trtShim`). */
  trtShim?: string;
}

/** The loaded engines of one folder. */
export interface EngineSet {
  dir: string;
  manifest: Manifest;
  /** The loaded engine of a component; throws naming the folder when it was not built. */
  get(name: ComponentName): Engine;
  /** Closes every engine. */
  close(): Promise<void>;
}

/** Loads one component with the requested backend: the single switch point between runtimes. */
function loadComponent(
  dir: string,
  manifest: Manifest,
  name: ComponentName,
  entry: ComponentEntry,
  opts: EngineSetOptions,
): Promise<Engine> {
  const backend = opts.backend ?? "onnx";
  switch (backend) {
    case "onnx":
      return loadOnnxEngine(`${dir}/${entry.file}`, { threads: opts.threads ?? 0, name });
    case "tensorrt": {
      const trt = manifest.tensorrt;
      const plan = trt?.plans[graphName(name)];
      if (!trt || !plan) {
        throw new Error(`${dir}: manifest lists no TensorRT plan for ${name} (build with --trt)`);
      }
      if (opts.trtShim === undefined) {
        throw new TypeError("Cannot load TensorRT engines: no shim path (trtShim) was given");
      }
      return openTensorRtEngine(`${dir}/${plan}`, {
        library: opts.trtShim,
        name,
        expect: trt,
        cudaGraphs: name === "transformer",
      });
    }
  }
}

function checkIo(dir: string, name: ComponentName, entry: ComponentEntry, engine: Engine): void {
  const describe = (specs: readonly { name: string; dtype: string }[]) =>
    specs.map((s) => `${s.name}:${s.dtype}`).join(", ");
  for (
    const [role, got, want] of [
      ["inputs", engine.inputs, entry.inputs],
      ["outputs", engine.outputs, entry.outputs],
    ] as const
  ) {
    if (describe(got) !== describe(want)) {
      throw new Error(
        `${dir}/${entry.file}: ${name} ${role} are [${describe(got)}], manifest says [${
          describe(want)
        }]`,
      );
    }
  }
}

/** Reads `dir/manifest.json` and loads the requested components' engines. */
export async function loadEngineSet(dir: string, opts: EngineSetOptions = {}): Promise<EngineSet> {
  const manifest = await readManifest(dir);
  await verifyFiles(dir, manifest, opts.verifyChecksums ?? false);
  const names = opts.components ?? (Object.keys(manifest.components) as ComponentName[]);
  const engines = new Map<ComponentName, Engine>();
  const close = async () => {
    for (const e of engines.values()) await e.close();
    engines.clear();
  };
  try {
    for (const name of names) {
      const entry = manifest.components[name];
      if (!entry) throw new Error(`${dir}: manifest has no component "${name}"`);
      const engine = await loadComponent(dir, manifest, name, entry, opts);
      engines.set(name, engine);
      checkIo(dir, name, entry, engine);
    }
  } catch (e) {
    await close();
    throw e;
  }
  return {
    dir,
    manifest,
    get(name) {
      const e = engines.get(name);
      if (!e) {
        throw new Error(`${dir}: component "${name}" is not loaded (built: ${names.join(", ")})`);
      }
      return e;
    },
    close,
  };
}
