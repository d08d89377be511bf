/**
 * Prompts -> the DiT's text inputs: BERT WordPiece ids [rows, 77] through the CLIP-side text
 * encoder and SentencePiece ids [rows, 256] through the mT5 encoder, both run at once, each state
 * and mask typed as the DiT declares them.
 *
 * @module
 */

import { convertFloat, type Engine, inputType, intTensor, type Tensor } from "../engine/mod.ts";

/** Token length of the BERT (CLIP-side) encoder. */
export const BERT_LENGTH = 77;
/** Token length of the mT5 encoder. */
export const T5_LENGTH = 256;

/** A tokenizer as the encoders need it: ids and attention mask padded to `maxLength`. */
export interface PromptTokenizer {
  encode(text: string, maxLength: number): { ids: Int32Array; mask: Int32Array };
}

/** The engines and tokenizers of both text branches, and the DiT whose inputs they feed. */
export interface TextEncoders {
  bert: PromptTokenizer;
  mt5: PromptTokenizer;
  clip: Engine;
  t5: Engine;
  dit: Engine;
}

/** Stacks per-row token ids/masks into one [rows, length] array. */
function stack(rows: Int32Array[]): Int32Array {
  return Int32Array.from(rows.flatMap((row) => Array.from(row)));
}

/** Runs one text encoder on tokenized prompts; returns its states and the mask, typed for the DiT. */
async function encode(
  engine: Engine,
  dit: Engine,
  rows: { ids: Int32Array; mask: Int32Array }[],
  length: number,
  names: [states: string, mask: string],
): Promise<Record<string, Tensor>> {
  const dims = [rows.length, length];
  const mask = stack(rows.map((r) => r.mask));
  const out = await engine.run({
    input_ids: intTensor(stack(rows.map((r) => r.ids)), dims, inputType(engine, "input_ids")),
    attention_mask: intTensor(mask, dims, inputType(engine, "attention_mask")),
  });
  return {
    [names[0]]: convertFloat(out.last_hidden_state, inputType(dit, names[0])),
    [names[1]]: intTensor(mask, dims, inputType(dit, names[1])),
  };
}

/**
 * Tokenizes and encodes `prompts` (one row each, [negative; prompt] with guidance) for both text
 * encoders; returns the DiT's `encoder_hidden_states[_t5]` and `text_embedding_mask[_t5]` feeds.
 */
export async function encodePrompts(
  encoders: TextEncoders,
  prompts: readonly string[],
): Promise<Record<string, Tensor>> {
  const { bert, mt5, clip, t5, dit } = encoders;
  const [clipFeeds, t5Feeds] = await Promise.all([
    encode(clip, dit, prompts.map((p) => bert.encode(p, BERT_LENGTH)), BERT_LENGTH, [
      "encoder_hidden_states",
      "text_embedding_mask",
    ]),
    encode(t5, dit, prompts.map((p) => mt5.encode(p, T5_LENGTH)), T5_LENGTH, [
      "encoder_hidden_states_t5",
      "text_embedding_mask_t5",
    ]),
  ]);
  return { ...clipFeeds, ...t5Feeds };
}
