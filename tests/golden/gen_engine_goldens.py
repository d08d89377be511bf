"""Reference inputs/outputs for the ONNX engines and the full pipeline, from diffusers/transformers on CPU in float32.

Reads the tiny checkpoints written by gen_tiny_checkpoint.py and writes tests/golden/data/engines/<case>/<tensor>.bin
(raw little-endian, C order) plus tests/golden/data/engines/index.json (per case: parameters, and for every tensor its
file, dtype and shape). Run: $(bash tests/golden/ref_venv.sh) tests/golden/gen_engine_goldens.py   (deterministic; ~10 s)
"""
import json
import re
import shutil
import sys
from pathlib import Path
from unittest import mock

import diffusers
import numpy as np
import torch
import transformers
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, HunyuanDiTPipeline
from diffusers.models import embeddings as df_embeddings
from diffusers.pipelines.hunyuandit import pipeline_hunyuandit
from diffusers.schedulers import scheduling_ddpm

assert torch.__version__.startswith("2.13.0"), torch.__version__
assert diffusers.__version__ == "0.37.1", diffusers.__version__
assert transformers.__version__ == "4.57.6", transformers.__version__

HERE = Path(__file__).resolve().parent
TINY = HERE / "data" / "tiny"
HYDIT_TINY = HERE.parents[1] / "engines" / "models" / "hydit-tiny"  # the bundled trained model
OUT = HERE / "data" / "engines"
ROPE_BASE = 512 // 8 // 2  # the pipelines' base grid (32 tokens per side) for patch size 2

TEXT_PROMPTS = [
    "一只可爱的猫坐在窗台上，油画风格",
    "A cute cat sitting on a windowsill, oil painting",
    "mixed 中文 and English 1024x768! café naïve 😀",
    "",
]
PIPE_PROMPT = "一只可爱的猫坐在窗台上，a cute cat, oil painting"
PIPE_NEGATIVE = "模糊，变形，blurry, deformed"
HYDIT_TINY_CASES = [
    ((128, 128), "a red circle on a blue background"),
    ((96, 160), "黄色背景上的紫色星形"),
    ((192, 128), "a green triangle on a white background"),
]

torch.set_grad_enabled(False)


class Writer:
    """Collects tensors per case as .bin files and their descriptions for index.json."""

    def __init__(self) -> None:
        self.cases: dict[str, dict] = {}

    def case(self, name: str, **params) -> dict:
        self.cases[name] = {**params, "inputs": {}, "outputs": {}}
        (OUT / name).mkdir(parents=True, exist_ok=True)
        return self.cases[name]

    def tensor(self, case: str, role: str, name: str, value) -> np.ndarray:
        arr = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
        dtype = {np.dtype("float32"): "<f4", np.dtype("int64"): "<i8", np.dtype("uint8"): "u1"}[arr.dtype]
        assert arr.dtype != np.float32 or np.isfinite(arr).all(), f"{case}/{name}: non-finite values"
        path = OUT / case / f"{name}.bin"
        path.write_bytes(np.ascontiguousarray(arr).astype(dtype).tobytes())
        self.cases[case][role][name] = {
            "file": f"{case}/{name}.bin", "dtype": str(arr.dtype), "shape": list(arr.shape),
        }
        return arr


def crop_region(grid_h: int, grid_w: int, base: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Tencent's resize-and-crop of the square base grid to the aspect of (grid_h, grid_w); Python round = half-even."""
    if grid_h / grid_w > 1:
        rh, rw = base, int(round(base / grid_h * grid_w))
    else:
        rw, rh = base, int(round(base / grid_w * grid_h))
    top, left = int(round((base - rh) / 2.0)), int(round((base - rw) / 2.0))
    return (top, left), (top + rh, left + rw)


def rope_tables(head_dim: int, grid_h: int, grid_w: int) -> tuple[np.ndarray, np.ndarray]:
    """cos/sin [grid_h*grid_w, head_dim] fp32, Tencent's endpoint=False positions (W first half, H second)."""
    (top, left), (bottom, right) = crop_region(grid_h, grid_w, ROPE_BASE)
    pos_h = np.linspace(top, bottom, grid_h, endpoint=False, dtype=np.float32)
    pos_w = np.linspace(left, right, grid_w, endpoint=False, dtype=np.float32)
    coord_w = np.tile(pos_w, grid_h)
    coord_h = np.repeat(pos_h, grid_w)
    half = head_dim // 2
    freqs = (1.0 / (10000.0 ** (np.arange(0, half, 2, dtype=np.float32) / np.float32(half)))).astype(np.float32)
    cos, sin = [], []
    for coord in (coord_w, coord_h):
        angles = np.outer(coord, freqs).astype(np.float32)
        cos.append(np.repeat(np.cos(angles), 2, axis=1))
        sin.append(np.repeat(np.sin(angles), 2, axis=1))
    return np.concatenate(cos, axis=1).astype(np.float32), np.concatenate(sin, axis=1).astype(np.float32)


def check_rope(head_dim: int, grid_h: int, grid_w: int, cos: np.ndarray, sin: np.ndarray) -> float:
    """Cross-checks the tables with diffusers' numpy (endpoint=False) RoPE and, for square grids, its torch RoPE."""
    crops = crop_region(grid_h, grid_w, ROPE_BASE)
    ref_cos, ref_sin = df_embeddings._get_2d_rotary_pos_embed_np(head_dim, crops, (grid_h, grid_w), use_real=True)
    diff = max(np.abs(cos - ref_cos.numpy()).max(), np.abs(sin - ref_sin.numpy()).max())
    assert diff < 2e-6, f"RoPE mismatch vs diffusers numpy path: {diff}"
    pipe_crops = pipeline_hunyuandit.get_resize_crop_region_for_grid((grid_h, grid_w), ROPE_BASE)
    assert tuple(map(tuple, pipe_crops)) == crops, (pipe_crops, crops)
    if grid_h == grid_w:
        pt_cos, pt_sin = df_embeddings.get_2d_rotary_pos_embed(head_dim, crops, (grid_h, grid_w), output_type="pt")
        assert np.abs(cos - pt_cos.numpy()).max() < 2e-6 and np.abs(sin - pt_sin.numpy()).max() < 2e-6
    return float(diff)


def prefix_mask(batch_lengths: list[int], length: int) -> torch.Tensor:
    """int64 [B, length] masks with the first n entries 1 per row."""
    mask = torch.zeros(len(batch_lengths), length, dtype=torch.int64)
    for row, n in enumerate(batch_lengths):
        mask[row, :n] = 1
    return mask


def dit_cases(w: Writer) -> None:
    """DiT for both variants at a square and a non-square latent, batch 2, Tencent's engine IO names."""
    for variant in ("tiny-v12", "tiny-v11"):
        pipe = HunyuanDiTPipeline.from_pretrained(TINY / variant)
        model = pipe.transformer.eval()
        cfg = model.config
        head_dim = cfg.attention_head_dim
        for label, (lh, lw) in (("square", (16, 16)), ("nonsquare", (16, 24))):
            name = f"dit_{variant.replace('tiny-', '')}_{label}"
            gen = torch.Generator().manual_seed(1000 + lh * 31 + lw)
            gh, gw = lh // cfg.patch_size, lw // cfg.patch_size
            cos, sin = rope_tables(head_dim, gh, gw)
            rope_diff = check_rope(head_dim, gh, gw, cos, sin)
            meta = cfg.use_style_cond_and_image_meta_size
            w.case(
                name, kind="dit", checkpoint=f"tiny/{variant}", component="transformer", latent_hw=[lh, lw],
                grid_hw=[gh, gw], rope_crop=[list(c) for c in crop_region(gh, gw, ROPE_BASE)],
                rope_max_abs_diff_vs_diffusers_numpy=rope_diff,
                note="output = HunyuanDiT2DModel(..., image_rotary_emb=(cos_cis_img, sin_cis_img)).sample; masks are "
                "prefix masks (12/40 BERT tokens, 20/100 T5 tokens) so the learned text_embedding_padding is used"
                + ("; image_meta_size rows are arbitrary test values fed as-is" if meta else ""),
            )
            inputs = {
                "x": torch.randn(2, cfg.in_channels, lh, lw, generator=gen),
                "t": torch.tensor([981.0, 437.0], dtype=torch.float32),
                "encoder_hidden_states": torch.randn(2, cfg.text_len, cfg.cross_attention_dim, generator=gen),
                "text_embedding_mask": prefix_mask([12, 40], cfg.text_len),
                "encoder_hidden_states_t5": torch.randn(2, cfg.text_len_t5, cfg.cross_attention_dim_t5, generator=gen),
                "text_embedding_mask_t5": prefix_mask([20, 100], cfg.text_len_t5),
            }
            if meta:
                inputs["image_meta_size"] = torch.tensor(
                    [[1024.0, 1024.0, lh * 8.0, lw * 8.0, 0.0, 0.0], [768.0, 1280.0, lw * 8.0, lh * 8.0, 16.0, 8.0]]
                )
                inputs["style"] = torch.zeros(2, dtype=torch.int64)
            inputs["cos_cis_img"], inputs["sin_cis_img"] = torch.from_numpy(cos), torch.from_numpy(sin)
            for key, value in inputs.items():
                w.tensor(name, "inputs", key, value)
            out = model(
                inputs["x"], inputs["t"], encoder_hidden_states=inputs["encoder_hidden_states"],
                text_embedding_mask=inputs["text_embedding_mask"],
                encoder_hidden_states_t5=inputs["encoder_hidden_states_t5"],
                text_embedding_mask_t5=inputs["text_embedding_mask_t5"],
                image_meta_size=inputs.get("image_meta_size"), style=inputs.get("style"),
                image_rotary_emb=(inputs["cos_cis_img"], inputs["sin_cis_img"]), return_dict=False,
            )[0]
            assert out.shape == (2, cfg.in_channels * 2, lh, lw), out.shape
            w.tensor(name, "outputs", "output", out)


def text_encoder_cases(w: Writer) -> None:
    """BERT and mT5 encoder last_hidden_state for real tokenizer ids and masks (the pipeline's lengths 77 / 256)."""
    pipe = HunyuanDiTPipeline.from_pretrained(TINY / "tiny-v12")
    for name, tokenizer, encoder, length in (
        ("bert", pipe.tokenizer, pipe.text_encoder, 77), ("mt5", pipe.tokenizer_2, pipe.text_encoder_2, 256),
    ):
        tok = tokenizer(TEXT_PROMPTS, padding="max_length", max_length=length, truncation=True, return_tensors="pt")
        w.case(
            name, kind=name, checkpoint="tiny/tiny-v12",
            component="text_encoder" if name == "bert" else "text_encoder_2",
            prompts=TEXT_PROMPTS, note="output = encoder(input_ids, attention_mask=attention_mask)[0] "
            "(last_hidden_state); token_type_ids not passed (zeros)" if name == "bert" else
            "output = T5EncoderModel(input_ids, attention_mask=attention_mask)[0] (after the final RMSNorm)",
        )
        w.tensor(name, "inputs", "input_ids", tok.input_ids.to(torch.int64))
        w.tensor(name, "inputs", "attention_mask", tok.attention_mask.to(torch.int64))
        out = encoder(tok.input_ids, attention_mask=tok.attention_mask)[0]
        w.tensor(name, "outputs", "last_hidden_state", out)


def vae_cases(w: Writer) -> None:
    """VAE decode (post_quant_conv included) of latents already divided by scaling_factor."""
    vae = HunyuanDiTPipeline.from_pretrained(TINY / "tiny-v12").vae
    for label, shape in (("square", (1, 4, 16, 16)), ("nonsquare", (2, 4, 8, 12))):
        name = f"vae_{label}"
        gen = torch.Generator().manual_seed(2000 + shape[2] * shape[3])
        latent = torch.randn(*shape, generator=gen) / vae.config.scaling_factor
        w.case(
            name, kind="vae_decoder", checkpoint="tiny/tiny-v12", component="vae",
            scaling_factor=vae.config.scaling_factor,
            note="input 'latent' is already divided by scaling_factor (N(0,1)/0.13025); "
            "output = vae.decode(latent).sample in [-1, 1]-ish range, not clamped",
        )
        w.tensor(name, "inputs", "latent", latent)
        w.tensor(name, "outputs", "sample", vae.decode(latent).sample)


def json_number(value):
    """Non-finite floats as the strings "inf" / "-inf" / "nan" (JSON has no such numbers); other values unchanged."""
    return str(value) if isinstance(value, float) and not np.isfinite(value) else value


def record_randn(module):
    """Patches module.randn_tensor so every draw is kept (in call order) in the returned list."""
    draws: list[torch.Tensor] = []
    original = module.randn_tensor

    def wrapper(*args, **kwargs):
        value = original(*args, **kwargs)
        draws.append(value.clone())
        return value

    return mock.patch.object(module, "randn_tensor", wrapper), draws


def tencent_rope_patch():
    """Makes the pipeline use diffusers' numpy RoPE path (endpoint=False positions, Tencent's training
    formula) instead of its torch path, which differs for non-square sizes (docs/model-decisions.md)."""

    def numpy_rope(embed_dim, crops_coords, grid_size, device=None, output_type="np"):
        cos, sin = df_embeddings._get_2d_rotary_pos_embed_np(embed_dim, crops_coords, grid_size, use_real=True)
        return cos.to(device), sin.to(device)

    return mock.patch.object(pipeline_hunyuandit, "get_2d_rotary_pos_embed", numpy_rope)


def float32_draws(module):
    """Patches module.randn_tensor to draw in float32 whatever dtype is asked, then cast: a float64 run then sees
    exactly the noise of the float32 run."""
    original = module.randn_tensor

    def draw(shape, generator=None, device=None, dtype=None, layout=None):
        return original(shape, generator=generator, device=device, dtype=torch.float32).to(dtype)

    return mock.patch.object(module, "randn_tensor", draw)


def float64_latents(pipe, call: dict) -> torch.Tensor:
    """The final latents of the same call with every weight and activation in float64: the rounding-free answer
    that both float32 implementations (diffusers and ours) approximate."""
    traj: list[torch.Tensor] = []
    pipe.to(torch.float64)
    try:
        with float32_draws(pipeline_hunyuandit), float32_draws(scheduling_ddpm), tencent_rope_patch():
            pipe(**call, generator=torch.Generator("cpu").manual_seed(42), output_type="latent",
                 callback_on_step_end=lambda _p, _i, _t, kw: traj.append(kw["latents"].clone()) or {})
    finally:
        pipe.to(torch.float32)
    return traj[-1].to(torch.float32)


def pipeline_case(w: Writer, variant: str, sampler: str, suffix: str = "", **overrides) -> None:
    """One end-to-end HunyuanDiTPipeline run: uint8 image, final latents, trajectory and every random draw.

    `overrides` replace call parameters (size, guidance...). Every run uses Tencent's RoPE positions, and
    `image_meta_size` is passed in the W-first order the checkpoints were trained with (target_size=(W, H)),
    which is what the TypeScript pipeline feeds by default; both only matter for non-square sizes."""
    folder = HYDIT_TINY if variant == "hydit-tiny" else TINY / variant
    pipe = HunyuanDiTPipeline.from_pretrained(folder)
    if sampler == "ddim":
        pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    elif sampler == "dpmsolver++":
        pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    params = {
        "prompt": PIPE_PROMPT, "negative_prompt": PIPE_NEGATIVE, "height": 64, "width": 64, "num_inference_steps": 20,
        "guidance_scale": 5.0, "guidance_rescale": 0.0, "eta": 0.0, "use_resolution_binning": False,
        "num_images_per_prompt": 1, "original_size": [1024, 1024], "crops_coords_top_left": [0, 0],
    }
    params.update(overrides)
    params["target_size"] = [params["width"], params["height"]]
    name = f"pipeline_{variant.replace('tiny-', '').replace('-', '_')}_{sampler.replace('+', 'p')}{suffix}"
    trajectory: list[torch.Tensor] = []

    def on_step_end(_pipe, _i, _t, kwargs):
        trajectory.append(kwargs["latents"].clone())
        return {}

    latents_patch, latent_draws = record_randn(pipeline_hunyuandit)
    step_patch, step_draws = record_randn(scheduling_ddpm)
    sized = ("original_size", "target_size", "crops_coords_top_left")
    call = {**{k: v for k, v in params.items() if k not in sized}, **{k: tuple(params[k]) for k in sized}}
    with latents_patch, step_patch, tencent_rope_patch():
        image = pipe(
            **call, generator=torch.Generator("cpu").manual_seed(42), output_type="pil",
            callback_on_step_end=on_step_end,
        ).images[0]
    timesteps = [int(t) for t in pipe.scheduler.timesteps]
    w.case(
        name, kind="pipeline", checkpoint=variant if variant == "hydit-tiny" else f"tiny/{variant}", sampler=sampler,
        seed=42,
        generator="torch.Generator('cpu')", output_type="pil", scheduler_class=type(pipe.scheduler).__name__,
        scheduler_config={k: json_number(v) for k, v in pipe.scheduler.config.items() if not k.startswith("_")},
        timesteps=timesteps, params=params,
        image_meta_size=params["original_size"] + params["target_size"] + params["crops_coords_top_left"], style=0,
        note="image = np.asarray(PIL image) as diffusers' postprocess rounds it; latents = latents after the last step "
        "(input to vae.decode after / scaling_factor); trajectory[i] = latents after step i; initial_noise = the "
        "randn draw of prepare_latents; step_noise[i] = DDPM variance noise drawn at step i (DDPM only); "
        "latents_f64 = the same run in float64 (hydit-tiny only)",
    )
    rows = [params["negative_prompt"], params["prompt"]] if params["guidance_scale"] > 1 else [params["prompt"]]
    bert = pipe.tokenizer(rows, padding="max_length", max_length=77, truncation=True, return_tensors="pt")
    t5 = pipe.tokenizer_2(rows, padding="max_length", max_length=256, truncation=True, return_tensors="pt")
    w.tensor(name, "inputs", "bert_input_ids", bert.input_ids.to(torch.int64))
    w.tensor(name, "inputs", "mt5_input_ids", t5.input_ids.to(torch.int64))
    assert len(latent_draws) == 1
    replay = torch.Generator("cpu").manual_seed(42)
    for draw in latent_draws + step_draws:
        assert torch.equal(draw, torch.randn(draw.shape, generator=replay)), "draws are not plain successive randn"
    w.tensor(name, "inputs", "initial_noise", latent_draws[0])
    if sampler == "ddpm":
        assert len(step_draws) == len(timesteps), (len(step_draws), len(timesteps))
        w.tensor(name, "inputs", "step_noise", torch.stack(step_draws))
    w.tensor(name, "outputs", "trajectory", torch.stack(trajectory))
    w.tensor(name, "outputs", "latents", trajectory[-1])
    w.tensor(name, "outputs", "image", np.asarray(image, dtype=np.uint8))
    if variant == "hydit-tiny":
        # A trained model amplifies rounding: float32 diffusers sat 1.9e-4 from the exact result once (README.md here).
        w.tensor(name, "outputs", "latents_f64", float64_latents(pipe, call))


def compact_json(value) -> str:
    """Indented JSON with lists of numbers kept on one line."""
    text = json.dumps(value, indent=1, ensure_ascii=False, allow_nan=False)
    number = r"-?[0-9][0-9.eE+-]*"
    pattern = rf"\[\s*({number}(?:,\s*{number})*)\s*\]"
    return re.sub(pattern, lambda m: "[" + ", ".join(re.split(r",\s*", m.group(1))) + "]", text)


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    w = Writer()
    dit_cases(w)
    text_encoder_cases(w)
    vae_cases(w)
    for sampler in ("ddpm", "ddim", "dpmsolver++"):
        pipeline_case(w, "tiny-v12", sampler)
    pipeline_case(w, "tiny-v11", "ddpm")
    # Non-square (RoPE crop offsets, W-first meta size), guidance rescale, and no CFG at all.
    pipeline_case(w, "tiny-v12", "ddpm", "_96x64_rescale", height=64, width=96, guidance_rescale=0.7)
    pipeline_case(w, "tiny-v11", "dpmsolver++", "_64x112", height=112, width=64)
    pipeline_case(w, "tiny-v12", "ddim", "_nocfg", guidance_scale=1.0)
    # The bundled trained model at its native size and two non-square ones, every sampler, both languages.
    for (height, width), prompt in HYDIT_TINY_CASES:
        for sampler in ("ddpm", "ddim", "dpmsolver++"):
            pipeline_case(w, "hydit-tiny", sampler, f"_{width}x{height}", height=height, width=width, prompt=prompt,
                          negative_prompt="")
    index = {
        "generator": "tests/golden/gen_engine_goldens.py",
        "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__,
                     "transformers": transformers.__version__},
        "layout": "each tensor is a raw little-endian C-order file; dtype is numpy's name (float32, int64, uint8)",
        "cases": w.cases,
    }
    (OUT / "index.json").write_text(compact_json(index) + "\n", encoding="utf-8")
    for name, case in w.cases.items():
        for role in ("outputs",):
            for key, desc in case[role].items():
                arr = np.fromfile(OUT / desc["file"], dtype=desc["dtype"]).astype(np.float64)
                stats = f"mean {arr.mean():+.4f} std {arr.std():.4f} absmax {np.abs(arr).max():.4f}"
                print(f"{name}/{key} {desc['shape']} {stats}")
    size = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"total {size / 1e6:.2f} MB")


if __name__ == "__main__":
    sys.exit(main())
