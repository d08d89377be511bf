"""Golden data for lib/diffusion (RoPE, crops, binning, schedulers, guidance, conditioning) from diffusers 0.37.1.

Run: $(bash tests/golden/ref_venv.sh) tests/golden/gen_diffusion.py
Writes tests/golden/data/diffusion/index.json (metadata, small arrays inline) and diffusion.bin (little-endian float32
blocks referenced from the index as {"offset": byte offset, "length": element count}). Deterministic: fixed torch seeds.
"""
import json
import os

import diffusers
import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler
from diffusers.models.embeddings import _get_2d_rotary_pos_embed_np, get_2d_rotary_pos_embed
from diffusers.pipelines.hunyuandit.pipeline_hunyuandit import (
    SUPPORTED_SHAPE,
    get_resize_crop_region_for_grid,
    map_to_standard_shapes,
    rescale_noise_cfg,
)

assert diffusers.__version__ == "0.37.1", diffusers.__version__
assert torch.__version__.startswith("2.13.0"), torch.__version__

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "diffusion")
BLOB = bytearray()


def put(arr) -> dict:
    """Appends a float32 array to the blob and returns its reference."""
    a = np.ascontiguousarray(np.asarray(arr, dtype=np.float32)).reshape(-1)
    ref = {"offset": len(BLOB), "length": int(a.size)}
    BLOB.extend(a.astype("<f4").tobytes())
    return ref


def rand(shape, seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float32)


# HunyuanDiT-v1.1-Diffusers scheduler/scheduler_config.json, and a v1.2-like variant.
HUNYUAN_CONFIG = {
    "_class_name": "DDPMScheduler",
    "_diffusers_version": "0.28.0.dev0",
    "beta_end": 0.03,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "clip_sample_range": 1.0,
    "dynamic_thresholding_ratio": 0.995,
    "num_train_timesteps": 1000,
    "prediction_type": "v_prediction",
    "rescale_betas_zero_snr": False,
    "sample_max_value": 1.0,
    "set_alpha_to_one": False,
    "steps_offset": 1,
    "thresholding": False,
    "timestep_spacing": "leading",
    "trained_betas": None,
    "variance_type": "fixed_small",
}
CLASSES = {"ddpm": DDPMScheduler, "ddim": DDIMScheduler, "dpmpp": DPMSolverMultistepScheduler}


def make(kind: str, config: dict):
    return CLASSES[kind].from_config(config)


# ---------------------------------------------------------------- RoPE, crop, binning
def rope_golden() -> list:
    sizes = [(h, w) for (w, h) in SUPPORTED_SHAPE] + [(512, 512), (720, 1280), (2048, 1024)]
    out = []
    for h, w in sizes:
        gh, gw = h // 8 // 2, w // 8 // 2
        crop = get_resize_crop_region_for_grid((gh, gw), 32)
        cos, sin = _get_2d_rotary_pos_embed_np(88, crop, (gh, gw), use_real=True)
        cos, sin = cos.numpy(), sin.numpy()
        n = gh * gw
        # sampled full rows (first/last 32 tokens and 64 spread over the grid) pin the layout directly
        rows = sorted(set(list(range(32)) + list(range(n - 32, n)) + [int(x) for x in np.linspace(0, n - 1, 64)]))
        # per-axis values cover every token: W coordinate = column (dims 0..43), H = row (dims 44..87)
        col_cos = cos[0:gw, 0:44:2]
        col_sin = sin[0:gw, 0:44:2]
        row_cos = cos[0::gw, 44:88:2]
        row_sin = sin[0::gw, 44:88:2]
        assert np.array_equal(cos.reshape(gh, gw, 88)[:, :, 0:44], np.broadcast_to(cos[0:gw, 0:44], (gh, gw, 44)))
        assert np.array_equal(cos.reshape(gh, gw, 88)[:, :, 44:], np.broadcast_to(cos[0::gw, 44:][:, None, :], (gh, gw, 44)))
        torch_cos, _ = get_2d_rotary_pos_embed(88, crop, (gh, gw), use_real=True, output_type="pt")
        out.append(
            {
                "height": h,
                "width": w,
                "gridH": gh,
                "gridW": gw,
                "crop": [list(crop[0]), list(crop[1])],
                "rows": rows,
                "cosRows": put(cos[rows]),
                "sinRows": put(sin[rows]),
                "colCos": put(col_cos),
                "colSin": put(col_sin),
                "rowCos": put(row_cos),
                "rowSin": put(row_sin),
                "diffusersTorchMaxAbsDiff": float(np.abs(torch_cos.numpy() - cos).max()),
            }
        )
    # a head dim other than 88, as used by tiny test checkpoints
    cos, sin = _get_2d_rotary_pos_embed_np(16, ((0, 0), (32, 32)), (8, 8), use_real=True)
    out.append({"height": 128, "width": 128, "headDim": 16, "gridH": 8, "gridW": 8, "crop": [[0, 0], [32, 32]],
                "rows": list(range(64)), "cosRows": put(cos.numpy()), "sinRows": put(sin.numpy())})
    return out


def binning_golden() -> list:
    cases = [(512, 512), (1280, 720), (1024, 2048), (1024, 1024), (1920, 1080), (1080, 1920), (800, 600), (600, 800),
             (2048, 2048), (640, 640), (1000, 1000), (1536, 1024), (1024, 1536), (1200, 900), (896, 1152), (1344, 768),
             (256, 256), (4096, 1024), (1024, 4096), (1152, 896), (1000, 750), (1280, 1280), (1216, 832), (832, 1216)]
    out = []
    for w, h in cases:
        hf, wf = int((h // 16) * 16), int((w // 16) * 16)
        if (hf, wf) in SUPPORTED_SHAPE:
            bw, bh = wf, hf
        else:
            bw, bh = map_to_standard_shapes(wf, hf)
        out.append({"width": w, "height": h, "binnedWidth": int(bw), "binnedHeight": int(bh)})
    return out


# ---------------------------------------------------------------- schedulers
def trajectory(kind: str, config: dict, steps: int, seed: int, eta: float = 0.0, shape=(1, 4, 4, 4)) -> dict:
    """Steps through the whole schedule; the sample fed to each step is the previous golden output."""
    s = make(kind, config)
    s.set_timesteps(steps)
    ts = [int(t) for t in s.timesteps]
    sample = rand(shape, seed)
    entry = {"kind": kind, "steps": steps, "eta": eta, "shape": list(shape), "timesteps": ts, "initial": put(sample)}
    outs, x0s, noises, models = [], [], [], []
    for i, t in enumerate(ts):
        model = rand(shape, seed * 1000 + i + 1)
        noise_seed = seed * 7919 + i
        noise = rand(shape, noise_seed)
        if kind == "ddpm":
            r = s.step(model, t, sample, generator=torch.Generator().manual_seed(noise_seed))
        elif kind == "ddim":
            r = s.step(model, t, sample, eta=eta, variance_noise=noise if eta > 0 else None)
        else:
            r = s.step(model, t, sample)
        outs.append(r.prev_sample)
        x0s.append(r.pred_original_sample if kind != "dpmpp" else s.model_outputs[-1])
        noises.append(noise)
        models.append(model)
        sample = r.prev_sample
    entry.update({"model": put(torch.stack(models)), "noise": put(torch.stack(noises)),
                  "prev": put(torch.stack(outs)), "x0": put(torch.stack(x0s))})
    return entry


def scheduler_golden() -> dict:
    v12 = dict(HUNYUAN_CONFIG, beta_end=0.018)
    eps = dict(HUNYUAN_CONFIG, prediction_type="epsilon")
    configs = {"hunyuan": HUNYUAN_CONFIG, "v12": v12, "epsilon": eps}
    for spacing in ("linspace", "trailing"):
        configs[spacing] = dict(HUNYUAN_CONFIG, timestep_spacing=spacing)
    configs["alphaOne"] = dict(HUNYUAN_CONFIG, set_alpha_to_one=True)
    tables = {}
    for name in ("hunyuan", "v12"):
        s = DDPMScheduler.from_config(configs[name])
        tables[name] = {"betas": put(s.betas), "alphasCumprod": put(s.alphas_cumprod)}
    timesteps = []
    for name in ("hunyuan", "linspace", "trailing"):
        for kind in CLASSES:
            for n in (1, 7, 20, 25, 50, 100, 999):
                s = make(kind, configs[name])
                s.set_timesteps(n)
                timesteps.append({"config": name, "kind": kind, "steps": n, "timesteps": [int(t) for t in s.timesteps]})
    dpm = DPMSolverMultistepScheduler.from_config(HUNYUAN_CONFIG)
    dpm.set_timesteps(50)
    trajectories = []
    seed = 1
    for kind in CLASSES:
        for n in (20, 25, 50, 100):
            trajectories.append(dict(trajectory(kind, HUNYUAN_CONFIG, n, seed), config="hunyuan"))
            seed += 1
        for name in ("epsilon", "v12", "trailing"):
            trajectories.append(dict(trajectory(kind, configs[name], 20, seed), config=name))
            seed += 1
    for name in ("hunyuan", "alphaOne"):
        trajectories.append(dict(trajectory("ddim", configs[name], 25, seed, eta=0.5), config=name))
        seed += 1
    trajectories.append(dict(trajectory("dpmpp", HUNYUAN_CONFIG, 10, seed), config="hunyuan"))  # < 15: lower_order_final
    return {
        "configs": configs,
        "tables": tables,
        "timesteps": timesteps,
        "dpmSigmas50": put(dpm.sigmas),
        "trajectories": trajectories,
    }


# ---------------------------------------------------------------- guidance
def guidance_golden() -> list:
    out = []
    for i, (batch, channels, h, w, scale, rescale) in enumerate(
        [(1, 8, 8, 8, 5.0, 0.0), (1, 8, 8, 8, 5.0, 0.7), (2, 8, 4, 6, 6.0, 0.5), (1, 4, 8, 8, 1.5, 1.0), (1, 8, 64, 64, 5.0, 0.7)]
    ):
        model = rand((2 * batch, channels, h, w), 100 + i) * 0.8 + 0.1
        pred = model[:, :4]
        uncond, text = pred.chunk(2)
        cfg = uncond + scale * (text - uncond)
        if rescale > 0:
            cfg = rescale_noise_cfg(cfg, text, guidance_rescale=rescale)
        out.append({"batch": batch, "channels": channels, "height": h, "width": w, "guidanceScale": scale,
                    "guidanceRescale": rescale, "model": put(model), "expected": put(cfg)})
    return out


# ---------------------------------------------------------------- conditioning
def conditioning_golden() -> list:
    out = []
    for h, w in [(1024, 1024), (768, 1280), (1280, 768), (864, 1152)]:
        # diffusers HunyuanDiTPipeline.__call__: add_time_ids = list(original_size + target_size + crops_coords_top_left)
        original_size, target_size, crops = (1024, 1024), (h, w), (0, 0)
        diffusers_ids = list(original_size + target_size + crops)
        # Tencent inference.py: size_cond = list(src_size_cond) + [target_W, target_H, 0, 0]
        tencent_ids = [1024, 1024] + [w, h, 0, 0]
        out.append({"height": h, "width": w, "diffusers": diffusers_ids, "tencent": tencent_ids})
    return out


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    index = {
        "generator": "tests/golden/gen_diffusion.py",
        "diffusers": diffusers.__version__,
        "torch": torch.__version__,
        "torchCpuCapability": torch.backends.cpu.get_cpu_capability(),
        "blob": "diffusion.bin",
        "rope": rope_golden(),
        "binning": binning_golden(),
        "schedulers": scheduler_golden(),
        "guidance": guidance_golden(),
        "conditioning": conditioning_golden(),
    }
    with open(os.path.join(OUT, "diffusion.bin"), "wb") as f:
        f.write(BLOB)
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, separators=(",", ":"))
    print(f"wrote {len(BLOB)} bytes of arrays")


if __name__ == "__main__":
    main()
