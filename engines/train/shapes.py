"""The hydit-tiny dataset: flat-coloured shapes on plain backgrounds with English and Chinese captions.

Everything is a pure function of a seed, so a scene index always gives the same picture and the same
caption choices. Captions come from two disjoint sets of phrasings: TRAIN_* are the only ones the model
sees; HELD_OUT_* are for evaluation (tests/quality), and every word or character they use also occurs
in the training phrasings, so evaluation measures generalisation to new sentences, not unknown words.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

SIZE = 128  # native resolution in pixels
SUPERSAMPLE = 4  # shapes are drawn at 4x and box-filtered down, for anti-aliased edges

# name -> (English, Chinese, sRGB). Eight hues far apart in RGB, so a nearest-colour check is robust.
COLOURS: dict[str, tuple[str, str, tuple[int, int, int]]] = {
    "red": ("red", "红色", (214, 36, 36)),
    "orange": ("orange", "橙色", (246, 136, 24)),
    "yellow": ("yellow", "黄色", (244, 214, 40)),
    "green": ("green", "绿色", (38, 164, 66)),
    "blue": ("blue", "蓝色", (36, 76, 214)),
    "purple": ("purple", "紫色", (136, 56, 186)),
    "white": ("white", "白色", (244, 244, 244)),
    "black": ("black", "黑色", (24, 24, 24)),
}
SHAPES: dict[str, tuple[str, str]] = {
    "circle": ("circle", "圆形"),
    "square": ("square", "正方形"),
    "triangle": ("triangle", "三角形"),
    "star": ("star", "星形"),
}
COLOUR_JITTER = 10  # +- per channel, per scene
SINGLE_SIZE = (22.0, 46.0)  # half-extent range in pixels, one shape
PAIR_SIZE = (15.0, 27.0)  # half-extent range, two shapes
PAIR_FRACTION = 0.2
MARGIN = 3.0

# {c} shape colour, {s} shape, {b} background colour, {z} optional size word (with its space / 的).
TRAIN_EN = [
    "a {z}{c} {s} on a {b} background",
    "{z}{c} {s} on {b}",
    "a {b} background with a {z}{c} {s}",
    "{b} background, {z}{c} {s}",
    "a {z}{c} {s} in front of a {b} background",
    "the {s} is {c} and the background is {b}",
    "a picture of a {z}{c} {s}, {b} background",
    "a {z}{s} in {c} on a {b} background",
    "on a {b} background there is a {z}{c} {s}",
    "simple drawing: {z}{c} {s}, {b} background",
    "a flat {z}{c} {s} on a plain {b} background",
    "an image of a {z}{c} {s} with a {b} background",
]
TRAIN_ZH = [
    "{b}背景上的{z}{c}{s}",
    "{z}{c}{s}，{b}背景",
    "一个{z}{c}的{s}在{b}的背景上",
    "在{b}背景上有一个{z}{c}{s}",
    "{z}{c}的{s}，背景是{b}",
    "背景为{b}，上面画着一个{z}{c}{s}",
    "一幅画：{b}背景，{z}{c}{s}",
    "{b}底色上画着一个{z}{c}的{s}",
    "{s}是{c}的，背景是{b}的",
    "简单的图形：{b}背景上的{z}{c}{s}",
    "纯{b}背景上有一个{z}{c}{s}",
    "一张{z}{c}{s}的图片，{b}背景",
]
# Phrasings added for the rebalancing stage (train.py --tune-from): 9 of the 12 TRAIN_EN phrasings name the
# shape colour first, so the base model learnt "first colour = shape". These name the background first or
# break the cues it leant on ("with a X", a sentence-initial "X的"); none is a held-out phrasing, and every
# token in them occurs in the TRAIN_* corpus, so the tokenizers stay the base model's.
TUNE_EN = [
    "a {b} background and a {z}{c} {s}",
    "the background is {b}, there is a {z}{c} {s}",
    "with a {b} background, a {z}{c} {s}",
    "{b} background and {z}{c} {s}",
    "a plain {b} background with a flat {z}{c} {s} in front",
    "a {z}{c} {s} and a plain {b} background",
    "a plain {b} background, the {s} is {c}",
    "{b} is the background and {c} is the {s}",
]
TUNE_ZH = [
    "{b}的背景上有一个{z}{c}{s}",
    "{b}的底色，{z}{c}的{s}",
    "背景是{b}的，上面有一个{z}{c}{s}",
    "在{b}的背景上，{z}{c}的{s}",
    "{b}背景和{z}{c}{s}",
    "{z}{c}的{s}在{b}底色上",
    "一个{b}的背景和一个{z}{c}的{s}",
    "纯{b}的背景，画着{z}{c}{s}",
]
HELD_OUT_EN = [
    "there is a {c} {s} on the {b} background",
    "the background is {b} and the {s} is {c}",
    "a drawing of a {c} {s} on a plain {b} background",
    "{c} {s} with a {b} background",
    "an image of a {s} in {c}, {b} background",
]
HELD_OUT_ZH = [
    "背景是{b}，有一个{c}的{s}",
    "一个{c}{s}在{b}背景上",
    "{b}的背景上画着{c}的{s}",
    "一张图片：{c}的{s}，背景为{b}",
    "在{b}底色上有一个{c}{s}",
]
PAIR_EN = [
    "a {c} {s} and a {c2} {s2} on a {b} background",
    "{c} {s} and {c2} {s2}, {b} background",
    "a {b} background with a {c} {s} and a {c2} {s2}",
]
PAIR_ZH = [
    "{b}背景上的{c}{s}和{c2}{s2}",
    "{c}{s}和{c2}{s2}，{b}背景",
    "在{b}背景上有一个{c}{s}和一个{c2}{s2}",
]
SIZE_WORDS = {"small": ("small ", "小的"), "large": ("large ", "大的")}


@dataclass(frozen=True)
class Item:
    """One shape in a scene: kind, colour name, centre and half-extent in pixels."""

    shape: str
    colour: str
    cx: float
    cy: float
    size: float


@dataclass(frozen=True)
class Scene:
    """A background colour, one or two shapes and the per-scene colour jitter (RGB offsets)."""

    background: str
    items: tuple[Item, ...]
    jitter: tuple[tuple[int, int, int], ...]  # background first, then one per item


def polygon(shape: str, cx: float, cy: float, s: float) -> list[tuple[float, float]] | None:
    """The outline of `shape` with half-extent `s` (None for the circle, drawn as an ellipse)."""
    if shape == "square":
        h = 0.86 * s
        return [(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
    if shape == "triangle":
        return [(cx, cy - s), (cx + 0.98 * s, cy + 0.78 * s), (cx - 0.98 * s, cy + 0.78 * s)]
    if shape == "star":
        outer, inner = 1.06 * s, 1.06 * s * 0.4
        pts = []
        for k in range(10):
            r = outer if k % 2 == 0 else inner
            a = -math.pi / 2 + k * math.pi / 5
            pts.append((cx + r * math.cos(a), cy + r * math.sin(a) + 0.1 * s))
        return pts
    return None


def extent(shape: str, s: float) -> float:
    """Radius of a circle around the centre that holds the whole shape."""
    return {"circle": s, "square": 0.86 * s * math.sqrt(2), "triangle": 1.27 * s, "star": 1.17 * s}[shape]


def sample_scene(rng: np.random.Generator, pair: bool | None = None) -> Scene:
    """Draws a scene: background, one (or with PAIR_FRACTION two) shapes of distinct colours, sizes, places."""
    names = list(COLOURS)
    if pair is None:
        pair = rng.random() < PAIR_FRACTION
    count = 2 if pair else 1
    picked = rng.choice(len(names), size=count + 1, replace=False)
    background, colours = names[picked[0]], [names[i] for i in picked[1:]]
    lo, hi = PAIR_SIZE if pair else SINGLE_SIZE
    items: list[Item] = []
    while len(items) < count:
        shape = list(SHAPES)[rng.integers(len(SHAPES))]
        s = float(rng.uniform(lo, hi))
        r = extent(shape, s)
        cx, cy = (float(rng.uniform(r + MARGIN, SIZE - r - MARGIN)) for _ in range(2))
        clear = all(math.hypot(cx - o.cx, cy - o.cy) > r + extent(o.shape, o.size) + 2 for o in items)
        if clear:
            items.append(Item(shape, colours[len(items)], cx, cy, s))
    jitter = tuple(tuple(int(v) for v in rng.integers(-COLOUR_JITTER, COLOUR_JITTER + 1, 3)) for _ in range(count + 1))
    return Scene(background, tuple(items), jitter)


def rgb(name: str, jitter: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(COLOURS[name][2], jitter))  # type: ignore[return-value]


def render(scene: Scene) -> np.ndarray:
    """Draws a scene as [SIZE, SIZE, 3] uint8 RGB (supersampled, box-filtered)."""
    big = SIZE * SUPERSAMPLE
    img = Image.new("RGB", (big, big), rgb(scene.background, scene.jitter[0]))
    draw = ImageDraw.Draw(img)
    k = SUPERSAMPLE
    for item, jitter in zip(scene.items, scene.jitter[1:]):
        fill = rgb(item.colour, jitter)
        outline = polygon(item.shape, item.cx * k, item.cy * k, item.size * k)
        if outline is None:
            r = item.size * k
            draw.ellipse([item.cx * k - r, item.cy * k - r, item.cx * k + r, item.cy * k + r], fill=fill)
        else:
            draw.polygon(outline, fill=fill)
    return np.asarray(img.resize((SIZE, SIZE), Image.Resampling.BOX))


def size_word(scene: Scene) -> str | None:
    """'small' / 'large' for a single shape near either end of the size range, else None."""
    if len(scene.items) != 1:
        return None
    s = scene.items[0].size
    lo, hi = SINGLE_SIZE
    if s < lo + 0.2 * (hi - lo):
        return "small"
    if s > hi - 0.2 * (hi - lo):
        return "large"
    return None


def fill(template: str, lang: str, scene: Scene, size: str | None) -> str:
    """Formats a phrasing for a scene in English ("en") or Chinese ("zh")."""
    i = 0 if lang == "en" else 1
    a = scene.items[0]
    words = {
        "c": COLOURS[a.colour][i],
        "s": SHAPES[a.shape][i],
        "b": COLOURS[scene.background][i],
        "z": SIZE_WORDS[size][i] if size else "",
    }
    if len(scene.items) == 2:
        words |= {"c2": COLOURS[scene.items[1].colour][i], "s2": SHAPES[scene.items[1].shape][i]}
    text = template.format(**words)
    return re.sub(r"\ba ([aeiou])", r"an \1", text) if lang == "en" else text


def caption(rng: np.random.Generator, scene: Scene, lang: str, tune: bool = False) -> str:
    """A training caption: a random training phrasing (with `tune`, TUNE_* join TRAIN_*), the size word half
    the time it applies, and in English a capitalised first letter a third of the time."""
    if len(scene.items) == 2:
        templates = PAIR_EN if lang == "en" else PAIR_ZH
    elif lang == "en":
        templates = TRAIN_EN + TUNE_EN if tune else TRAIN_EN
    else:
        templates = TRAIN_ZH + TUNE_ZH if tune else TRAIN_ZH
    template = templates[rng.integers(len(templates))]
    size = size_word(scene) if rng.random() < 0.5 else None
    text = fill(template, lang, scene, size)
    if lang == "en" and rng.random() < 1 / 3:
        text = text[0].upper() + text[1:]
    return text


def corpus() -> list[str]:
    """Every training phrasing with every word filled in: the text the tokenizers are built from."""
    lines = []
    for lang, templates in (("en", TRAIN_EN + PAIR_EN), ("zh", TRAIN_ZH + PAIR_ZH)):
        i = 0 if lang == "en" else 1
        for t in templates:
            for c in COLOURS:
                for s in SHAPES:
                    for z in [None, *SIZE_WORDS]:
                        scene = Scene(
                            "white" if c != "white" else "black",
                            (Item(s, c, 0, 0, 1), Item(s, "red", 0, 0, 1)) if "{c2}" in t else (Item(s, c, 0, 0, 1),),
                            (),
                        )
                        text = fill(t, lang, scene, z)
                        lines += [text, text[0].upper() + text[1:]] if i == 0 else [text]
    lines += [COLOURS[c][i] for c in COLOURS for i in (0, 1)]
    return lines


def eval_prompts(seed: int, per_language: int) -> list[dict]:
    """Held-out evaluation prompts: one shape, random colours and phrasing, `per_language` per language."""
    rng = np.random.default_rng(seed)
    out = []
    names = list(COLOURS)
    for lang, templates in (("en", HELD_OUT_EN), ("zh", HELD_OUT_ZH)):
        for k in range(per_language):
            shape = list(SHAPES)[k % len(SHAPES)]
            b, c = (names[i] for i in rng.choice(len(names), size=2, replace=False))
            template = templates[k % len(templates)] if k < len(templates) else templates[rng.integers(len(templates))]
            scene = Scene(b, (Item(shape, c, 0, 0, 1),), ())
            out.append({"lang": lang, "prompt": fill(template, lang, scene, None), "shape": shape, "colour": c,
                        "background": b})
    return out
