import { createSentencePiece } from "../../lib/text/sentencepiece.ts";

const modelBytes = Deno.readFileSync(new URL("../golden/data/spiece/bf.model", import.meta.url));
const tok = createSentencePiece(modelBytes);

// Mixed Chinese/English prompt with full-width forms and an emoji (byte fallback): 253 pieces
// with the golden byte-fallback model, so encode(…, 256) fills the window without truncating.
const SENTENCE =
  "一只可爱的熊猫坐在竹林里吃竹子，水墨画风格，高清细节。A cute panda sitting in a " +
  "bamboo forest eating bamboo, ink painting style, highly detailed, 8k, cinematic lighting! " +
  "夕阳下的长城，油画风格，赛博朋克风格的城市夜景，霓虹灯 and an astronaut riding a horse on " +
  "the moon 😀 ＡＢＣ　１２３ ";
const PROMPT = SENTENCE.repeat(2) + SENTENCE.slice(0, 100);

Deno.bench("sentencepiece encode, ~256-token mixed prompt, max_length 256", () => {
  tok.encode(PROMPT, 256);
});

Deno.bench("sentencepiece encode, empty prompt, max_length 256", () => {
  tok.encode("", 256);
});

Deno.bench("sentencepiece load (parse + normalizer + piece trie), 3000-piece model", () => {
  createSentencePiece(modelBytes);
});
