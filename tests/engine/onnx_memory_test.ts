/**
 * ONNX Runtime sessions hand memory back after a run: with the CPU arena (ORT's default) the
 * largest intermediate of any run stays resident for the session's life. Measured in a child
 * process so no other test's memory counts.
 */
import assert from "node:assert/strict";
import { createFileSink, createGraph } from "../../lib/onnx/graph.ts";

/** Elements of the intermediate: 256 MiB of fp32. */
const BIG = 64 * 2 ** 20;
const CHILD = new URL("./_onnx_memory_child.ts", import.meta.url).pathname;

async function growth(graph: string, arena: boolean): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, graph, arena ? "arena" : "default"],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success);
  return JSON.parse(new TextDecoder().decode(out.stdout)).grewMiB;
}

Deno.test("an ONNX engine returns a run's intermediate memory after the run by default (no CPU arena)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "onnx_memory_" });
  try {
    const sink = createFileSink(`${dir}/g.weights`, "g.weights");
    const g = createGraph("g", sink);
    const x = g.input("x", "float32", [1]);
    const big = g.op("Expand", [x, g.ints([BIG])]);
    g.output(g.op("ReduceSum", [big, g.ints([0])], { keepdims: 1 }), "y", "float32", [1]);
    sink.close();
    await Deno.writeFile(`${dir}/g.onnx`, g.toBytes());
    // The arena keeps the 256 MiB buffer; without it the buffer is freed when the run ends.
    const withArena = await growth(`${dir}/g.onnx`, true);
    const without = await growth(`${dir}/g.onnx`, false);
    assert.ok(withArena > 200, `with arena: +${withArena.toFixed(0)} MiB`);
    assert.ok(without < 50, `default options: +${without.toFixed(0)} MiB`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
