import { loadBertTokenizer } from "../../lib/text/bert_wordpiece.ts";

// Golden vocab (2,015 entries; see tests/golden/gen_bert_tokenizer.py): CJK characters, English
// words and pieces. A mixed Chinese/English prompt of about 256 BERT tokens, including accents and
// full-width text.
const bert = await loadBertTokenizer(
  new URL("../golden/data/bert/vocab.txt", import.meta.url).pathname,
);
const PROMPT = [
  "一只可爱的猫坐在窗台上，A cute cat sitting on a windowsill, ",
  "夕阳下的长城，油画风格。The Great Wall at sunset, oil painting; ",
  "赛博朋克风格的城市夜景，霓虹灯 Cyberpunk city at night with neon lights, 8k, ultra-detailed! ",
  "水墨画：山水之间的小船 portrait of an old man, Rembrandt style, café naïve résumé ",
  "熊猫在竹林里吃竹子（高清，写实） low-poly fox in a forest; vibrant colors ",
].join("").repeat(2);
const TOKENS = bert.encode(PROMPT, 1024).mask.reduce((a, b) => a + b, 0) - 2;
if (TOKENS < 230 || TOKENS > 290) {
  throw new Error(`Benchmark prompt has ${TOKENS} tokens, expected ~256`);
}

Deno.bench(`BERT encode, ${TOKENS}-token mixed zh/en prompt, maxLength 512`, () => {
  bert.encode(PROMPT, 512);
});

Deno.bench(`BERT encode, ${TOKENS}-token mixed zh/en prompt, maxLength 77 (HunyuanDiT)`, () => {
  bert.encode(PROMPT, 77);
});
