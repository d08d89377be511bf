/**
 * TensorRT plan builds with `trtexec`: runs the commands of engines/trt_profile.ts, keeps each
 * build's log, and returns the manifest section recording what built the plans (TensorRT version,
 * GPU, compute capability, profile sizes, plan files). The engine builder calls
 * {@linkcode buildTrtPlans} for `--trt`.
 *
 * @module
 */

import { type GraphName, planFile, type TrtManifest, type TrtRuntime } from "../lib/engine/mod.ts";
import {
  formatCommand,
  joinPath,
  planCommands,
  type PlanSource,
  resolvePlanShapes,
  type TrtPlanOptions,
} from "./trt_profile.ts";

/**
 * Reads the TensorRT version, GPU name and compute capability from a trtexec log (trtexec prints
 * "TensorRT version: X.Y.Z", "Selected Device: NAME" and "Compute Capability: M.m").
 */
export function parseTrtexecLog(log: string): TrtRuntime {
  const find = (pattern: RegExp, what: string) => {
    const match = log.match(pattern);
    if (!match) {
      throw new Error(`Cannot read the ${what} from the trtexec log: no line matches ${pattern}`);
    }
    return match[1].trim();
  };
  return {
    version: find(/TensorRT version: (\d+\.\d+\.\d+)/, "TensorRT version"),
    gpu: find(/Selected Device: ([^\r\n]+)/, "GPU name"),
    sm: find(/Compute Capability: (\d+\.\d+)/, "compute capability"),
  };
}

/** Options of {@linkcode buildTrtPlans}. */
export interface BuildTrtPlansOptions extends TrtPlanOptions {
  /** Print the commands and build nothing. @default false */
  dryRun?: boolean;
  /** Where progress lines go. @default console.log */
  log?: (line: string) => void;
}

/**
 * Builds one plan per source into `engineDir` and returns the manifest section to store under
 * `tensorrt` (null on a dry run, which only prints the commands). Each plan is written to a
 * temporary name and renamed when trtexec succeeds; the trtexec output is kept in
 * `<component>.trtexec.log`. Throws with the log's tail when trtexec fails, and when the
 * components were built by different TensorRT versions or GPUs.
 */
export async function buildTrtPlans(
  engineDir: string,
  sources: readonly PlanSource[],
  options: BuildTrtPlansOptions = {},
): Promise<TrtManifest | null> {
  const log = options.log ?? console.log;
  const commands = planCommands(engineDir, sources, options, Deno.env.toObject());
  if (options.dryRun) {
    for (const command of commands) log(formatCommand(command));
    return null;
  }
  let built: TrtRuntime | undefined;
  const plans: Partial<Record<GraphName, string>> = {};
  for (const command of commands) {
    const partial = `${command.plan}.partial`;
    const args = command.args.map((a) =>
      a === `--saveEngine=${command.plan}` ? `--saveEngine=${partial}` : a
    );
    log(`trtexec: building ${command.component} plan (${command.plan})`);
    const started = performance.now();
    let output: Deno.CommandOutput;
    try {
      output = await new Deno.Command(command.program, { args, stdout: "piped", stderr: "piped" })
        .output();
    } catch (cause) {
      throw new Error(
        `Cannot run trtexec "${command.program}": ${(cause as Error).message}; ` +
          "install TensorRT or set TRTEXEC to the trtexec binary",
        { cause },
      );
    }
    const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    await Deno.writeTextFile(joinPath(engineDir, `${command.component}.trtexec.log`), text);
    if (!output.success) {
      await Deno.remove(partial).catch(() => {});
      throw new Error(
        `trtexec failed for ${command.component} (exit ${output.code}); last lines:\n` +
          text.trimEnd().split("\n").slice(-15).join("\n"),
      );
    }
    const runtime = parseTrtexecLog(text);
    if (built && (built.version !== runtime.version || built.gpu !== runtime.gpu)) {
      throw new Error(
        `Cannot mix plans: ${command.component} was built by TensorRT ${runtime.version} on ` +
          `"${runtime.gpu}", earlier plans by ${built.version} on "${built.gpu}"`,
      );
    }
    built = runtime;
    await Deno.rename(partial, command.plan);
    plans[command.component] = planFile(command.component);
    log(
      `trtexec: ${command.component} done in ${
        ((performance.now() - started) / 1000).toFixed(1)
      } s`,
    );
  }
  if (!built) throw new Error("Cannot build TensorRT plans: no ONNX graphs were given");
  return {
    ...built,
    shapes: resolvePlanShapes(options),
    plans,
    builtAt: new Date().toISOString(),
  };
}
