/**
 * Reader for SentencePiece `*.model` files: the protobuf-2 `ModelProto` of
 * google/sentencepiece `src/sentencepiece_model.proto` (@2734490), reduced to the fields encoding needs.
 * Absent fields take the proto defaults, which matters: trained models omit
 * `add_dummy_prefix`, `remove_extra_whitespaces` and `escape_whitespaces` (all default true)
 * and the `type` of NORMAL pieces.
 * @module
 */

/** `ModelProto.SentencePiece.Type` values. */
export const PieceType = {
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;

/** One vocabulary entry; its id is its index in `SpieceModel.pieces`. */
export interface SpiecePiece {
  /** The piece text (whitespace already escaped as U+2581). */
  piece: string;
  /** The piece's UTF-8 bytes, as stored in the file. */
  bytes: Uint8Array;
  /** Log-probability score (float32). */
  score: number;
  /** One of {@link PieceType}. */
  type: number;
}

/** The `TrainerSpec` fields that change encoding. */
export interface SpieceTrainerSpec {
  /** 1 = UNIGRAM (the only type supported here), 2 = BPE, 3 = WORD, 4 = CHAR. */
  modelType: number;
  /** Unknown characters become `<0xNN>` byte pieces instead of `<unk>`. */
  byteFallback: boolean;
  /** The dummy whitespace goes after the text instead of before it. */
  treatWhitespaceAsSuffix: boolean;
}

/** `NormalizerSpec`: how raw text becomes the string the pieces are matched against. */
export interface SpieceNormalizerSpec {
  /** Rule name, e.g. `nmt_nfkc` or `identity` (informative only). */
  name: string;
  /** Compiled normalization rules (double-array trie + replacement strings); empty = none. */
  precompiledCharsmap: Uint8Array;
  /** Prepend one whitespace to the text. */
  addDummyPrefix: boolean;
  /** Drop leading/trailing whitespace and collapse runs of it. */
  removeExtraWhitespaces: boolean;
  /** Replace ASCII space by U+2581. */
  escapeWhitespaces: boolean;
}

/** A parsed SentencePiece model. */
export interface SpieceModel {
  /** Vocabulary in id order. */
  pieces: SpiecePiece[];
  /** Trainer options relevant to encoding. */
  trainer: SpieceTrainerSpec;
  /** Normalizer options. */
  normalizer: SpieceNormalizerSpec;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const NO_BYTES = new Uint8Array(0);

/** Cursor over protobuf wire-format bytes (one message: `pos` up to `end`). */
interface Reader {
  bytes: Uint8Array;
  view: DataView;
  pos: number;
  end: number;
}

function fail(reader: Reader, what: string): never {
  throw new RangeError(`Cannot parse the SentencePiece model: ${what} at byte ${reader.pos}`);
}

/** Reads a base-128 varint (up to 10 bytes) and returns its low 32 bits, unsigned. */
function readVarint(r: Reader): number {
  let low = 0;
  for (let i = 0; i < 10; i++) {
    if (r.pos >= r.end) fail(r, "truncated varint");
    const b = r.bytes[r.pos++];
    if (i < 5) low |= (b & 0x7f) << (7 * i); // bits past 31 shift out; int32 keeps the low 32
    if ((b & 0x80) === 0) return low >>> 0;
  }
  return fail(r, "varint longer than 10 bytes");
}

/** Reads a varint as a bool: true if any of its 64 bits is set. */
function readBool(r: Reader): boolean {
  const start = r.pos;
  readVarint(r);
  for (let i = start; i < r.pos; i++) if ((r.bytes[i] & 0x7f) !== 0) return true;
  return false;
}

function readLength(r: Reader): number {
  const n = readVarint(r);
  if (n > r.end - r.pos) fail(r, `length ${n} past the end of the message`);
  return n;
}

function readFloat(r: Reader): number {
  if (r.end - r.pos < 4) fail(r, "truncated float");
  r.pos += 4;
  return r.view.getFloat32(r.pos - 4, true);
}

function readBytes(r: Reader): Uint8Array {
  const n = readLength(r);
  r.pos += n;
  return r.bytes.subarray(r.pos - n, r.pos);
}

/** Reader over the length-delimited field at `r.pos`, which `r` then skips. */
function subReader(r: Reader): Reader {
  const n = readLength(r);
  r.pos += n;
  return { bytes: r.bytes, view: r.view, pos: r.pos - n, end: r.pos };
}

function skip(r: Reader, wireType: number): void {
  switch (wireType) {
    case 0:
      readVarint(r);
      return;
    case 1:
      if (r.end - r.pos < 8) fail(r, "truncated fixed64");
      r.pos += 8;
      return;
    case 2:
      readBytes(r);
      return;
    case 5:
      if (r.end - r.pos < 4) fail(r, "truncated fixed32");
      r.pos += 4;
      return;
    default:
      fail(r, `unsupported wire type ${wireType}`);
  }
}

/** `ModelProto.SentencePiece`; the hot path of loading (250k pieces for mT5), so no closures. */
function parsePiece(r: Reader): SpiecePiece {
  const p: SpiecePiece = { piece: "", bytes: NO_BYTES, score: 0, type: PieceType.NORMAL };
  while (r.pos < r.end) {
    const key = readVarint(r);
    if (key === 0x0a) { // field 1, length-delimited
      p.bytes = readBytes(r);
      p.piece = utf8.decode(p.bytes);
    } else if (key === 0x15) p.score = readFloat(r); // field 2, fixed32
    else if (key === 0x18) p.type = readVarint(r) | 0; // field 3, varint
    else skip(r, key & 7);
  }
  return p;
}

/** Calls `field(number, reader)` for each field of a message; unhandled fields are skipped. */
function forEachField(r: Reader, field: (key: number, r: Reader) => boolean): void {
  while (r.pos < r.end) {
    const key = readVarint(r);
    if (!field(key, r)) skip(r, key & 7);
  }
}

/** Protobuf key of a varint field. */
const varint = (field: number) => field << 3;

function parseTrainer(r: Reader, spec: SpieceTrainerSpec): void {
  forEachField(r, (key) => {
    if (key === varint(3)) spec.modelType = readVarint(r) | 0;
    else if (key === varint(35)) spec.byteFallback = readBool(r);
    else if (key === varint(24)) spec.treatWhitespaceAsSuffix = readBool(r);
    else return false;
    return true;
  });
}

function parseNormalizer(r: Reader, spec: SpieceNormalizerSpec): void {
  forEachField(r, (key) => {
    if (key === 0x0a) spec.name = utf8.decode(readBytes(r));
    else if (key === 0x12) spec.precompiledCharsmap = readBytes(r);
    else if (key === varint(3)) spec.addDummyPrefix = readBool(r);
    else if (key === varint(4)) spec.removeExtraWhitespaces = readBool(r);
    else if (key === varint(5)) spec.escapeWhitespaces = readBool(r);
    else return false;
    return true;
  });
}

/**
 * Parses the bytes of a SentencePiece `.model` file.
 * @param bytes The whole file.
 * @returns Pieces, trainer and normalizer specs, with proto defaults applied.
 * @throws {RangeError} On malformed protobuf or invalid UTF-8 in a string field.
 */
export function parseSpieceModel(bytes: Uint8Array): SpieceModel {
  const model: SpieceModel = {
    pieces: [],
    trainer: { modelType: 1, byteFallback: false, treatWhitespaceAsSuffix: false },
    normalizer: {
      name: "",
      precompiledCharsmap: new Uint8Array(0),
      addDummyPrefix: true,
      removeExtraWhitespaces: true,
      escapeWhitespaces: true,
    },
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const top: Reader = { bytes, view, pos: 0, end: bytes.length };
  try {
    forEachField(top, (key, r) => {
      if (key === 0x0a) model.pieces.push(parsePiece(subReader(r))); // field 1, length-delimited
      else if (key === 0x12) parseTrainer(subReader(r), model.trainer);
      else if (key === 0x1a) parseNormalizer(subReader(r), model.normalizer);
      else return false;
      return true;
    });
  } catch (e) {
    if (e instanceof TypeError) {
      throw new RangeError("Cannot parse the SentencePiece model: invalid UTF-8 in a string", {
        cause: e,
      });
    }
    throw e;
  }
  return model;
}
