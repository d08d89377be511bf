"""End-to-end CPU seconds of diffusers' HunyuanDiTPipeline on the tiny-v12 checkpoint (baseline for the TS service).

20 steps, guidance 5.0, torch threads = 2, one warm-up run then the best of 3 per size; prints one JSON object.
Run: $(bash tests/golden/ref_venv.sh) tests/golden/bench_diffusers.py   (bench:e2e runs the same comparison turn by turn)
"""
import json
import platform
import sys
import time
from pathlib import Path

import diffusers
import torch
import transformers
from diffusers import HunyuanDiTPipeline

assert torch.__version__.startswith("2.13.0"), torch.__version__
assert diffusers.__version__ == "0.37.1", diffusers.__version__
assert transformers.__version__ == "4.57.6", transformers.__version__

CHECKPOINT = Path(__file__).resolve().parent / "data" / "tiny" / "tiny-v12"
SIZES = (64, 256)
STEPS = 20
REPEATS = 3


def run_once(pipe: HunyuanDiTPipeline, size: int) -> float:
    """Seconds for one full generation (text encoders, denoising loop, VAE decode, uint8 conversion)."""
    start = time.perf_counter()
    pipe(
        "一只可爱的猫坐在窗台上，a cute cat, oil painting", negative_prompt="模糊，blurry",
        height=size, width=size,
        num_inference_steps=STEPS, guidance_scale=5.0, use_resolution_binning=False,
        generator=torch.Generator("cpu").manual_seed(42), output_type="np",
    )
    return time.perf_counter() - start


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, or the machine type where that file is missing."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def main() -> None:
    torch.set_num_threads(2)
    torch.set_grad_enabled(False)
    pipe = HunyuanDiTPipeline.from_pretrained(CHECKPOINT)
    pipe.set_progress_bar_config(disable=True)
    results = {}
    for size in SIZES:
        run_once(pipe, size)
        times = [run_once(pipe, size) for _ in range(REPEATS)]
        results[f"{size}x{size}"] = {"best_s": round(min(times), 4), "all_s": [round(t, 4) for t in times]}
    print(json.dumps({
        "checkpoint": "tiny-v12", "steps": STEPS, "guidance_scale": 5.0, "torch_threads": torch.get_num_threads(),
        "device": "cpu", "cpu": cpu_name(), "torch": torch.__version__,
        "diffusers": diffusers.__version__, "results": results,
    }))


if __name__ == "__main__":
    sys.exit(main())
