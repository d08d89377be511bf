import assert from "node:assert/strict";
import {
  openCheckpoint,
  openComponentWeights,
  SafetensorsError,
  toFloat32,
} from "../../lib/onnx/safetensors.ts";
import { floatToHalf } from "../../lib/onnx/half.ts";

interface Spec {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** Serializes tensors in the safetensors format (header length, JSON header, data). */
function encode(specs: Spec[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const s of specs) {
    header[s.name] = {
      dtype: s.dtype,
      shape: s.shape,
      data_offsets: [offset, offset + s.bytes.length],
    };
    offset += s.bytes.length;
  }
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  let at = 8 + h.length;
  for (const s of specs) {
    out.set(s.bytes, at);
    at += s.bytes.length;
  }
  return out;
}

const f32 = (a: number[]) => new Uint8Array(Float32Array.from(a).buffer);
const f16 = (a: number[]) => new Uint8Array(Uint16Array.from(a, floatToHalf).buffer);
const bf16 = (a: number[]) =>
  new Uint8Array(
    Uint16Array.from(a, (v) => new Uint32Array(Float32Array.of(v).buffer)[0] >>> 16).buffer,
  );

Deno.test("reads F32, F16 and BF16 tensors lazily with metadata", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/m.safetensors`;
  await Deno.writeFile(
    path,
    encode([
      { name: "a", dtype: "F32", shape: [2, 2], bytes: f32([1, -2, 3.5, 1e-3]) },
      { name: "b", dtype: "F16", shape: [3], bytes: f16([0.5, -65504, 6e-8]) },
      { name: "c", dtype: "BF16", shape: [2], bytes: bf16([1.5, -256]) },
    ], { format: "pt" }),
  );
  const ck = await openCheckpoint(path);
  try {
    assert.deepEqual([...ck.entries.keys()], ["a", "b", "c"]);
    assert.deepEqual(ck.metadata, { format: "pt" });
    assert.deepEqual([...await ck.readFloat32("a")], [1, -2, 3.5, Math.fround(1e-3)]);
    assert.deepEqual([...await ck.readFloat32("b")], [0.5, -65504, 2 ** -24]);
    assert.deepEqual([...await ck.readFloat32("c")], [1.5, -256]);
    await assert.rejects(() => ck.readFloat32("missing"), /no tensor named "missing"/);
  } finally {
    ck.close();
  }
});

Deno.test("opens sharded checkpoints through the index and finds component weights", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(
    `${dir}/model-00001-of-00002.safetensors`,
    encode([{ name: "x", dtype: "F32", shape: [1], bytes: f32([7]) }]),
  );
  await Deno.writeFile(
    `${dir}/model-00002-of-00002.safetensors`,
    encode([{ name: "y", dtype: "F32", shape: [2], bytes: f32([8, 9]) }]),
  );
  await Deno.writeTextFile(
    `${dir}/model.safetensors.index.json`,
    JSON.stringify({
      weight_map: { x: "model-00001-of-00002.safetensors", y: "model-00002-of-00002.safetensors" },
    }),
  );
  const ck = await openComponentWeights(dir, ["diffusion_pytorch_model", "model"]);
  try {
    assert.deepEqual([...await ck.readFloat32("y")], [8, 9]);
    assert.deepEqual([...await ck.readFloat32("x")], [7]);
  } finally {
    ck.close();
  }
  await assert.rejects(
    () => openComponentWeights(`${dir}/nowhere`, ["model"]),
    /no weights found/,
  );
});

Deno.test("rejects truncated and malformed files with the file named", async () => {
  const dir = await Deno.makeTempDir();
  const good = encode([{ name: "w", dtype: "F32", shape: [4], bytes: f32([1, 2, 3, 4]) }]);
  const cases: [string, Uint8Array, RegExp][] = [
    ["short", good.slice(0, 5), /too short/],
    ["truncated", good.slice(0, good.length - 4), /truncated/],
    [
      "badlen",
      (() => {
        const b = good.slice();
        new DataView(b.buffer).setBigUint64(0, 1n << 40n, true);
        return b;
      })(),
      /header length/,
    ],
    [
      "badjson",
      (() => {
        const b = good.slice();
        b[8] = 0x5b; // "[" -> not an object
        b[9] = 0x5d;
        return b;
      })(),
      /not valid JSON|not a JSON object/,
    ],
    [
      "dtype",
      encode([{ name: "w", dtype: "Q4", shape: [1], bytes: f32([1]) }]),
      /unsupported dtype/,
    ],
    ["size", encode([{ name: "w", dtype: "F32", shape: [3], bytes: f32([1, 2]) }]), /needs 12/],
  ];
  for (const [name, bytes, pattern] of cases) {
    const path = `${dir}/${name}.safetensors`;
    await Deno.writeFile(path, bytes);
    await assert.rejects(() => openCheckpoint(path), (e: Error) => {
      assert.ok(e instanceof SafetensorsError, `${name}: ${e}`);
      assert.match(e.message, pattern, name);
      assert.ok(e.message.includes(path), `${name}: message names the file`);
      return true;
    });
  }
});

Deno.test("toFloat32 refuses integer dtypes", () => {
  assert.throws(() => toFloat32(new Uint8Array(8), "I64"), /cannot convert I64/);
});
