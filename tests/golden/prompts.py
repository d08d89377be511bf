"""Deterministic prompt corpus shared by the tokenizer golden generators (Chinese, English, mixed, edge cases)."""
import random

ZH = [
    "一只可爱的猫坐在窗台上", "夕阳下的长城，油画风格", "穿着汉服的女孩在樱花树下", "赛博朋克风格的城市夜景，霓虹灯",
    "水墨画：山水之间的小船", "一碗热气腾腾的拉面", "宇航员在月球上骑马", "古风建筑，雪景，高清",
    "错误的眼睛，糟糕的人脸，毁容，糟糕的艺术，变形，多余的肢体，模糊的颜色，模糊，重复，病态，残缺，",
    "熊猫在竹林里吃竹子", "未来主义的汽车设计图", "繁體中文：龍與鳳凰的傳說", "日本語のテキストも少し", "한국어 문장도 포함",
]
EN = [
    "A cute cat sitting on a windowsill", "The Great Wall at sunset, oil painting", "an astronaut riding a horse on the moon",
    "Cyberpunk city at night with neon lights, 8k, ultra-detailed", "a bowl of steaming ramen, studio lighting",
    "Portrait of an old man, Rembrandt style", "low-poly fox in a forest; vibrant colors!", "UPPER CASE PROMPT WITH NUMBERS 1234",
    "don't stop believin' -- it's a \"quoted\" phrase", "e-mail: someone@example.com (not real) #hashtag $100 50%",
    "unaffable antidisestablishmentarianism supercalifragilisticexpialidocious", "café naïve résumé Ångström façade jalapeño",
    "Straße Øre Łódź Ærø İstanbul ǅemal", "mathematics: x^2 + y^2 = z^2, α β γ ∑ ∞ ≠ ≤",
]
EDGE = [
    "", " ", "   ", "\t", "\n", "a", "A", ".", "。", "，", "！？", "……", "——", "「引号」『书名』", "（全角括号）",
    "ＡＢＣ　ｆｕｌｌ－ｗｉｄｔｈ　１２３", "half　width\u3000ideographic space", "tabs\tand\nnewlines\r\nmixed",
    "multiple     spaces    between", "zero\u200bwidth\u200cjoiner\u200dtest\ufeffbom", "soft\u00adhyphen", "combining e\u0301 a\u0308 n\u0303",
    "emoji 😀🎨🐼 and 👨‍👩‍👧‍👦 family", "🐱猫cat", "flags 🇨🇳🇺🇸", "control\x01\x02chars\x7f", "ﬁ ligature ﬂ", "① ② ③ Ⅳ ㊣",
    "½ ¼ ² ³ ™ ©", "ｶﾀｶﾅ half-width katakana", "Ｈｅｌｌｏ，世界！", "x" * 150, "超长" * 200, "word " * 120,
    "a" * 99 + " " + "b" * 100 + " " + "c" * 101, "中" + "a" * 120 + "文", "mixed中English文字混合text", "123abc中文456",
    "__init__ snake_case camelCase kebab-case", "http://example.com/path?q=1&r=2", "C++ C# F# .NET node.js",
    "\u2028line\u2029para", "\u00a0nbsp\u00a0", "\u3000\u3000全角空格开头", "end with space ", " start with space",
    "。。。！！！", "😀" * 50, "ß ẞ ı İ ǈ ǋ", "Ⓐⓑⓒ 🄰", "\U0001F600\U0001F601", "\ue000 private use", "𠀀𠀁 CJK ext B",
]
WORDS_EN = "the a of painting photo light dark beautiful city mountain river flower portrait style detailed realistic anime sky".split()
WORDS_ZH = list("山水花鸟人物风景城市夜晚光影色彩细节高清写实动漫天空海洋森林")
PUNCT = list("，。！？、；：,.!?;:()（）【】《》\"'")


def prompts(n: int = 360, seed: int = 1234) -> list[str]:
    """Returns the fixed corpus followed by seeded random mixtures, n in total (at least the fixed part)."""
    rng = random.Random(seed)
    out = ZH + EN + EDGE
    while len(out) < n:
        parts = []
        for _ in range(rng.randint(1, 40)):
            kind = rng.random()
            if kind < 0.4:
                parts.append(rng.choice(WORDS_EN) + (" " if rng.random() < 0.8 else ""))
            elif kind < 0.8:
                parts.append("".join(rng.choice(WORDS_ZH) for _ in range(rng.randint(1, 4))))
            elif kind < 0.95:
                parts.append(rng.choice(PUNCT))
            else:
                parts.append(rng.choice(["  ", "\t", "\n", "😀", "É", "ｱ", "\u200b", "№", "1990", "3.14"]))
        out.append("".join(parts))
    return out


if __name__ == "__main__":
    import json
    print(json.dumps(prompts(), ensure_ascii=False)[:500])
