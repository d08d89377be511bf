/**
 * SentencePiece processor for unigram models: text -> piece ids exactly as
 * `sentencepiece.SentencePieceProcessor.encode(text)` (0.2.x, no BOS/EOS), i.e. google/sentencepiece
 * (@2734490) `SentencePieceProcessor::Encode`: normalize, Viterbi, then
 * `PopulateSentencePieceText` (unknown characters become byte pieces with byte fallback,
 * otherwise each run of them becomes one unknown piece).
 * @module
 */

import { PieceType, type SpieceModel } from "./spiece_model.ts";
import { createSpieceNormalizer, type SpieceNormalize } from "./spiece_normalizer.ts";
import { buildByteTrie, trieFind } from "./spiece_trie.ts";
import { createUnigramLattice, type UnigramLattice, unigramSegment } from "./spiece_unigram.ts";

/** Encoder over one model. */
export interface SpieceProcessor {
  /**
   * Piece ids of `text` (like `sp.encode(text)`); a lone UTF-16 surrogate counts as U+FFFD.
   * @param unknownId Id for each merged run of unknown characters, given its normalized text
   * (default: the unknown id). Not called for byte-fallback pieces.
   */
  encodeIds(text: string, unknownId?: (surface: string) => number): number[];
  /** Normalized text with U+2581 for whitespace (like `sp.normalize(text)`). */
  normalize(text: string): string;
  /** Id of the UNKNOWN piece. */
  unkId: number;
  /** Id of a piece string, looking at CONTROL/UNKNOWN/BYTE pieces first; undefined if absent. */
  pieceId(piece: string): number | undefined;
  /** Id of the NORMAL/USER_DEFINED/UNUSED piece spelled `piece`; undefined if absent. */
  normalPieceId(piece: string): number | undefined;
}

/** Options of {@link createSpieceProcessor}. */
export interface SpieceProcessorOptions {
  /**
   * Use the model's byte fallback (when it has one). `false` turns each run of unknown characters
   * into one `<unk>` instead, as transformers' T5TokenizerFast and v5 T5Tokenizer do.
   * @default true
   */
  byteFallback?: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function invalid(what: string): never {
  throw new RangeError(`Cannot load the SentencePiece model: ${what}`);
}

/**
 * Checks the vocabulary as model_interface.cc `InitializePieces` does (repeats among
 * NORMAL/USER_DEFINED/UNUSED pieces are caught when their trie is built) and returns the map of
 * the other (CONTROL/UNKNOWN/BYTE) pieces and the unknown id.
 */
function indexReserved(model: SpieceModel): { reserved: Map<string, number>; unkId: number } {
  if (model.trainer.modelType !== 1) {
    invalid(`model type ${model.trainer.modelType} is not supported (only 1 = UNIGRAM)`);
  }
  const reserved = new Map<string, number>();
  let unkId = -1;
  model.pieces.forEach((p, id) => {
    if (p.bytes.length === 0) invalid(`piece ${id} is empty`);
    if (
      p.type === PieceType.NORMAL || p.type === PieceType.USER_DEFINED ||
      p.type === PieceType.UNUSED
    ) return;
    if (reserved.has(p.piece)) invalid(`piece "${p.piece}" is defined twice`);
    reserved.set(p.piece, id);
    if (p.type === PieceType.UNKNOWN) {
      if (unkId >= 0) invalid("more than one UNKNOWN piece");
      unkId = id;
    }
    if (p.type === PieceType.BYTE && !model.trainer.byteFallback) {
      invalid(`byte piece "${p.piece}" found although byte_fallback is false`);
    }
  });
  if (unkId < 0) invalid("no UNKNOWN piece");
  return { reserved, unkId };
}

/**
 * Creates a processor for a parsed unigram model.
 * @param model From `parseSpieceModel`.
 * @param options Byte fallback switch.
 * @throws {RangeError} When the model is not a valid unigram model.
 */
export function createSpieceProcessor(
  model: SpieceModel,
  options: SpieceProcessorOptions = {},
): SpieceProcessor {
  const { reserved, unkId } = indexReserved(model);
  const byteIds = new Int32Array(256);
  if (model.trainer.byteFallback) {
    for (let b = 0; b < 256; b++) {
      const piece = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
      const id = reserved.get(piece);
      if (id === undefined || model.pieces[id].type !== PieceType.BYTE) {
        invalid(`byte_fallback is set but byte piece "${piece}" is missing`);
      }
      byteIds[b] = id;
    }
  }
  const byteFallback = model.trainer.byteFallback && (options.byteFallback ?? true);
  let lattice: UnigramLattice;
  try {
    lattice = createUnigramLattice(model, unkId);
  } catch (e) {
    invalid((e as Error).message);
  }
  const userDefined = model.pieces.filter((p) => p.type === PieceType.USER_DEFINED);
  const normalizeBytes: SpieceNormalize = createSpieceNormalizer(model.normalizer, {
    treatWhitespaceAsSuffix: model.trainer.treatWhitespaceAsSuffix,
    userDefined: userDefined.length > 0
      ? buildByteTrie(userDefined, userDefined.map((_, i) => i))
      : null,
  });

  function normalPieceId(piece: string): number | undefined {
    const id = trieFind(lattice.trie, encoder.encode(piece));
    return id >= 0 ? id : undefined;
  }

  function encodeIds(text: string, unknownId?: (surface: string) => number): number[] {
    const normalized = normalizeBytes(encoder.encode(text));
    const seg = unigramSegment(lattice, normalized);
    const ids: number[] = [];
    let prevUnk = false;
    for (let i = 0; i < seg.ids.length; i++) {
      const id = seg.ids[i];
      const isUnk = id === unkId;
      if (isUnk && byteFallback) {
        for (let b = seg.starts[i]; b < seg.ends[i]; b++) ids.push(byteIds[normalized[b]]);
      } else if (!isUnk) {
        ids.push(id);
      } else if (!prevUnk) { // a run of unknown pieces is merged into one
        let end = seg.ends[i];
        for (let j = i + 1; j < seg.ids.length && seg.ids[j] === unkId; j++) end = seg.ends[j];
        ids.push(
          unknownId ? unknownId(decoder.decode(normalized.subarray(seg.starts[i], end))) : id,
        );
      }
      prevUnk = isUnk;
    }
    return ids;
  }

  return {
    encodeIds,
    normalize: (text) => decoder.decode(normalizeBytes(encoder.encode(text))),
    unkId,
    pieceId: (piece) => reserved.get(piece) ?? normalPieceId(piece),
    normalPieceId,
  };
}
