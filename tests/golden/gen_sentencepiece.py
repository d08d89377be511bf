"""Golden data for lib/text/sentencepiece.ts (mT5 side of HunyuanDiT).

Trains small unigram SentencePiece models (nmt_nfkc, mT5 id layout: <pad>=0, </s>=1, <unk>=2, no BOS), derives
variants by editing the ModelProto (normalizer flags, identity normalization, tied scores, user-defined and unused
pieces), and records for every case string:
  - sp.normalize(text) and sp.encode(text) (the sentencepiece oracle, no EOS),
  - transformers 4.57.6 slow T5Tokenizer ids + attention masks at max_length 256 and 16, called as diffusers'
    HunyuanDiT pipeline does (padding="max_length", truncation=True), with HunyuanDiT's tokenizer_2 flags
    (extra_ids=0, legacy unset -> True); stored as the unpadded ids plus the count of mask ones (the generator
    asserts that pads are 0 and the mask is ones then zeros),
  - for the two trained models, T5TokenizerFast ids at 256 (the fused-<unk>, no-byte-fallback behaviour).

Run: $(bash tests/golden/ref_venv.sh) tests/golden/gen_sentencepiece.py   (writes tests/golden/data/spiece/)
"""
import json
import os
import random
import sys
import tempfile
import unicodedata
import warnings

import sentencepiece as spm
import transformers
from sentencepiece import sentencepiece_model_pb2 as pb

assert spm.__version__ == "0.2.3", spm.__version__
assert transformers.__version__ == "4.57.6", transformers.__version__
assert sys.version_info[:2] == (3, 11), sys.version
from transformers import T5Tokenizer, T5TokenizerFast  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prompts import prompts  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "spiece")
LENGTHS = (256, 16)
hf_logging.set_verbosity_error()
warnings.filterwarnings("ignore")

# Extra training text (written for this corpus): English and Chinese words combined into sentences.
EN_WORDS = """
a an the of in on at with under over between beside near far above below through across around behind inside
cat dog bird horse fox panda tiger dragon phoenix fish whale rabbit deer wolf owl butterfly bee robot astronaut
girl boy woman man child old young king queen knight wizard monk farmer sailor painter dancer musician soldier
city village castle temple bridge tower street market garden forest mountain river lake ocean desert island sky
cloud rain snow storm sunset sunrise night moon star galaxy planet light shadow fire water stone glass metal wood
red blue green yellow purple orange black white golden silver pink brown grey crimson azure emerald violet
beautiful cute ancient modern futuristic traditional quiet busy bright dark soft sharp warm cold huge tiny
detailed realistic cinematic dramatic vibrant pastel minimalist surreal photorealistic intricate elegant
painting photo illustration sketch drawing watercolor oil ink anime cartoon render sculpture poster portrait
style lighting composition background foreground texture color palette perspective depth focus lens camera
sitting standing walking running flying swimming dancing reading sleeping holding wearing riding looking smiling
8k 4k hdr unreal engine octane trending artstation masterpiece best quality high resolution ultra wide angle
""".split()
ZH_WORDS = """
一只 可爱 的 猫 狗 鸟 马 狐狸 熊猫 老虎 龙 凤凰 鱼 鲸 兔子 鹿 狼 猫头鹰 蝴蝶 蜜蜂 机器人 宇航员
女孩 男孩 女人 男人 孩子 老人 年轻 国王 女王 骑士 巫师 和尚 农夫 水手 画家 舞者 音乐家 士兵
城市 村庄 城堡 寺庙 桥 塔 街道 市场 花园 森林 山 河流 湖 海洋 沙漠 岛屿 天空 云 雨 雪 风暴
日落 日出 夜晚 月亮 星星 银河 星球 光 影子 火 水 石头 玻璃 金属 木头 红色 蓝色 绿色 黄色 紫色
橙色 黑色 白色 金色 银色 粉色 棕色 灰色 美丽 古老 现代 未来 传统 安静 繁忙 明亮 黑暗 柔和
温暖 寒冷 巨大 微小 细节 写实 电影 戏剧 鲜艳 极简 超现实 精致 优雅 绘画 照片 插画 素描 水彩
油画 水墨 动漫 卡通 雕塑 海报 肖像 风格 光影 构图 背景 前景 纹理 色彩 透视 景深 镜头 相机
坐在 站在 走在 跑 飞翔 游泳 跳舞 阅读 睡觉 拿着 穿着 骑着 看着 微笑 高清 杰作 最佳 质量
窗台 长城 汉服 樱花 赛博朋克 霓虹灯 山水 小船 拉面 月球 建筑 雪景 竹林 竹子 汽车 设计图
""".split()
PUNCT_EN = [",", ".", "!", "?", ";", ":", " -", " (", ")", "'s", " and", " or"]
PUNCT_ZH = ["，", "。", "！", "？", "、", "；", "：", "（", "）", "《", "》", "“", "”"]


def extra_corpus(lines: int, seed: int = 7) -> list[str]:
    """Seeded sentences: English, Chinese and mixed, with ASCII and full-width punctuation."""
    rng = random.Random(seed)
    out = []
    for _ in range(lines):
        kind = rng.random()
        words = []
        for _ in range(rng.randint(3, 25)):
            if kind < 0.4 or (kind >= 0.8 and rng.random() < 0.5):
                words.append(rng.choice(EN_WORDS) + (rng.choice(PUNCT_EN) if rng.random() < 0.15 else "") + " ")
            else:
                words.append(rng.choice(ZH_WORDS) + (rng.choice(PUNCT_ZH) if rng.random() < 0.2 else ""))
        out.append("".join(words).strip())
    return out


# Strings beyond prompts(): literal special tokens (split out by T5Tokenizer), NUL, literal U+2581, user-defined
# symbols of the edited variant, truncation right at a literal </s>, piece boundaries around full-width forms.
EXTRA = [
    "Hello </s> world", "<pad>a<unk>", "ends with eos</s>", "</s>", "<pad>", "<unk><unk>", "a</s>b</s>",
    "x</s>" * 20, "cat" * 9 + "</s>", "二十个字" * 4 + "</s>", "\x00nul\x00", "▁literal▁underline▁", "▁",
    "ＡＢＣcat猫 CAT cat cats", "ＡＢ ＡＢＣ ａｂｃ", "  </s>  spaced  <pad>  ", "<extra_id_0> sentinel", "<s> bos",
    "\u0000\u0001\u001f\u007f\u0080\u009f", "\ufffd replacement", "𝔸𝕓𝕔 math letters", "Ⅻ ⅻ ㍿ ㌀ ﷺ",
    "a\u0301\u0301 e\u0308\u0304", "한국어 글자 조합 ᄀ ᅡ ᆨ", "\U0001F3F3\uFE0F\u200D\U0001F308 rainbow flag",
    "＜／ｓ＞ full-width eos ＜ｕｎｋ＞",
]


def fuzz_cases(n: int, seed: int = 99) -> list[str]:
    """Seeded short strings over characters the nmt_nfkc rules treat specially: compatibility forms,
    combining marks and jamo (multi-character rules), whitespace/control/format characters, emoji."""
    rng = random.Random(seed)
    pool = list("aA é中猫。，！") + [
        "\u0301", "\u0308", "\u0327", "\u3099", "\u309a", "\uff76", "\uff9e", "\uff8a", "\uff9f", "\u1100",
        "\u1161", "\u11a8", "\uac00", "\u00a0", "\u3000", "\u2002", "\u200b", "\u200c", "\u200d", "\ufeff",
        "\u00ad", "\u0085", "\u2028", "\t", "\n", "\r", "\x0b", "\x0c", "\x01", "\x7f", "\ufe0f", "\u00bd",
        "\u2122", "\ufb01", "\u2460", "\u3392", "\u33ff", "\u1e9b", "\u0130", "\u03d3", "\u2126", "\u212b",
        "\uf900", "\U0002f800", "\U0001d400", "\U0001f600", "\U0001f1e8", "\U0001f3fb", "\ue000", "\ufffd",
        "\u2581", "<", "/", "s", ">", "\uff1c", "\uff0f", "\uff53", "\uff1e", "\u0e33", "\u0f77", "\u1f80",
    ]
    return ["".join(rng.choice(pool) for _ in range(rng.randint(1, 12))) for _ in range(n)]


def train(prefix: str, corpus_path: str, byte_fallback: bool) -> bytes:
    spm.SentencePieceTrainer.train(
        input=corpus_path, model_prefix=prefix, model_type="unigram", vocab_size=3000,
        normalization_rule_name="nmt_nfkc", character_coverage=0.9995, byte_fallback=byte_fallback,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, num_threads=1, seed_sentencepiece_size=100000,
        hard_vocab_limit=False, minloglevel=2, input_sentence_size=0, shuffle_input_sentence=False,
    )
    with open(prefix + ".model", "rb") as f:
        data = f.read()

    def drop_paths(m):  # the temp paths would make the committed files differ per run
        m.trainer_spec.ClearField("input")
        m.trainer_spec.ClearField("model_prefix")

    return edited(data, drop_paths)


def edited(data: bytes, edit) -> bytes:
    m = pb.ModelProto()
    m.ParseFromString(data)
    edit(m)
    return m.SerializeToString()


def flags_variant(m):
    """No dummy prefix and extra whitespace kept (exercises the other normalizer branches)."""
    m.normalizer_spec.add_dummy_prefix = False
    m.normalizer_spec.remove_extra_whitespaces = False


def identity_variant(m):
    """Empty charsmap (text only split into characters) and no whitespace escaping (spaces stay ASCII)."""
    m.normalizer_spec.name = "identity"
    m.normalizer_spec.precompiled_charsmap = b""
    m.normalizer_spec.escape_whitespaces = False


def ties_variant(m):
    """Scores rounded to 0.5 (many exact ties), some pieces UNUSED, two USER_DEFINED symbols, suffix whitespace,
    and NORMAL pieces spelled like the CONTROL/UNKNOWN ones (reachable through NFKC of full-width forms)."""
    P = pb.ModelProto.SentencePiece
    normal = [p for p in m.pieces if p.type == P.NORMAL]
    for i, p in enumerate(normal):
        p.score = round(p.score * 2) / 2
        if i % 17 == 5:
            p.type = P.UNUSED
    for s in ("cat", "ＡＢ"):
        existing = [p for p in m.pieces if p.piece == s]
        if existing:
            existing[0].type = P.USER_DEFINED
            existing[0].score = 0
        else:
            m.pieces.add(piece=s, score=0, type=P.USER_DEFINED)
    m.trainer_spec.treat_whitespace_as_suffix = True
    m.pieces.add(piece="</s>", score=-1, type=P.NORMAL)
    m.pieces.add(piece="<unk>", score=-1, type=P.NORMAL)


def t5_tokenizer(model_bytes: bytes, tmp: str, name: str, fast: bool):
    d = os.path.join(tmp, name + ("_fast" if fast else ""))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "spiece.model"), "wb") as f:
        f.write(model_bytes)
    # HunyuanDiT tokenizer_2: T5Tokenizer, extra_ids 0, no additional special tokens, legacy unset (-> True).
    cfg = {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>", "extra_ids": 0,
           "additional_special_tokens": None, "sp_model_kwargs": {}, "tokenizer_class": "T5Tokenizer"}
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f)
    cls = T5TokenizerFast if fast else T5Tokenizer
    tok = cls.from_pretrained(d)
    assert fast or tok.legacy is True
    return tok


def padded(rows, L: int) -> dict:
    """Run-length form of padded T5 outputs: ids up to the mask's ones, and that count (pads/mask checked here)."""
    ids, ones = [], []
    for r in rows:
        k = sum(r["attention_mask"])
        assert len(r["input_ids"]) == L and r["attention_mask"] == [1] * k + [0] * (L - k)
        assert r["input_ids"][k:] == [0] * (L - k)
        ids.append(r["input_ids"][:k])
        ones.append(k)
    return {"ids": ids, "mask_ones": ones}


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = prompts() + EXTRA
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        lines = [p.replace("\n", " ").replace("\r", " ") for p in prompts()] + extra_corpus(6000)
        with open(corpus, "w", encoding="utf-8") as f:
            f.write("\n".join(l for l in lines if l.strip()) + "\n")
        bf = train(os.path.join(tmp, "bf"), corpus, True)
        nobf = train(os.path.join(tmp, "nobf"), corpus, False)
        models = {
            "bf": bf, "nobf": nobf, "bf_flags": edited(bf, flags_variant),
            "nobf_identity": edited(nobf, identity_variant), "nobf_ties": edited(nobf, ties_variant),
        }
        index = {
            "generator": "tests/golden/gen_sentencepiece.py", "python": sys.version.split()[0],
            "unidata_version": unicodedata.unidata_version, "sentencepiece": spm.__version__,
            "transformers": transformers.__version__, "lengths": list(LENGTHS), "num_prompts": len(prompts()),
            "cases": cases, "models": {},
        }
        for name, data in models.items():
            with open(os.path.join(OUT, name + ".model"), "wb") as f:
                f.write(data)
            sp = spm.SentencePieceProcessor(model_proto=data)
            tok = t5_tokenizer(data, tmp, name, fast=False)
            entry = {
                "file": name + ".model", "pieces": sp.get_piece_size(),
                "normalized": [sp.normalize(t) for t in cases],
                "sp_ids": [sp.encode(t) for t in cases],
            }
            for L in LENGTHS:
                rows = [tok(t, padding="max_length", max_length=L, truncation=True, return_attention_mask=True)
                        for t in cases]
                entry[f"t5_{L}"] = padded(rows, L)
            if name in ("bf", "nobf"):
                fast = t5_tokenizer(data, tmp, name, fast=True)
                rows = [fast(t, padding="max_length", max_length=256, truncation=True, return_attention_mask=True)
                        for t in cases]
                entry["fast_256"] = padded(rows, 256)
            unk = sp.unk_id()
            byte_ids = {sp.piece_to_id(f"<0x{b:02X}>") for b in range(256)} if name.startswith("bf") else set()
            entry["stats"] = {
                "cases_with_unk": sum(unk in ids for ids in entry["sp_ids"]),
                "cases_with_bytes": sum(any(i in byte_ids for i in ids) for ids in entry["sp_ids"]),
                "cases_truncated_16": sum(k == 16 for k in entry["t5_16"]["mask_ones"]),
            }
            print(name, entry["pieces"], entry["stats"], len(data), "bytes")
            index["models"][name] = entry
        fuzz = fuzz_cases(600)
        index["fuzz"] = {"cases": fuzz, "models": {}}
        for name in ("bf", "nobf_ties"):
            sp = spm.SentencePieceProcessor(model_proto=models[name])
            index["fuzz"]["models"][name] = {
                "normalized": [sp.normalize(t) for t in fuzz], "sp_ids": [sp.encode(t) for t in fuzz],
            }
        with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
            json.dump(index, f, ensure_ascii=False, separators=(",", ":"))


if __name__ == "__main__":
    main()
