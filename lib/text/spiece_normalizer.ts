/**
 * SentencePiece text normalization on UTF-8 bytes, as google/sentencepiece `src/normalizer.cc`
 * (@2734490) `Normalizer::Normalize` / `NormalizePrefix`: user-defined symbols pass verbatim,
 * otherwise the longest rule of the precompiled charsmap (e.g. nmt_nfkc) applies, otherwise one
 * character is copied; then whitespace is trimmed/collapsed, escaped to U+2581 and a dummy
 * prefix is added, per the `NormalizerSpec` flags.
 * @module
 */

import type { SpieceNormalizerSpec } from "./spiece_model.ts";
import { type ByteTrie, longestPrefix } from "./spiece_trie.ts";

/** Maps UTF-8 input bytes to the normalized UTF-8 bytes the vocabulary is matched against. */
export type SpieceNormalize = (input: Uint8Array) => Uint8Array;

/** Options of {@link createSpieceNormalizer}. */
export interface SpieceNormalizerOptions {
  /** TrainerSpec.treat_whitespace_as_suffix: the dummy whitespace is appended instead. @default false */
  treatWhitespaceAsSuffix?: boolean;
  /** Trie of USER_DEFINED pieces, which are exempt from normalization. @default null */
  userDefined?: ByteTrie | null;
}

/** Decoded precompiled charsmap: darts-clone double-array units and the replacement blob. */
interface Charsmap {
  units: Uint32Array;
  blob: Uint8Array;
}

/** SP keeps at most this many trie hits per position (normalizer.h kMaxTrieResultsSize). */
const MAX_TRIE_RESULTS = 32;
const SPACE = 0x20;
const SPACE_SYMBOL = [0xe2, 0x96, 0x81]; // U+2581
const REPLACEMENT_CHAR = new Uint8Array([0xef, 0xbf, 0xbd]); // U+FFFD

/**
 * Splits a precompiled charsmap: `[uint32 LE trie size][trie units][NUL-separated replacements]`
 * (normalizer.cc DecodePrecompiledCharsMap).
 */
function decodeCharsmap(bytes: Uint8Array): Charsmap {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const trieSize = bytes.length > 4 ? view.getUint32(0, true) : -1;
  if (trieSize < 0 || trieSize >= bytes.length || trieSize % 4 !== 0) {
    throw new RangeError(
      `Cannot load the normalization rules: precompiled charsmap is broken (${bytes.length} bytes)`,
    );
  }
  const units = new Uint32Array(trieSize / 4);
  for (let i = 0; i < units.length; i++) units[i] = view.getUint32(4 + 4 * i, true);
  return { units, blob: bytes.subarray(4 + trieSize) };
}

/** darts-clone unit fields (third_party/darts_clone/darts.h DoubleArrayUnit). */
function unitOffset(u: number): number {
  return (u >>> 10) << ((u & 0x200) >>> 6);
}

/**
 * Longest rule matching `input` at `pos` (darts commonPrefixSearch, the longest of the first 32
 * hits). Returns the matched length in bytes and stores the replacement offset in `hit[0]`.
 */
function matchRule(map: Charsmap, input: Uint8Array, pos: number, hit: Int32Array): number {
  const units = map.units;
  let node = unitOffset(units[0]);
  let length = 0;
  let found = 0;
  for (let i = pos; i < input.length && found < MAX_TRIE_RESULTS; i++) {
    const b = input[i];
    node ^= b;
    if (node >= units.length) break;
    const u = units[node];
    if ((u & 0x800000ff) !== b) break; // label; a value unit has bit 31 set and never matches
    node ^= unitOffset(u);
    if ((u >>> 8) & 1) {
      length = i + 1 - pos;
      hit[0] = units[node] & 0x7fffffff;
      found++;
    }
  }
  return length;
}

/** Byte length of one valid UTF-8 character at `pos`, or 0 if malformed (util.cc DecodeUTF8). */
function utf8CharLength(input: Uint8Array, pos: number): number {
  const b0 = input[pos];
  if (b0 < 0x80) return 1;
  const n = b0 >= 0xf0 && b0 < 0xf8 ? 4 : b0 >= 0xe0 ? 3 : b0 >= 0xc0 ? 2 : 0;
  if (n === 0 || pos + n > input.length) return 0;
  let cp = b0 & (0x7f >> n);
  for (let i = 1; i < n; i++) {
    const b = input[pos + i];
    if ((b & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  const min = n === 2 ? 0x80 : n === 3 ? 0x800 : 0x10000;
  const valid = cp >= min && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
  return valid ? n : 0;
}

/** Growable byte buffer. */
interface Out {
  buf: Uint8Array;
  len: number;
}

function push(out: Out, b: number): void {
  if (out.len === out.buf.length) {
    const bigger = new Uint8Array(out.buf.length * 2);
    bigger.set(out.buf);
    out.buf = bigger;
  }
  out.buf[out.len++] = b;
}

/**
 * Creates the normalizer of a model.
 * @param spec The model's NormalizerSpec.
 * @param options Whitespace placement and user-defined symbols.
 * @returns A function from UTF-8 input to normalized UTF-8 (empty for whitespace-only input).
 * @throws {RangeError} When the precompiled charsmap is malformed.
 */
export function createSpieceNormalizer(
  spec: SpieceNormalizerSpec,
  options: SpieceNormalizerOptions = {},
): SpieceNormalize {
  const charsmap = spec.precompiledCharsmap.length > 0
    ? decodeCharsmap(spec.precompiledCharsmap)
    : null;
  const userDefined = options.userDefined ?? null;
  const suffix = options.treatWhitespaceAsSuffix ?? false;
  const removeExtra = spec.removeExtraWhitespaces;
  const escape = spec.escapeWhitespaces;
  const hit = new Int32Array(1);

  // NormalizePrefix: sets src/from/to to the replacement and returns the consumed input length.
  let src: Uint8Array = REPLACEMENT_CHAR;
  let from = 0;
  let to = 0;
  function prefix(input: Uint8Array, pos: number): number {
    if (userDefined !== null) {
      const n = longestPrefix(userDefined, input, pos, input.length);
      if (n > 0) {
        src = input;
        from = pos;
        to = pos + n;
        return n;
      }
    }
    if (charsmap !== null) {
      const n = matchRule(charsmap, input, pos, hit);
      if (n > 0) {
        const blob = charsmap.blob;
        let end = hit[0];
        while (end < blob.length && blob[end] !== 0) end++;
        src = blob;
        from = hit[0];
        to = end;
        return n;
      }
    }
    const n = utf8CharLength(input, pos);
    if (n === 0) {
      src = REPLACEMENT_CHAR;
      from = 0;
      to = 3; // malformed byte -> U+FFFD, consuming 1 byte
      return 1;
    }
    src = input;
    from = pos;
    to = pos + n;
    return n;
  }

  function addWhitespace(out: Out): void {
    if (escape) { for (const b of SPACE_SYMBOL) push(out, b); }
    else push(out, SPACE);
  }

  return function normalize(input: Uint8Array): Uint8Array {
    let pos = 0;
    if (removeExtra) { // skip leading characters that normalize to exactly " "
      while (pos < input.length) {
        const n = prefix(input, pos);
        if (to - from !== 1 || src[from] !== SPACE) break;
        pos += n;
      }
    }
    if (pos >= input.length) return new Uint8Array(0);
    const out: Out = { buf: new Uint8Array(input.length * 3 + 8), len: 0 };
    if (!suffix && spec.addDummyPrefix) addWhitespace(out);
    let prevSpace = removeExtra;
    while (pos < input.length) {
      pos += prefix(input, pos);
      if (prevSpace) { while (from < to && src[from] === SPACE) from++; }
      if (from < to) {
        for (let i = from; i < to; i++) {
          if (escape && src[i] === SPACE) addWhitespace(out);
          else push(out, src[i]);
        }
        prevSpace = src[to - 1] === SPACE;
      }
      if (!removeExtra) prevSpace = false;
    }
    if (removeExtra) { // strip trailing (escaped) whitespace
      const [tail, size] = escape ? [0x81, 3] : [SPACE, 1];
      while (
        out.len >= size && out.buf[out.len - 1] === tail &&
        (size === 1 || (out.buf[out.len - 3] === 0xe2 && out.buf[out.len - 2] === 0x96))
      ) out.len -= size;
    }
    if (suffix && spec.addDummyPrefix) addWhitespace(out);
    return out.buf.slice(0, out.len);
  };
}
