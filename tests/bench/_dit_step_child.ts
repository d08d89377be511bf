/**
 * Our side of bench:e2e's real-width DiT step, in its own process so its peak RSS is its own: the
 * same JSON line protocol as tests/bench/torch_driver.py. {"dit": onnx, "inputs": dir} loads the
 * engine and the step inputs; {"step": true[, "save": path]} times one run (seconds) and can write
 * its output; {"peak": true} answers VmHWM in MiB. Run: deno run -A _dit_step_child.ts THREADS
 */
import { loadOnnxEngine } from "../../lib/engine/onnx.ts";
import type { Engine, Tensor } from "../../lib/engine/engine.ts";

const threads = Number(Deno.args[0]);
let engine: Engine | null = null;
let feeds: Record<string, Tensor> = {};

async function readInputs(dir: string): Promise<Record<string, Tensor>> {
  const shapes: Record<string, { dtype: string; shape: number[] }> = JSON.parse(
    await Deno.readTextFile(`${dir}/shapes.json`),
  );
  const out: Record<string, Tensor> = {};
  for (const [name, { dtype, shape }] of Object.entries(shapes)) {
    const bytes = await Deno.readFile(`${dir}/${name}.bin`);
    out[name] = dtype === "int64"
      ? { dtype: "int64", dims: shape, data: new BigInt64Array(bytes.buffer) }
      : { dtype: "float32", dims: shape, data: new Float32Array(bytes.buffer) };
  }
  return out;
}

function peakMiB(): number {
  const line = Deno.readTextFileSync("/proc/self/status").split("\n").find((l) =>
    l.startsWith("VmHWM")
  )!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

console.log(JSON.stringify({ onnxruntime: "cpu", threads }));
const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let buffered = "";
for await (const chunk of lines) {
  buffered += chunk;
  let at: number;
  while ((at = buffered.indexOf("\n")) >= 0) {
    const cmd = JSON.parse(buffered.slice(0, at));
    buffered = buffered.slice(at + 1);
    let answer: unknown;
    if ("dit" in cmd) {
      engine = await loadOnnxEngine(cmd.dit, { threads });
      feeds = await readInputs(cmd.inputs);
      answer = { loaded: cmd.dit };
    } else if ("step" in cmd) {
      const t0 = performance.now();
      const out = await engine!.run(feeds);
      answer = (performance.now() - t0) / 1000;
      if (cmd.save) {
        const data = out.output.data as Float32Array;
        await Deno.writeFile(
          cmd.save,
          new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
        );
      }
    } else {
      answer = peakMiB();
    }
    console.log(JSON.stringify(answer));
  }
}
await engine?.close();
