import assert from "node:assert/strict";
import {
  type BertCharClass,
  bertCharClass,
  createBertTokenizer,
  loadBertTokenizer,
} from "../../lib/text/bert_wordpiece.ts";

const DATA = new URL("../golden/data/bert/", import.meta.url);

interface GoldenIndex {
  count: number;
  lengths: Record<string, { ids: string; mask: string }>;
}

function readJson<T>(name: string): T {
  return JSON.parse(Deno.readTextFileSync(new URL(name, DATA))) as T;
}

function readInt32(name: string): Int32Array {
  const bytes = Deno.readFileSync(new URL(name, DATA));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Int32Array.from({ length: bytes.byteLength / 4 }, (_, i) => view.getInt32(4 * i, true));
}

// A tiny vocab with readable ids: token i is on line i.
const TINY = [
  "[PAD]",
  "[UNK]",
  "[CLS]",
  "[SEP]",
  "[MASK]",
  "un",
  "##aff",
  "##able",
  "cafe",
  "cat",
  "猫",
  "[",
  "]",
  "c",
  "##l",
  "##s",
  "ｃａｔ",
  "the",
  "the",
].join("\n");

function tokens(text: string, maxLength = 16): string[] {
  const names = TINY.split("\n");
  const { ids, mask } = createBertTokenizer(TINY).encode(text, maxLength);
  return Array.from(ids.filter((_, i) => mask[i] === 1), (id) => names[id]);
}

Deno.test("loadBertTokenizer() matches the slow BertTokenizer on the golden corpus", async () => {
  const tokenizer = await loadBertTokenizer(new URL("vocab.txt", DATA).pathname);
  const index = readJson<GoldenIndex>("index.json");
  const prompts = readJson<string[]>("prompts.json");
  assert.equal(prompts.length, index.count);
  for (const [length, files] of Object.entries(index.lengths)) {
    const maxLength = Number(length);
    const ids = readInt32(files.ids);
    const masks = Deno.readFileSync(new URL(files.mask, DATA));
    assert.equal(ids.length, prompts.length * maxLength);
    const mismatches: string[] = [];
    prompts.forEach((prompt, p) => {
      const got = tokenizer.encode(prompt, maxLength);
      const want = ids.subarray(p * maxLength, (p + 1) * maxLength);
      const wantMask = Int32Array.from(masks.subarray(p * maxLength, (p + 1) * maxLength));
      if (got.ids.length !== maxLength || got.mask.length !== maxLength) {
        mismatches.push(`#${p} wrong output length`);
      } else if (
        got.ids.some((id, i) => id !== want[i]) || got.mask.some((m, i) => m !== wantMask[i])
      ) {
        mismatches.push(`#${p} ${JSON.stringify(prompt)}: got ${got.ids} want ${want}`);
      }
    });
    assert.deepEqual(mismatches.slice(0, 5), [], `${mismatches.length} mismatches at ${length}`);
  }
});

Deno.test("bertCharClass() agrees with Python 3.11 (Unicode 14.0) on every code point", () => {
  const names: BertCharClass[] = ["other", "removed", "whitespace", "punctuation", "mark", "cjk"];
  const runs = readJson<[number, number][]>("unicode_classes.json");
  const wrong: string[] = [];
  runs.forEach(([first, cls], r) => {
    const end = r + 1 < runs.length ? runs[r + 1][0] : 0x110000;
    for (let cp = first; cp < end; cp++) {
      if (bertCharClass(cp) !== names[cls]) wrong.push(`U+${cp.toString(16)} ${bertCharClass(cp)}`);
    }
  });
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} code points differ`);
});

Deno.test("createBertTokenizer() splits words into WordPiece continuations", () => {
  assert.deepEqual(tokens("unaffable"), ["[CLS]", "un", "##aff", "##able", "[SEP]"]);
  assert.deepEqual(tokens("Café cafe\u0301 CAFÉ"), ["[CLS]", "cafe", "cafe", "cafe", "[SEP]"]);
  assert.deepEqual(tokens("猫cat猫"), ["[CLS]", "猫", "cat", "猫", "[SEP]"]);
  assert.deepEqual(tokens("ＣＡＴ"), ["[CLS]", "ｃａｔ", "[SEP]"]);
});

Deno.test("createBertTokenizer() turns a word with an unmatched position into one [UNK]", () => {
  assert.deepEqual(tokens("cat😀 unaffx"), ["[CLS]", "[UNK]", "[UNK]", "[SEP]"]);
  assert.deepEqual(tokens("c".repeat(101)), ["[CLS]", "[UNK]", "[SEP]"]);
});

Deno.test("createBertTokenizer() keeps exact special tokens and lower-cases the rest", () => {
  assert.deepEqual(tokens("[MASK]猫"), ["[CLS]", "[MASK]", "猫", "[SEP]"]);
  assert.deepEqual(tokens("[cls][CLS]"), ["[CLS]", "[", "c", "##l", "##s", "]", "[CLS]", "[SEP]"]);
});

Deno.test("createBertTokenizer() gives a repeated vocab token its last line's id", () => {
  const { ids } = createBertTokenizer(TINY).encode("the", 4);
  assert.deepEqual(Array.from(ids), [2, 18, 3, 0]);
});

Deno.test("createBertTokenizer() truncates to maxLength - 2 content tokens and pads", () => {
  const tokenizer = createBertTokenizer(TINY);
  const long = tokenizer.encode("cat ".repeat(10), 5);
  assert.deepEqual(Array.from(long.ids), [2, 9, 9, 9, 3]);
  assert.deepEqual(Array.from(long.mask), [1, 1, 1, 1, 1]);
  const empty = tokenizer.encode(" \t\u200b", 4);
  assert.deepEqual(Array.from(empty.ids), [2, 3, 0, 0]);
  assert.deepEqual(Array.from(empty.mask), [1, 1, 0, 0]);
});

Deno.test("createBertTokenizer() rejects a vocab without specials and maxLength < 3", () => {
  assert.throws(
    () => createBertTokenizer("[PAD]\n[UNK]\n[CLS]\n[SEP]\n"),
    /lacks the special token "\[MASK\]"/,
  );
  assert.throws(() => createBertTokenizer(TINY).encode("cat", 2), RangeError);
});

Deno.test("loadBertTokenizer() names the path of a missing vocab file", async () => {
  await assert.rejects(loadBertTokenizer("/nonexistent/vocab.txt"), /"\/nonexistent\/vocab.txt"/);
});
