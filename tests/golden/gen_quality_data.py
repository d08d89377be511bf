"""Data for the hydit-tiny quality test (tests/quality/): held-out prompts and labelled dataset renders.

Run: $(bash tests/golden/ref_venv.sh) tests/golden/gen_quality_data.py
Writes tests/golden/data/quality/prompts.json (palette, shape names, 128 held-out prompts per language, whose
phrasings the model never saw in training) and samples.png + samples.json (48 training-distribution scenes with
their labels, so the pixel checker itself is tested on clean pictures). Deterministic.
"""
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "engines" / "train"))
import shapes  # noqa: E402

OUT = Path(__file__).resolve().parent / "data" / "quality"
PER_LANGUAGE = 128
SAMPLES = 48


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    palette = {name: list(rgb) for name, (_, _, rgb) in shapes.COLOURS.items()}
    prompts = shapes.eval_prompts(seed=2024, per_language=PER_LANGUAGE)
    head = {"size": shapes.SIZE, "palette": palette, "shapes": list(shapes.SHAPES)}
    lines = [json.dumps(p, ensure_ascii=False) for p in prompts]  # one prompt a line
    text = json.dumps(head)[:-1] + ', "prompts": [\n' + ",\n".join(lines) + "\n]}\n"
    (OUT / "prompts.json").write_text(text, encoding="utf-8")

    rng = np.random.default_rng(77)
    scenes = [shapes.sample_scene(rng, pair=False) for _ in range(SAMPLES)]
    strip = np.concatenate([shapes.render(s) for s in scenes], axis=1)  # one row of SAMPLES pictures
    Image.fromarray(strip).save(OUT / "samples.png", optimize=True)
    labels = [{"shape": s.items[0].shape, "colour": s.items[0].colour, "background": s.background} for s in scenes]
    (OUT / "samples.json").write_text("[\n" + ",\n".join(json.dumps(x) for x in labels) + "\n]\n", encoding="utf-8")
    print(f"{len(prompts)} prompts, {SAMPLES} samples -> {OUT}")


if __name__ == "__main__":
    main()
