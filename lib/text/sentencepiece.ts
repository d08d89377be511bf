/**
 * The mT5 tokenizer of HunyuanDiT (`tokenizer_2`): transformers 4.57.6 slow `T5Tokenizer` over a
 * SentencePiece unigram `spiece.model`, called as diffusers' HunyuanDiTPipeline.encode_prompt does:
 * `tokenizer(text, padding="max_length", max_length=L, truncation=True)`.
 *
 * HunyuanDiT's config gives `extra_ids=0`, no additional special tokens and `legacy` unset (= true),
 * so the added tokens are only `</s>`, `<unk>`, `<pad>`, and each text chunk between them is
 * encoded by SentencePiece on its own (with its own dummy prefix).
 * @module
 */

import { parseSpieceModel, PieceType, type SpieceModel } from "./spiece_model.ts";
import { createSpieceProcessor, type SpieceProcessor } from "./spiece_processor.ts";

/** Padded ids and attention mask, both of length `maxLength`. */
export interface SentencePieceEncoding {
  /** Token ids: content, `</s>`, then `<pad>` ids. */
  ids: Int32Array;
  /** 1 for content and `</s>`, 0 for padding. */
  mask: Int32Array;
}

/** A loaded mT5 tokenizer. */
export interface SentencePieceTokenizer {
  /**
   * Tokenizes like `T5Tokenizer(text, padding="max_length", max_length, truncation=True)`.
   * @param text The prompt, untouched (a lone UTF-16 surrogate is read as U+FFFD).
   * @param maxLength Output length, at least 2 (HunyuanDiT: 256).
   * @throws {RangeError} When `maxLength` is not an integer >= 2.
   */
  encode(text: string, maxLength: number): SentencePieceEncoding;
}

/** Options of {@link loadSentencePiece} and {@link createSentencePiece}. */
export interface SentencePieceOptions {
  /**
   * `true` reproduces the slow T5Tokenizer used by diffusers (unknown characters become UTF-8
   * byte pieces when the model has byte fallback, as mT5's does). `false` reproduces
   * T5TokenizerFast (Tencent's AutoTokenizer) and transformers v5: each run of unknown
   * characters becomes a single `<unk>`.
   * @default true
   */
  byteFallback?: boolean;
}

/** Added tokens of the slow T5Tokenizer with HunyuanDiT's config (none is a prefix of another). */
const ADDED_TOKENS = ["</s>", "<unk>", "<pad>"];

/**
 * Splits text on exact occurrences of the added tokens (leftmost, then longest), as
 * transformers' `PreTrainedTokenizer.tokenize` does before any normalization; the tokens
 * themselves are neither normalized nor given a dummy prefix.
 */
function splitAddedTokens(text: string): { chunk: string; special: boolean }[] {
  const parts: { chunk: string; special: boolean }[] = [];
  let start = 0;
  for (let i = text.indexOf("<"); i >= 0 && i < text.length; i = text.indexOf("<", i)) {
    const token = ADDED_TOKENS.filter((t) => text.startsWith(t, i))
      .reduce((a, t) => (t.length > a.length ? t : a), "");
    if (token === "") {
      i++;
      continue;
    }
    if (i > start) parts.push({ chunk: text.slice(start, i), special: false });
    parts.push({ chunk: token, special: true });
    start = i = i + token.length;
  }
  if (start < text.length) parts.push({ chunk: text.slice(start), special: false });
  return parts;
}

/**
 * Id T5Tokenizer gives an added token: from its `get_vocab()` (`{id_to_piece(i): i}`), so the
 * last piece spelled like the token wins when several are.
 */
function addedTokenId(model: SpieceModel, token: string): number {
  const id = model.pieces.findLastIndex((p) => p.piece === token);
  if (id < 0) {
    throw new RangeError(`Cannot load the mT5 tokenizer: the model has no "${token}" piece`);
  }
  return id;
}

/** T5Tokenizer's id of a piece string: added tokens first, then `sp.piece_to_id`. */
function t5Id(added: Map<string, number>, sp: SpieceProcessor, piece: string): number {
  return added.get(piece) ?? sp.pieceId(piece) ?? sp.unkId;
}

/**
 * T5Tokenizer gets piece strings from SP and maps them back with convert_tokens_to_ids: added
 * tokens first, then sp.piece_to_id (CONTROL/UNKNOWN/BYTE pieces before the others). So a NORMAL
 * piece spelled like an added or reserved piece takes that other id: returns the added-token ids
 * and that remapping of SP ids.
 */
function t5IdMaps(
  model: SpieceModel,
  sp: SpieceProcessor,
): { added: Map<string, number>; remap: Map<number, number> } {
  const added = new Map(ADDED_TOKENS.map((t) => [t, addedTokenId(model, t)]));
  const remap = new Map<number, number>();
  for (const p of model.pieces) {
    const isReserved = p.type === PieceType.CONTROL || p.type === PieceType.UNKNOWN ||
      p.type === PieceType.BYTE;
    if (!isReserved && !added.has(p.piece)) continue;
    const normalId = sp.normalPieceId(p.piece);
    const id = t5Id(added, sp, p.piece);
    if (normalId !== undefined && id !== normalId) remap.set(normalId, id);
  }
  return { added, remap };
}

/**
 * Creates the tokenizer from the bytes of an `spiece.model`.
 * @param modelBytes Contents of the SentencePiece model file.
 * @param options Byte fallback switch.
 * @throws {RangeError} When the model cannot be parsed or is not a usable unigram model.
 * @example Tokenize the empty prompt (only `</s>`)
 * ```ts ignore
 * const tok = createSentencePiece(await Deno.readFile("spiece.model"));
 * tok.encode("", 256).ids.slice(0, 2); // Int32Array [1, 0]
 * ```
 */
export function createSentencePiece(
  modelBytes: Uint8Array,
  options: SentencePieceOptions = {},
): SentencePieceTokenizer {
  const model = parseSpieceModel(modelBytes);
  const sp = createSpieceProcessor(model, options);
  const { added, remap } = t5IdMaps(model, sp);
  const eosId = added.get("</s>")!;
  const padId = added.get("<pad>")!;
  // An unknown run spelling an existing (e.g. UNUSED) piece gets that piece's id in T5Tokenizer.
  const unknownId = (surface: string) => t5Id(added, sp, surface);

  function encode(text: string, maxLength: number): SentencePieceEncoding {
    if (!Number.isInteger(maxLength) || maxLength < 2) {
      throw new RangeError(`Cannot encode: maxLength must be an integer >= 2, got ${maxLength}`);
    }
    const content: number[] = [];
    for (const { chunk, special } of splitAddedTokens(text)) {
      if (special) content.push(added.get(chunk)!);
      else for (const id of sp.encodeIds(chunk, unknownId)) content.push(remap.get(id) ?? id);
      if (content.length >= maxLength) break; // the rest is truncated anyway
    }
    // Truncate to leave room for </s>, which is appended unless the ids already end with it
    // (T5Tokenizer._add_eos_if_not_present, applied after truncation).
    const kept = Math.min(content.length, maxLength - 1);
    const ids = new Int32Array(maxLength).fill(padId);
    const mask = new Int32Array(maxLength);
    for (let i = 0; i < kept; i++) ids[i] = content[i];
    let used = kept;
    if (kept === 0 || content[kept - 1] !== eosId) ids[used++] = eosId;
    mask.fill(1, 0, used);
    return { ids, mask };
  }

  return { encode };
}

/**
 * Loads the tokenizer from an `spiece.model` file.
 * @param spieceModelPath Path of HunyuanDiT's `tokenizer_2/spiece.model` (or any unigram model).
 * @param options Byte fallback switch.
 * @throws {RangeError} When the file is not a usable unigram SentencePiece model.
 */
export async function loadSentencePiece(
  spieceModelPath: string,
  options: SentencePieceOptions = {},
): Promise<SentencePieceTokenizer> {
  const bytes = await Deno.readFile(spieceModelPath);
  try {
    return createSentencePiece(bytes, options);
  } catch (e) {
    throw new RangeError(`Cannot load "${spieceModelPath}": ${(e as Error).message}`, { cause: e });
  }
}
