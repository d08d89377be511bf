/**
 * Child of onnx_memory_test.ts, alone in its process so RSS is its own: runs the graph at
 * `Deno.args[0]` once on an engine with the CPU arena on (`Deno.args[1]` "arena") or the default options and prints by how
 * many MiB the resident set grew over the run.
 */
import { loadOnnxEngine } from "../../lib/engine/onnx.ts";

const rssMiB = () => Deno.memoryUsage().rss / 2 ** 20;
const arena = Deno.args[1] === "arena" ? { arena: true } : {};
const engine = await loadOnnxEngine(Deno.args[0], { threads: 1, ...arena });
const before = rssMiB();
await engine.run({ x: { dtype: "float32", dims: [1], data: Float32Array.of(0) } });
console.log(JSON.stringify({ grewMiB: rssMiB() - before }));
await engine.close();
