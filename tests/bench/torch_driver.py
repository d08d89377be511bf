"""The PyTorch side of bench:e2e (tests/bench/pipeline_e2e.ts): one persistent process that reads JSON
commands, one per stdin line, and answers each with one JSON line, so the benchmark can alternate our
runs and these in the same machine state.

Commands: {"pipeline": folder, "sampler": "ddpm"|"dpmpp"} loads diffusers' HunyuanDiTPipeline;
{"generate": size, "steps": n, "guidance": g} times one generation (seconds);
{"dit": folder, "inputs": dir} loads a HunyuanDiT2DModel and the step inputs written by the benchmark
(raw little-endian arrays, shapes in dir/shapes.json); {"step": true} times one forward (seconds), and
{"step": true, "save": path} also writes its output; {"peak": true} is this process's peak RSS in MiB.
Run by the benchmark: python torch_driver.py THREADS
"""
import json
import resource
import sys
import time
from pathlib import Path

import diffusers
import numpy as np
import torch
from diffusers import DPMSolverMultistepScheduler, HunyuanDiT2DModel, HunyuanDiTPipeline

PROMPT = "一只可爱的猫坐在窗台上，a cute cat, oil painting"
NEGATIVE = "模糊，blurry"

state = {}


def load_pipeline(folder: str, sampler: str) -> dict:
    pipe = HunyuanDiTPipeline.from_pretrained(folder)
    if sampler == "dpmpp":
        pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    state["pipe"] = pipe
    return {"loaded": folder}


def generate(size: int, steps: int, guidance: float) -> float:
    start = time.perf_counter()
    state["pipe"](
        PROMPT, negative_prompt=NEGATIVE, height=size, width=size, num_inference_steps=steps,
        guidance_scale=guidance, use_resolution_binning=False,
        generator=torch.Generator("cpu").manual_seed(42), output_type="np",
    )
    return time.perf_counter() - start


def load_dit(folder: str, inputs: str) -> dict:
    model = HunyuanDiT2DModel.from_pretrained(folder).eval()
    shapes = json.loads((Path(inputs) / "shapes.json").read_text())

    def read(name: str) -> torch.Tensor:
        spec = shapes[name]
        data = np.fromfile(Path(inputs) / f"{name}.bin", dtype=spec["dtype"]).reshape(spec["shape"])
        return torch.from_numpy(data)

    state["dit"] = model
    state["feeds"] = dict(
        hidden_states=read("x"), timestep=read("t"), encoder_hidden_states=read("encoder_hidden_states"),
        text_embedding_mask=read("text_embedding_mask"),
        encoder_hidden_states_t5=read("encoder_hidden_states_t5"),
        text_embedding_mask_t5=read("text_embedding_mask_t5"),
        image_rotary_emb=(read("cos_cis_img"), read("sin_cis_img")), return_dict=False,
    )
    return {"loaded": folder}


def step(save: str | None) -> float:
    start = time.perf_counter()
    out = state["dit"](**state["feeds"])[0]
    seconds = time.perf_counter() - start
    if save:
        out.numpy().astype("<f4").tofile(save)
    return seconds


def main() -> None:
    torch.set_num_threads(int(sys.argv[1]))
    torch.set_grad_enabled(False)
    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    print(json.dumps({"torch": torch.__version__, "diffusers": diffusers.__version__,
                      "torch_threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if "pipeline" in cmd:
            answer = load_pipeline(cmd["pipeline"], cmd["sampler"])
        elif "generate" in cmd:
            answer = generate(cmd["generate"], cmd["steps"], cmd["guidance"])
        elif "dit" in cmd:
            answer = load_dit(cmd["dit"], cmd["inputs"])
        elif "step" in cmd:
            answer = step(cmd.get("save"))
        else:
            answer = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
