/**
 * Lazy safetensors reader: parses the header once, then reads single tensors on demand with
 * positioned reads, so multi-gigabyte checkpoints are never loaded whole. Sharded checkpoints are
 * opened through their `*.index.json`.
 */

import { halfToFloat } from "./half.ts";

/** Element types found in diffusers/transformers checkpoints. */
export type SafetensorsDType =
  | "F32"
  | "F16"
  | "BF16"
  | "F64"
  | "I64"
  | "I32"
  | "I8"
  | "U8"
  | "BOOL";

/** Where one tensor lives. */
export interface TensorEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Absolute path of the file that holds it. */
  file: string;
  /** Absolute byte offset of its data in that file. */
  offset: number;
  byteLength: number;
}

/** An opened (possibly sharded) checkpoint. */
export interface Checkpoint {
  /** The file opened: a `.safetensors` file or a shard index (`.index.json`). */
  readonly path: string;
  /** All tensors by name. */
  readonly entries: ReadonlyMap<string, TensorEntry>;
  /** The `__metadata__` of the first file. */
  readonly metadata: Record<string, string>;
  /** Raw little-endian bytes of one tensor. */
  readBytes(name: string): Promise<Uint8Array>;
  /** One tensor converted to float32 (from F32, F16, BF16 or F64). */
  readFloat32(name: string): Promise<Float32Array>;
  /** Closes every open file. */
  close(): void;
}

const DTYPE_BYTES: Record<SafetensorsDType, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Error raised for a malformed, truncated or inconsistent checkpoint; names the file. */
export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

/** Parses a safetensors header (the JSON after the 8-byte length) into entries for `file`. */
export function parseHeader(
  file: string,
  headerJson: string,
  dataStart: number,
  fileSize: number,
): { entries: TensorEntry[]; metadata: Record<string, string> } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(headerJson);
  } catch (e) {
    throw new SafetensorsError(`${file}: header is not valid JSON (${(e as Error).message})`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new SafetensorsError(`${file}: header is not a JSON object`);
  }
  const entries: TensorEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = raw as Record<string, string>;
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = info?.dtype as SafetensorsDType;
    if (!(typeof dtype === "string" && dtype in DTYPE_BYTES)) {
      throw new SafetensorsError(`${file}: tensor "${name}" has unsupported dtype ${info?.dtype}`);
    }
    const shape = info.shape;
    const offsets = info.data_offsets;
    if (
      !Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0) ||
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((o) => Number.isInteger(o) && o >= 0) || offsets[1] < offsets[0]
    ) {
      throw new SafetensorsError(`${file}: tensor "${name}" has a malformed shape or data_offsets`);
    }
    const byteLength = offsets[1] - offsets[0];
    const expected = shape.reduce((n: number, d: number) => n * d, 1) * DTYPE_BYTES[dtype];
    if (byteLength !== expected) {
      throw new SafetensorsError(
        `${file}: tensor "${name}" holds ${byteLength} bytes but ${dtype}[${shape}] needs ${expected}`,
      );
    }
    const offset = dataStart + offsets[0];
    if (offset + byteLength > fileSize) {
      throw new SafetensorsError(
        `${file}: tensor "${name}" ends at byte ${
          offset + byteLength
        } beyond the file size ${fileSize} (truncated?)`,
      );
    }
    entries.push({ name, dtype, shape, file, offset, byteLength });
  }
  return { entries, metadata };
}

async function readExactly(f: Deno.FsFile, position: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  await f.seek(position, Deno.SeekMode.Start);
  let done = 0;
  while (done < length) {
    const n = await f.read(out.subarray(done));
    if (n === null) break;
    done += n;
  }
  if (done !== length) {
    throw new SafetensorsError(`unexpected end of file at byte ${position + done}`);
  }
  return out;
}

async function readHeader(
  path: string,
  f: Deno.FsFile,
): Promise<{ entries: TensorEntry[]; metadata: Record<string, string> }> {
  const size = (await f.stat()).size;
  if (size < 8) throw new SafetensorsError(`${path}: file is ${size} bytes, too short`);
  const lenBytes = await readExactly(f, 0, 8);
  const headerLen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
  if (headerLen <= 0 || 8 + headerLen > size || headerLen > 100_000_000) {
    throw new SafetensorsError(
      `${path}: header length ${headerLen} does not fit a ${size}-byte file`,
    );
  }
  const header = await readExactly(f, 8, headerLen);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(header);
  } catch {
    throw new SafetensorsError(`${path}: header is not valid UTF-8`);
  }
  return parseHeader(path, text, 8 + headerLen, size);
}

/** Decodes raw tensor bytes of a float dtype into float32. */
export function toFloat32(bytes: Uint8Array, dtype: SafetensorsDType): Float32Array {
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  const n = aligned.byteLength / DTYPE_BYTES[dtype];
  switch (dtype) {
    case "F32":
      return new Float32Array(aligned.buffer, aligned.byteOffset, n).slice();
    case "F64":
      return Float32Array.from(new Float64Array(aligned.buffer, aligned.byteOffset, n));
    case "F16": {
      const src = new Uint16Array(aligned.buffer, aligned.byteOffset, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(src[i]);
      return out;
    }
    case "BF16": {
      const src = new Uint16Array(aligned.buffer, aligned.byteOffset, n);
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = src[i] << 16;
      return new Float32Array(out.buffer);
    }
    default:
      throw new SafetensorsError(`cannot convert ${dtype} to float32`);
  }
}

/** Opens one `.safetensors` file or a sharded checkpoint given its `.index.json`. */
export async function openCheckpoint(path: string): Promise<Checkpoint> {
  const files = path.endsWith(".index.json") ? await shardFiles(path) : [path];
  const handles = new Map<string, Deno.FsFile>();
  const entries = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  try {
    for (const [i, file] of files.entries()) {
      const f = await Deno.open(file, { read: true });
      handles.set(file, f);
      const parsed = await readHeader(file, f);
      if (i === 0) metadata = parsed.metadata;
      for (const e of parsed.entries) {
        if (entries.has(e.name)) {
          throw new SafetensorsError(
            `${file}: tensor "${e.name}" also appears in ${entries.get(e.name)!.file}`,
          );
        }
        entries.set(e.name, e);
      }
    }
  } catch (e) {
    for (const f of handles.values()) f.close();
    throw e;
  }

  const entry = (name: string): TensorEntry => {
    const e = entries.get(name);
    if (!e) throw new SafetensorsError(`${path}: no tensor named "${name}"`);
    return e;
  };
  const readBytes = async (name: string): Promise<Uint8Array> => {
    const e = entry(name);
    try {
      return await readExactly(handles.get(e.file)!, e.offset, e.byteLength);
    } catch (err) {
      throw new SafetensorsError(`${e.file}: reading "${name}": ${(err as Error).message}`);
    }
  };
  return {
    path,
    entries,
    metadata,
    readBytes,
    readFloat32: async (name) => toFloat32(await readBytes(name), entry(name).dtype),
    close: () => {
      for (const f of handles.values()) f.close();
      handles.clear();
    },
  };
}

async function shardFiles(indexPath: string): Promise<string[]> {
  let index: { weight_map?: Record<string, string> };
  try {
    index = JSON.parse(await Deno.readTextFile(indexPath));
  } catch (e) {
    throw new SafetensorsError(`${indexPath}: cannot read shard index (${(e as Error).message})`);
  }
  if (!index.weight_map || typeof index.weight_map !== "object") {
    throw new SafetensorsError(`${indexPath}: missing "weight_map"`);
  }
  const dir = indexPath.slice(0, indexPath.lastIndexOf("/") + 1);
  const names = [...new Set(Object.values(index.weight_map))].sort();
  for (const n of names) {
    if (typeof n !== "string" || n.includes("/") || n.includes("\\")) {
      throw new SafetensorsError(
        `${indexPath}: shard name ${JSON.stringify(n)} is not a plain file name`,
      );
    }
  }
  return names.map((n) => dir + n);
}

/**
 * Finds and opens the weights of one diffusers/transformers component folder: a single
 * `<base>.safetensors` or a sharded `<base>.safetensors.index.json`.
 */
export async function openComponentWeights(dir: string, bases: string[]): Promise<Checkpoint> {
  for (const base of bases) {
    for (
      const candidate of [`${dir}/${base}.safetensors`, `${dir}/${base}.safetensors.index.json`]
    ) {
      try {
        await Deno.stat(candidate);
        return await openCheckpoint(candidate);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
  }
  throw new SafetensorsError(
    `${dir}: no weights found (looked for ${
      bases.map((b) => `${b}.safetensors[.index.json]`).join(", ")
    })`,
  );
}
