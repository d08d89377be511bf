/**
 * Prompt tokenizers, exact to transformers' slow tokenizers: BERT WordPiece for the CLIP-side text
 * encoder (bert_wordpiece.ts) and SentencePiece unigram for mT5 (sentencepiece.ts, reading
 * `spiece.model` itself). Both pad and truncate to a length and return ids with an attention mask.
 *
 * @module
 */
export {
  type BertEncoding,
  type BertTokenizer,
  createBertTokenizer,
  loadBertTokenizer,
} from "./bert_wordpiece.ts";
export {
  createSentencePiece,
  loadSentencePiece,
  type SentencePieceEncoding,
  type SentencePieceOptions,
  type SentencePieceTokenizer,
} from "./sentencepiece.ts";
