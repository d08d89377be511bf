"""Golden data for lib/text/bert_wordpiece.ts: a synthetic BERT vocab and the slow BertTokenizer's ids/masks.

Run: $(bash tests/golden/ref_venv.sh) tests/golden/gen_bert_tokenizer.py   (writes tests/golden/data/bert/)

Oracle: transformers 4.57.6 slow `BertTokenizer(vocab, do_lower_case=True, tokenize_chinese_chars=True,
strip_accents=None)` called as HunyuanDiT's pipeline does (padding="max_length", truncation=True). Python 3.11's
unicodedata (Unicode 14.0) decides character classes, so `unicode_classes.json` records them per code point too.
"""
import json
import os
import sys
import unicodedata

import transformers
from transformers import BertTokenizer
from transformers.models.bert.tokenization_bert import BasicTokenizer

assert transformers.__version__ == "4.57.6", transformers.__version__
assert sys.version_info[:2] == (3, 11), sys.version
assert unicodedata.unidata_version == "14.0.0", unicodedata.unidata_version

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prompts import EDGE, EN, PUNCT, WORDS_EN, WORDS_ZH, ZH, prompts  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "bert")
LENGTHS = (77, 16)

# Extra cases beyond the shared corpus: special tokens inside text, case mapping corners, Unicode-version corners.
EXTRA = [
    "Hello [SEP] world", "a[SEP]b", "[MASK]猫", "[cls] [Sep] [CLS][CLS]", "[SE\u200bP] x", "[PAD][UNK]",
    "ΟΔΟΣ οδος ς", "İstanbul DİYARBAKIR", "ǅ ǈ ǋ ǲ", "Ⅻ ⓐ Ⓩ",
    "\U0001FAE8 new in Unicode 15 cat\U0001FAE8", "\U00011F00 kawi", "\U0001171E ahom",
    "\U0002B820\U0002B91F\U0002B920 ext", "\U00030000 ext g", "\ud800 lone surrogate \udfff",
    "\x00nul\ufffdrepl", "\x0bvt\x0cff\x1cfs\x85nel", "\u180emvs \u2060wj", "line\u2028sep",
    "unaffable", "Café cafe\u0301 CAFÉ", "cat😀", "猫cat猫", "ＣＡＴ", "e\u0301\u0301\u0327 ḉ",
    "the the THE", "$5 ^caret `tick` |pipe| ~tilde~ <a=b>", "a" * 100, "é" * 101, "猫" * 80,
]

# Characters deliberately left out of the vocab so that [UNK] occurs for them.
LEFT_OUT = set("龍鳳凰傳說『』🎨ｆ")


def build_vocab() -> list[str]:
    """Deterministic vocab: bert-base-chinese layout for the specials, then punctuation, CJK, English pieces."""
    toks = ["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]", "<S>", "<T>"]
    seen = set(toks)

    def add(t: str) -> None:
        if t and t not in seen and not (set(t) & LEFT_OUT):
            seen.add(t)
            toks.append(t)

    for cp in range(33, 127):
        if not chr(cp).isupper():
            add(chr(cp))
    for c in "abcdefghijklmnopqrstuwxyz0123456789":  # no "##v": words needing it become [UNK]
        add("##" + c)
    for c in "，。！？、；：（）【】《》「」“”‘’…—·～" + "".join(PUNCT):
        add(c)
    text = " ".join(ZH + EN + EDGE + WORDS_ZH + prompts())
    for ch in sorted(set(text)):
        if 0x4E00 <= ord(ch) <= 0x9FFF or 0x3040 <= ord(ch) <= 0x30FF:
            add(ch)
    for cp in range(0x4E00, 0x4E00 + 1500):
        add(chr(cp))
    words = set()
    for s in EN + WORDS_EN + EXTRA:
        for w in s.lower().replace(",", " ").replace(".", " ").split():
            if w.isalpha() and w.isascii():
                words.add(w)
    for w in sorted(words):
        add(w)
    for p in "un ##aff ##able ##ing ##ed ##ly ##er ##est ##tion ##s ##es ##ful ##ness ##ment ##ism ##ist ##al".split():
        add(p)
    for p in "cafe naive resume angstrom facade jalapeno ##eno strasse ø ##ø ł ##ł æ ##æ ß ı œ".split():
        add(p)
    for p in "α β γ ∑ ∞ ≠ ≤ ² ³ ½ © ™ ①".split():
        add(p)
    for p in "σ ς ο ##δ ##ο ##σ ##ς istanbul diyarbakir ǆ ǉ ##emal".split():  # case-mapping corners
        add(p)
    for p in ["😀", "🐼", "🐱", "👨", "👩", "👧", "👦", "№", "猫", "##猫", "##ｃ", "ｃ", "##ａ", "##ｔ", "ḉ", "##ḉ"]:
        add(p)
    toks.append("the")  # duplicate line on purpose: load_vocab's dict keeps the LAST id for a repeated token
    return toks


def unicode_classes() -> list[list[int]]:
    """Run-length table [[first_code_point, class], ...] of BasicTokenizer's per-character classes.

    Classes: 0 other, 1 removed by _clean_text (NUL, U+FFFD, category C* except TAB/LF/CR), 2 whitespace,
    3 punctuation, 4 Mn (dropped by accent stripping), 5 CJK (space-isolated).
    """
    from transformers.tokenization_utils import _is_control, _is_punctuation, _is_whitespace

    cjk = BasicTokenizer()._is_chinese_char
    runs: list[list[int]] = []
    for cp in range(0x110000):
        ch = chr(cp)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            cls = 1
        elif _is_whitespace(ch):
            cls = 2
        elif _is_punctuation(ch):
            cls = 3
        elif unicodedata.category(ch) == "Mn":
            cls = 4
        elif cjk(cp):
            cls = 5
        else:
            cls = 0
        if not runs or runs[-1][1] != cls:
            runs.append([cp, cls])
    return runs


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    vocab = build_vocab()
    vocab_path = os.path.join(OUT, "vocab.txt")
    with open(vocab_path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(vocab) + "\n")
    tok = BertTokenizer(vocab_path, do_lower_case=True, tokenize_chinese_chars=True, strip_accents=None)
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id) == (
        0, 100, 101, 102, 103)

    corpus = prompts() + EXTRA
    index = {
        "transformers": transformers.__version__,
        "python": sys.version.split()[0],
        "unicode": unicodedata.unidata_version,
        "vocab": "vocab.txt",
        "vocab_lines": len(vocab),
        "prompts": "prompts.json",
        "count": len(corpus),
        "lengths": {},
    }
    for length in LENGTHS:
        ids = bytearray()
        masks = bytearray()
        unk = 0
        for text in corpus:
            enc = tok(text, padding="max_length", max_length=length, truncation=True, return_attention_mask=True)
            assert len(enc["input_ids"]) == length
            unk += enc["input_ids"].count(tok.unk_token_id)
            ids += b"".join(int(i).to_bytes(4, "little", signed=True) for i in enc["input_ids"])
            masks += bytes(enc["attention_mask"])
        with open(os.path.join(OUT, f"ids_{length}.bin"), "wb") as f:
            f.write(ids)
        with open(os.path.join(OUT, f"mask_{length}.bin"), "wb") as f:
            f.write(masks)
        index["lengths"][str(length)] = {"ids": f"ids_{length}.bin", "ids_dtype": "int32le",
                                         "mask": f"mask_{length}.bin", "mask_dtype": "uint8", "unk_tokens": unk}
    with open(os.path.join(OUT, "prompts.json"), "w", encoding="ascii") as f:
        json.dump(corpus, f, ensure_ascii=True, indent=0)
    with open(os.path.join(OUT, "unicode_classes.json"), "w", encoding="ascii") as f:
        json.dump(unicode_classes(), f, separators=(",", ":"))
    with open(os.path.join(OUT, "index.json"), "w", encoding="ascii") as f:
        json.dump(index, f, indent=2)
    print(json.dumps(index))


if __name__ == "__main__":
    main()
