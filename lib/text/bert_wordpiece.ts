/**
 * BERT WordPiece tokenizer, id-exact to transformers 4.57.6's slow `BertTokenizer` as HunyuanDiT
 * uses it: `BertTokenizer(vocab, do_lower_case=True, tokenize_chinese_chars=True,
 * strip_accents=None)` called with `padding="max_length", max_length, truncation=True`.
 *
 * Written here rather than taken from a tokenizer.json library: the Rust/JS "fast" BERT pipeline
 * differs from the slow one (CJK range typo 0x2B920, no NFC step, its own Unicode version instead
 * of Python 3.11's 14.0), so it would give other ids for some prompts. Goldens:
 * tests/golden/gen_bert_tokenizer.py.
 *
 * Stages, each one function below: special-token split -> normalize (per code point) ->
 * pre-tokenize (whitespace, accents, punctuation) -> WordPiece -> post-process ([CLS] ... [SEP],
 * truncate, pad). References name lines in the transformers 4.57.6 wheel: TB =
 * models/bert/tokenization_bert.py, TU = tokenization_utils.py.
 * @module
 */

import {
  isNonspacingMark,
  isOtherCategory,
  isPythonWhitespace,
  isUnassignedInUnicode14,
} from "./unicode.ts";

/** Token ids and attention mask of one encoded prompt, both exactly `maxLength` long. */
export interface BertEncoding {
  /** `[CLS]`, content ids, `[SEP]`, then `[PAD]` up to `maxLength`. */
  ids: Int32Array;
  /** 1 for `[CLS]`, content and `[SEP]`; 0 for padding. */
  mask: Int32Array;
}

/** A loaded BERT tokenizer. */
export interface BertTokenizer {
  /**
   * Encodes `text` like the slow `BertTokenizer` with `padding="max_length", truncation=True`.
   * `maxLength` must be an integer >= 3 (below that transformers cannot truncate and returns more
   * ids).
   */
  encode(text: string, maxLength: number): BertEncoding;
}

const SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] as const;
// TB l.424 WordpieceTokenizer: max_input_chars_per_word=100.
const MAX_WORD_CHARS = 100;

interface Vocab {
  ids: Map<string, number>;
  /** Longest vocab entry in code points: a bound for WordPiece's longest-match search. */
  maxTokenChars: number;
  pad: number;
  unk: number;
  cls: number;
  sep: number;
  special: Map<string, number>;
}

/**
 * Parses vocab.txt content (one token per line, id = 0-based line number) into a tokenizer.
 * Throws an `Error` if one of `[PAD] [UNK] [CLS] [SEP] [MASK]` is missing.
 *
 * @example Encode with a tiny vocab
 * ```ts
 * import assert from "node:assert/strict";
 * const tokenizer = createBertTokenizer("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ncat\n猫");
 * const { ids, mask } = tokenizer.encode("Cat猫", 6);
 * assert.deepEqual(Array.from(ids), [2, 5, 6, 3, 0, 0]);
 * assert.deepEqual(Array.from(mask), [1, 1, 1, 1, 0, 0]);
 * ```
 */
export function createBertTokenizer(vocabText: string): BertTokenizer {
  const vocab = parseVocab(vocabText);
  return { encode: (text, maxLength) => encode(vocab, text, maxLength) };
}

/**
 * Reads a UTF-8 vocab.txt file and creates a tokenizer from it (see {@linkcode
 * createBertTokenizer}). Rejects with an `Error` naming the path when the file cannot be read, is
 * not UTF-8 or lacks a special.
 */
export async function loadBertTokenizer(vocabTxtPath: string): Promise<BertTokenizer> {
  try {
    const bytes = await Deno.readFile(vocabTxtPath);
    // Python's open(encoding="utf-8") keeps a leading BOM as part of the first token and fails on
    // bad bytes.
    return createBertTokenizer(
      new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes),
    );
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`Cannot load BERT vocab "${vocabTxtPath}": ${reason}`, { cause: err });
  }
}

// TB l.31 load_vocab: universal newlines (\n, \r\n, \r), strip only the newline, a repeated token
// keeps its LAST line's id (dict assignment).
function parseVocab(text: string): Vocab {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines[lines.length - 1] === "") lines.pop();
  const ids = new Map<string, number>();
  let maxTokenChars = 0;
  lines.forEach((token, id) => {
    ids.set(token, id);
    maxTokenChars = Math.max(maxTokenChars, codePointLength(token));
  });
  const special = new Map<string, number>();
  for (const token of SPECIAL_TOKENS) {
    const id = ids.get(token);
    if (id === undefined) {
      throw new Error(`Cannot create BERT tokenizer: vocab lacks the special token "${token}"`);
    }
    special.set(token, id);
  }
  return {
    ids,
    maxTokenChars,
    pad: special.get("[PAD]")!,
    unk: special.get("[UNK]")!,
    cls: special.get("[CLS]")!,
    sep: special.get("[SEP]")!,
    special,
  };
}

function encode(vocab: Vocab, text: string, maxLength: number): BertEncoding {
  if (!Number.isInteger(maxLength) || maxLength < 3) {
    throw new RangeError(`Cannot encode with maxLength ${maxLength}: expected an integer >= 3`);
  }
  const content: number[] = [];
  for (const chunk of splitSpecialTokens(text, vocab.special)) {
    if (typeof chunk === "number") {
      content.push(chunk);
      continue;
    }
    for (const word of preTokenize(normalize(chunk))) wordPiece(word, vocab, content);
  }
  return postProcess(content, maxLength, vocab);
}

/**
 * Splits `text` on exact, case-sensitive occurrences of the special tokens, which map straight to
 * their ids. This runs before normalizing because transformers does so (TU l.621-699: the
 * lower-casing regex skips special tokens and `tokens_trie.split` cuts them out); normalizing first
 * would lower-case "[CLS]" into ordinary text. The five specials share no prefixes, so the first
 * match at each "[" is the trie's match.
 */
function splitSpecialTokens(text: string, special: Map<string, number>): (string | number)[] {
  const out: (string | number)[] = [];
  let start = 0;
  for (let at = text.indexOf("["); at !== -1; at = text.indexOf("[", at + 1)) {
    for (const [token, id] of special) {
      if (!text.startsWith(token, at)) continue;
      if (at > start) out.push(text.slice(start, at));
      out.push(id);
      start = at + token.length;
      at = start - 1;
      break;
    }
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

/**
 * Normalizer: lower-cases each code point (TU l.652: the regex `(.+?)` lowers one character at a
 * time, so Greek final sigma never applies), drops NUL, U+FFFD and category C* except TAB/LF/CR,
 * maps whitespace to " " (TB l.407 _clean_text), isolates CJK ideographs with spaces (TB l.370),
 * then applies NFC to the whole chunk (TB l.321). Lower-casing before or after the cleaning is the
 * same since no case mapping yields a control, space or CJK character.
 */
function normalize(chunk: string): string {
  // Printable ASCII other than A-Z maps to itself, so runs of it are copied as slices.
  let out = "";
  let copied = 0;
  for (let i = 0; i < chunk.length; i++) {
    const cp = chunk.codePointAt(i)!;
    if (cp >= 0x20 && cp < 0x7f && (cp < 0x41 || cp > 0x5a)) continue;
    out += chunk.slice(copied, i);
    const ch = cp > 0xffff ? chunk.slice(i, i + 2) : chunk[i];
    switch (bertCharClass(cp)) {
      case "removed":
        break;
      case "whitespace":
        out += " ";
        break;
      case "cjk":
        out += " " + ch + " ";
        break;
      default:
        out += cp >= 0x41 && cp <= 0x5a ? String.fromCharCode(cp + 32) : ch.toLowerCase();
    }
    i += ch.length - 1;
    copied = i + 1;
  }
  return (out + chunk.slice(copied)).normalize("NFC");
}

/**
 * Pre-tokenizer: splits on Python whitespace, then per word lower-cases, strips accents (NFD, drop
 * Mn) and splits every punctuation character off as its own word (TB l.299-335, l.337, l.348).
 * Empty words vanish. The slow tokenizer's `never_split` check cannot fire here: a word equal to a
 * special token would need upper-case letters, and those only survive inside exact special-token
 * occurrences, which splitSpecialTokens removed.
 */
function preTokenize(text: string): string[] {
  const words: string[] = [];
  let start = 0;
  let ascii = true;
  for (let i = 0; i <= text.length; i++) {
    const cp = i < text.length ? text.charCodeAt(i) : 0x20;
    if (cp >= 0x80) ascii = false;
    // Python whitespace lies in the BMP, so UTF-16 units suffice; a word ends at each one.
    if (!isPythonWhitespace(cp)) continue;
    if (i > start) {
      const word = text.slice(start, i);
      if (ascii) splitPunctuationAscii(word, words);
      else if (isLoneCjk(word)) words.push(word);
      else stripAndSplit(word, words);
    }
    start = i + 1;
    ascii = true;
  }
  return words;
}

// A lone CJK ideograph after NFC has no case, decomposition or punctuation (NFC removes the
// compatibility ideographs' singleton decompositions): it is its own word.
function isLoneCjk(word: string): boolean {
  const cp = word.codePointAt(0)!;
  return word.length === (cp > 0xffff ? 2 : 1) && bertCharClass(cp) === "cjk";
}

// Lower-cased ASCII needs no case mapping or NFD: only the punctuation split applies.
function splitPunctuationAscii(word: string, out: string[]): void {
  let start = 0;
  for (let i = 0; i < word.length; i++) {
    if (ASCII_CLASSES[word.charCodeAt(i)] !== "punctuation") continue;
    if (i > start) out.push(word.slice(start, i));
    out.push(word[i]);
    start = i + 1;
  }
  if (start < word.length) out.push(start === 0 ? word : word.slice(start));
}

function stripAndSplit(word: string, out: string[]): void {
  let run = "";
  for (const ch of word.toLowerCase().normalize("NFD")) {
    const cls = bertCharClass(ch.codePointAt(0)!);
    if (cls === "mark") continue;
    if (cls === "punctuation") {
      if (run !== "") out.push(run);
      out.push(ch);
      run = "";
    } else run += ch;
  }
  if (run !== "") out.push(run);
}

/**
 * Model: greedy longest-match-first WordPiece (TB l.429 WordpieceTokenizer.tokenize). Continuation
 * pieces carry "##"; a word over 100 code points, or one with a position where nothing matches,
 * becomes one `[UNK]`. Appends the ids to `out`.
 */
function wordPiece(word: string, vocab: Vocab, out: number[]): void {
  if (word.length > MAX_WORD_CHARS && codePointLength(word) > MAX_WORD_CHARS) {
    out.push(vocab.unk);
    return;
  }
  const whole = vocab.ids.get(word);
  if (whole !== undefined) {
    out.push(whole);
    return;
  }
  // UTF-16 offsets of code point boundaries: substrings are taken per code point, as Python's
  // list(str).
  const offsets: number[] = [];
  for (let i = 0; i < word.length; i++) {
    offsets.push(i);
    if (word.codePointAt(i)! > 0xffff) i++;
  }
  const chars = offsets.length;
  offsets.push(word.length);
  const first = out.length;
  for (let start = 0; start < chars;) {
    let id: number | undefined;
    let end = Math.min(chars, start + vocab.maxTokenChars);
    for (; end > start; end--) {
      const piece = word.slice(offsets[start], offsets[end]);
      id = vocab.ids.get(start > 0 ? "##" + piece : piece);
      if (id !== undefined) break;
    }
    if (id === undefined) {
      out.length = first;
      out.push(vocab.unk);
      return;
    }
    out.push(id);
    start = end;
  }
}

/**
 * Post-processor: keeps the first `maxLength - 2` content ids (truncation of a single sequence),
 * wraps them in `[CLS]` ... `[SEP]` (TB l.186) and pads with `[PAD]` on the right.
 */
function postProcess(content: number[], maxLength: number, vocab: Vocab): BertEncoding {
  const kept = Math.min(content.length, maxLength - 2);
  const ids = new Int32Array(maxLength).fill(vocab.pad);
  const mask = new Int32Array(maxLength);
  ids[0] = vocab.cls;
  for (let i = 0; i < kept; i++) ids[i + 1] = content[i];
  ids[kept + 1] = vocab.sep;
  mask.fill(1, 0, kept + 2);
  return { ids, mask };
}

/**
 * Character classes of the slow BasicTokenizer (Unicode 14.0 data, as Python 3.11 sees them):
 * "removed" = NUL, U+FFFD or category C* except TAB/LF/CR (TU l.354, TB l.407); "whitespace" =
 * space, TAB, LF, CR or Zs (TU l.342); "punctuation" = printable non-alphanumeric ASCII or P* (TU
 * l.366); "mark" = Mn, dropped by accent stripping; "cjk" = TB l.383 _is_chinese_char. The classes
 * are disjoint.
 */
export type BertCharClass = "removed" | "whitespace" | "punctuation" | "mark" | "cjk" | "other";

/** Classifies code point `cp` as the slow BertTokenizer does (lone surrogates are "removed"). */
export function bertCharClass(cp: number): BertCharClass {
  if (cp < 0x80) return ASCII_CLASSES[cp];
  if (isCjkIdeograph(cp) && !isUnassignedInUnicode14(cp)) return "cjk";
  if (cp === 0xfffd || isOtherCategory(cp)) return "removed";
  const ch = String.fromCodePoint(cp);
  if (SPACE_SEPARATOR.test(ch)) return "whitespace";
  if (PUNCTUATION.test(ch)) return "punctuation";
  return isNonspacingMark(cp) ? "mark" : "other";
}

const SPACE_SEPARATOR = /^\p{Zs}$/u;
const PUNCTUATION = /^\p{P}$/u;
const ASCII_CLASSES: readonly BertCharClass[] = Array.from({ length: 0x80 }, (_, cp) => {
  if (cp === 0x09 || cp === 0x0a || cp === 0x0d || cp === 0x20) return "whitespace";
  if (cp < 0x20 || cp === 0x7f) return "removed";
  const alphanumeric = /[0-9A-Za-z]/.test(String.fromCharCode(cp));
  return alphanumeric ? "other" : "punctuation";
});

// TB l.383 _is_chinese_char ranges (the slow tokenizer's, with 0x2B820; the fast one has 0x2B920).
function isCjkIdeograph(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) || (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

function codePointLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++, n++) if (text.codePointAt(i)! > 0xffff) i++;
  return n;
}
