/**
 * Unigram Viterbi segmentation, as google/sentencepiece `src/unigram_model.cc` (@2734490)
 * `Model::EncodeOptimized` (the default encoder of sentencepiece 0.2.x), including its
 * arithmetic and tie-breaking.
 * @module
 */

import { PieceType, type SpieceModel, type SpiecePiece } from "./spiece_model.ts";
import { buildByteTrie, type ByteTrie, trieStep } from "./spiece_trie.ts";

/** What the Viterbi search needs from a model. */
export interface UnigramLattice {
  /** NORMAL, USER_DEFINED and UNUSED pieces (as SP's trie; UNUSED ones are skipped when met). */
  trie: ByteTrie;
  /** Score per piece id (float32 values). */
  scores: Float32Array;
  /** Piece type per id ({@link PieceType}). */
  types: Uint8Array;
  /** Id of the UNKNOWN piece. */
  unkId: number;
  /** Score of an unknown character: min NORMAL score - 10 (kUnkPenalty), in float32. */
  unkScore: number;
  /** Max NORMAL score, floored at FLT_MIN as SP initialises it (only user-defined scores use it). */
  maxScore: number;
}

/** Pieces of a segmentation in text order: byte ranges of the normalized text and piece ids. */
export interface Segmentation {
  /** Start byte of each piece. */
  starts: number[];
  /** End byte (exclusive) of each piece. */
  ends: number[];
  /** Piece id (the unknown id for characters no piece covers). */
  ids: number[];
}

const FLT_MAX = 3.4028234663852886e38;
const FLT_MIN = 1.1754943508222875e-38;
const UNK_PENALTY = 10;
/** util.h OneCharLen: UTF-8 sequence length from the lead byte's high nibble. */
const ONE_CHAR_LEN = new Uint8Array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4]);

/**
 * Builds the lattice data of a model.
 * @param model Parsed model.
 * @param unkId Id of its UNKNOWN piece.
 * @throws {RangeError} When a NORMAL/USER_DEFINED/UNUSED piece is repeated.
 */
export function createUnigramLattice(model: SpieceModel, unkId: number): UnigramLattice {
  const keys: SpiecePiece[] = [];
  const values: number[] = [];
  const scores = new Float32Array(model.pieces.length);
  const types = new Uint8Array(model.pieces.length);
  // unigram_model.cc Model::Model: min/max over NORMAL pieces, starting at FLT_MAX / FLT_MIN.
  let minScore = FLT_MAX;
  let maxScore = FLT_MIN;
  model.pieces.forEach((p, id) => {
    scores[id] = p.score;
    types[id] = p.type;
    if (p.type === PieceType.NORMAL) {
      minScore = Math.min(minScore, p.score);
      maxScore = Math.max(maxScore, p.score);
    }
    if (
      p.type === PieceType.NORMAL || p.type === PieceType.USER_DEFINED ||
      p.type === PieceType.UNUSED
    ) {
      keys.push(p);
      values.push(id);
    }
  });
  return {
    trie: buildByteTrie(keys, values),
    scores,
    types,
    unkId,
    unkScore: Math.fround(minScore - UNK_PENALTY),
    maxScore,
  };
}

/**
 * Best segmentation of normalized text. Path scores are float32 sums (every add rounded, compared
 * as float32): the sentencepiece 0.2.3 wheel behaves so, while comparing the sums in double picks
 * other segmentations of e.g. "a".repeat(18) (pinned by the golden case `"a" * 99 ...`). A
 * candidate replaces the stored one only if strictly greater, so on ties the path found first
 * wins: starts are visited left to right and, per start, pieces from short to long.
 * @param m Lattice data from {@link createUnigramLattice}.
 * @param text Normalized UTF-8 bytes.
 */
export function unigramSegment(m: UnigramLattice, text: Uint8Array): Segmentation {
  const n = text.length;
  const best = new Float32Array(n + 1);
  const from = new Int32Array(n + 1).fill(-1);
  const pieceAt = new Int32Array(n + 1);
  const { trie, scores, types } = m;
  const trieValue = trie.value;
  for (let s = 0; s < n;) {
    const till = best[s];
    const mblen = Math.min(ONE_CHAR_LEN[text[s] >> 4], n - s);
    let hasSingle = false;
    let node = 0;
    for (let k = s; k < n; k++) {
      node = trieStep(trie, node, text[k]);
      if (node < 0) break;
      const id = trieValue[node];
      if (id < 0 || types[id] === PieceType.UNUSED) continue;
      const e = k + 1;
      // User-defined symbols get length * max_score - 0.1 so that they always win.
      const score = types[id] === PieceType.USER_DEFINED
        ? Math.fround(Math.fround((e - s) * m.maxScore) - 0.1)
        : scores[id];
      const candidate = Math.fround(score + till);
      if (from[e] === -1 || candidate > best[e]) {
        best[e] = candidate;
        from[e] = s;
        pieceAt[e] = id;
      }
      if (e - s === mblen) hasSingle = true;
    }
    if (!hasSingle) {
      const e = s + mblen;
      const candidate = Math.fround(m.unkScore + till);
      if (from[e] === -1 || candidate > best[e]) {
        best[e] = candidate;
        from[e] = s;
        pieceAt[e] = m.unkId;
      }
    }
    s += mblen;
  }
  const seg: Segmentation = { starts: [], ends: [], ids: [] };
  for (let e = n; e > 0; e = from[e]) {
    seg.starts.push(from[e]);
    seg.ends.push(e);
    seg.ids.push(pieceAt[e]);
  }
  seg.starts.reverse();
  seg.ends.reverse();
  seg.ids.reverse();
  return seg;
}
