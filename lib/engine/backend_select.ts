/**
 * Chooses the engine backend: `tensorrt` when the FFI shim, every plan and a usable GPU are there,
 * `onnx` otherwise. {@linkcode selectBackend} decides from facts alone (testable);
 * {@linkcode probeBackend} gathers those facts from the file system and the shim.
 *
 * @module
 */

import type { PlanComponent, TrtManifest } from "../../engines/trt_plan.ts";
import { checkPlanCompatibility } from "../../engines/trt_plan.ts";
import { defaultShimPath, runtimeOf, tensorRtVersionInfo } from "./tensorrt.ts";

/** An engine backend. */
export type Backend = "onnx" | "tensorrt";

/** What the operator asked for (`HYDIT_BACKEND`): a backend, or `auto` to pick. */
export type BackendPreference = "auto" | Backend;

/** The facts the choice depends on. */
export interface BackendFacts {
  preference: BackendPreference;
  /** Path of libhydit_trt.so and whether the file exists. */
  shim: { path: string; exists: boolean };
  /** Components that must have plans, and which plan files exist. */
  plans: { required: readonly PlanComponent[]; present: readonly PlanComponent[] };
  /** Why the GPU or TensorRT runtime is unusable (no device, driver, version or GPU mismatch); unset when fine or not probed. */
  runtimeProblem?: string;
}

/** The chosen backend and a one-line reason for logs and `/readyz`. */
export interface BackendChoice {
  backend: Backend;
  reason: string;
}

/** The four networks of a full engine folder. */
export const ALL_COMPONENTS: readonly PlanComponent[] = [
  "transformer",
  "text_encoder",
  "text_encoder_2",
  "vae_decoder",
];

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
  preference?: BackendPreference;
  /** @default {@linkcode defaultShimPath} */
  shimPath?: string;
  /** Components that must have plans. @default all four */
  required?: readonly PlanComponent[];
  /** CUDA device to query. @default 0 */
  device?: number;
}

/**
 * Gathers the facts for `engineDir` (plans listed under `tensorrt.plans` in its manifest.json),
 * queries the shim for the GPU and TensorRT version when everything else is in place, and decides.
 */
export async function probeBackend(
  engineDir: string,
  options: ProbeOptions = {},
): Promise<BackendChoice> {
  const shimPath = options.shimPath ?? defaultShimPath(Deno.env.toObject());
  const required = options.required ?? ALL_COMPONENTS;
  let trt: TrtManifest | undefined;
  try {
    const manifest = JSON.parse(await Deno.readTextFile(`${engineDir}/manifest.json`));
    trt = manifest?.tensorrt;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const present: PlanComponent[] = [];
  for (const [component, file] of Object.entries(trt?.plans ?? {})) {
    if (await exists(`${engineDir}/${file}`)) present.push(component as PlanComponent);
  }
  const facts: BackendFacts = {
    preference: options.preference ?? "auto",
    shim: { path: shimPath, exists: await exists(shimPath) },
    plans: { required, present },
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
