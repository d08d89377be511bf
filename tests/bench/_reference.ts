/**
 * What the benchmarks share: the reference venv (tests/golden/ref_venv.sh creates it on first use),
 * the real-width slice checkpoint made with it, and persistent child processes that answer one
 * JSON line per JSON command.
 */

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** Runs a command to its end; throws with its stderr tail when it fails. */
export async function runCommand(cmd: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    const tail = new TextDecoder().decode(out.stderr).slice(-2000);
    throw new Error(`${cmd} ${args.join(" ")}: ${tail}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** The reference venv's python, creating the venv (PyTorch CPU, pinned diffusers) on first use. */
export async function refPython(): Promise<string> {
  return (await runCommand("bash", [`${ROOT}/tests/golden/ref_venv.sh`])).trim();
}

/** The real-width slice (tests/bench/gen_real_width.py, 4 DiT layers), generated once into the cache. */
export async function realWidthCheckpoint(): Promise<string> {
  const dir = `${Deno.env.get("HOME")}/.cache/hydit-ref/real-width-4`;
  try {
    await Deno.stat(`${dir}/model_index.json`);
  } catch {
    await runCommand(await refPython(), [`${ROOT}/tests/bench/gen_real_width.py`, dir, "4"]);
  }
  return dir;
}

/** A persistent child that answers each JSON command line with one JSON line. */
export interface LineChild {
  /** The first line the child printed (its self-description). */
  info: Record<string, unknown>;
  ask(command: Record<string, unknown>): Promise<unknown>;
  close(): Promise<void>;
}

/** Spawns `cmd args` and reads its first line as its description. */
export async function lineChild(cmd: string, args: string[]): Promise<LineChild> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const readLine = async (): Promise<string> => {
    while (!buffered.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`${cmd} ${args.join(" ")}: the child ended early`);
      buffered += value;
    }
    const at = buffered.indexOf("\n");
    const line = buffered.slice(0, at);
    buffered = buffered.slice(at + 1);
    return line;
  };
  const info = JSON.parse(await readLine());
  return {
    info,
    async ask(command) {
      await writer.write(new TextEncoder().encode(`${JSON.stringify(command)}\n`));
      return JSON.parse(await readLine());
    },
    async close() {
      await writer.close();
      await child.status;
    },
  };
}

/** Relative L2 distance of `a` from the reference `b`. */
export function relL2(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}
