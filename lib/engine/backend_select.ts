/**
 * Chooses the engine backend: `tensorrt` when the FFI shim, every plan and a usable GPU are there,
 * `onnx` otherwise. {@linkcode selectBackend} decides from facts alone (testable);
 * {@linkcode probeBackend} gathers those facts from the file system and the shim.
 *
 * @module
 */

import { GRAPH_NAMES, type GraphName } from "./components.ts";
import type { Backend } from "./engine.ts";
import { type Manifest, ManifestError, readManifest } from "./manifest.ts";
import { checkPlanCompatibility } from "./plan_compat.ts";
import { runtimeOf, tensorRtVersionInfo } from "./tensorrt.ts";

/** What the operator asked for (`HYDIT_BACKEND`): a backend, or `auto` to pick. */
export type BackendPreference = "auto" | Backend;

/** The facts the choice depends on. */
export interface BackendFacts {
  preference: BackendPreference;
  /** Path of libhydit_trt.so and whether the file exists. */
  shim: { path: string; exists: boolean };
  /** Components that must have plans, and which plan files exist. */
  plans: { required: readonly GraphName[]; present: readonly GraphName[] };
  /** Why the GPU or TensorRT runtime is unusable (no device, driver, version or GPU mismatch); unset when fine or not probed. */
  runtimeProblem?: string;
}

/** The chosen backend and a one-line reason for logs and `/readyz`. */
export interface BackendChoice {
  backend: Backend;
  reason: string;
}

/** Parses `HYDIT_BACKEND`; unset or empty means auto. Throws on any other value. */
export function parseBackendPreference(value: string | undefined): BackendPreference {
  const v = (value ?? "").trim().toLowerCase();
  if (v === "" || v === "auto") return "auto";
  if (v === "onnx" || v === "tensorrt") return v;
  throw new RangeError(`Invalid HYDIT_BACKEND "${value}": expected auto, onnx or tensorrt`);
}

/**
 * Picks the backend. `auto` takes `tensorrt` only when nothing is missing and falls back to `onnx`
 * with the reason; an explicit `tensorrt` throws that reason instead of falling back.
 */
export function selectBackend(facts: BackendFacts): BackendChoice {
  if (facts.preference === "onnx") {
    return { backend: "onnx", reason: "HYDIT_BACKEND=onnx" };
  }
  const missing = facts.plans.required.filter((c) => !facts.plans.present.includes(c));
  let problem: string | undefined;
  if (!facts.shim.exists) {
    problem = `the TensorRT shim ${facts.shim.path} does not exist (build it with ffi/build.sh)`;
  } else if (facts.plans.present.length === 0) {
    problem = "the engine folder has no TensorRT plans (build them with engines:build --trt)";
  } else if (missing.length > 0) {
    problem = `the engine folder lacks TensorRT plans for ${missing.join(", ")}`;
  } else if (facts.runtimeProblem !== undefined) {
    problem = facts.runtimeProblem;
  }
  if (problem === undefined) {
    return { backend: "tensorrt", reason: `TensorRT plans and shim found (${facts.shim.path})` };
  }
  if (facts.preference === "tensorrt") {
    throw new Error(`Cannot use the tensorrt backend (HYDIT_BACKEND=tensorrt): ${problem}`);
  }
  return { backend: "onnx", reason: `using onnx because ${problem}` };
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Options of {@linkcode probeBackend}. */
export interface ProbeOptions {
  /** Path of libhydit_trt.so (`Config.trtShim`). */
  shimPath: string;
  /** @default "auto" */
  preference?: BackendPreference;
  /** Graphs that must have plans. @default all four */
  required?: readonly GraphName[];
  /** CUDA device to query. @default 0 */
  device?: number;
}

/** The manifest of `engineDir`, or null when the folder has none (it is not built yet). */
async function manifestOrNull(engineDir: string): Promise<Manifest | null> {
  try {
    return await readManifest(engineDir);
  } catch (error) {
    if (error instanceof ManifestError && error.cause instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/**
 * Gathers the facts for `engineDir` (plans listed under `tensorrt.plans` in its manifest),
 * queries the shim for the GPU and TensorRT version when everything else is in place, and decides.
 */
export async function probeBackend(
  engineDir: string,
  options: ProbeOptions,
): Promise<BackendChoice> {
  const shimPath = options.shimPath;
  const trt = (await manifestOrNull(engineDir))?.tensorrt;
  const present: GraphName[] = [];
  for (const graph of GRAPH_NAMES) {
    const file = trt?.plans[graph];
    if (file !== undefined && await exists(`${engineDir}/${file}`)) present.push(graph);
  }
  const facts: BackendFacts = {
    preference: options.preference ?? "auto",
    shim: { path: shimPath, exists: await exists(shimPath) },
    plans: { required: options.required ?? GRAPH_NAMES, present },
  };
  if (facts.preference !== "onnx" && trt && facts.shim.exists && present.length > 0) {
    try {
      const info = await tensorRtVersionInfo({ library: shimPath, device: options.device });
      checkPlanCompatibility(trt, runtimeOf(info));
    } catch (error) {
      facts.runtimeProblem = (error as Error).message;
    }
  }
  return selectBackend(facts);
}
