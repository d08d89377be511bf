"""Golden data for lib/diffusion/noise.ts: torch.randn on seeded CPU generators, torch 2.13.0.

Run: $(bash tests/golden/ref_venv.sh) tests/golden/gen_noise.py
Writes tests/golden/data/noise/index.json and noise.bin (little-endian float32 blocks referenced from the index as
{"offset": byte offset, "length": element count}). Two kernels are recorded:
  "avx2": this process, whose CPU capability must be AVX2 or AVX512 (torch 2.13 builds its normal kernel for AVX2 only,
          so AVX-512 CPUs run the AVX2 kernel too);
  "libm": a child process with ATEN_CPU_CAPABILITY=default (the scalar kernel calling glibc logf / sincosf).
Per kernel, seed and size: the full values up to FULL_MAX elements, otherwise the sha256 of the float32 bytes plus the
first and last EDGE values. Multi-call sequences on one generator record every call the same way.
Exhaustive part: the float32 uniforms are k / 2^24 (k < 2^24), so the kernel's log and sincos see only 2^24 inputs
each. Injecting chosen MT19937 outputs through Generator.set_state (left = 624, next = 0: the next 623 draws are the
tempered state words, no twist), torch.randn(608) runs 38 blocks of 16 on uniforms we pick: u[j] = k, u[j+8] = 0 gives
radius(k) * cos(0) = radius(k) in slot j; u[j] = RADIUS_ONE_K (whose radius is exactly 1, asserted) and u[j+8] = k gives
cos(theta(k)) in slot j and sin(theta(k)) in slot j+8. The sha256 of each CHUNK of the 2^24 results is recorded.
Deterministic: no randomness besides the seeded generators.
"""
import hashlib
import json
import os
import platform
import subprocess
import sys

import numpy as np
import torch

assert torch.__version__.startswith("2.13.0"), torch.__version__

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "noise")
SEEDS = [0, 42, 2**32 - 1, 2**32 + 42, 2**64 - 1]
SIZES = list(range(1, 41)) + [47, 64, 100, 255, 256, 1000, 4095, 4096, 16384, 36864, 65536, 70000]
SEQUENCES = [
    {"seed": 42, "counts": [16384, 16384, 5, 3, 17]},
    {"seed": 7, "counts": [3, 20, 1, 2, 15, 16, 1]},
    {"seed": 2024, "counts": [65536, 65536, 65536]},  # latents then two DDPM variance draws at 1024x1024
]
FULL_MAX = 4096
EDGE = 64
RADIUS_ONE_K = 6601320  # log(1 - k / 2^24) rounds to exactly -0.5 in both kernels, so the radius is 1
CHUNK = 1 << 18
ALL_K = 1 << 24
BLOCKS = 38  # 608 draws fit in the 623 that follow an injected state without a twist


def draw(seed: int, counts: list[int]) -> list[np.ndarray]:
    """Successive torch.randn(count) calls on one CPU generator seeded with seed."""
    g = torch.Generator("cpu").manual_seed(seed)
    return [torch.randn(n, generator=g).numpy() for n in counts]


def temper(y: np.ndarray) -> np.ndarray:
    """MT19937 output tempering on uint64 arrays holding 32-bit words."""
    y = y ^ (y >> 11)
    y = y ^ ((y << 7) & 0x9D2C5680)
    y = y ^ ((y << 15) & 0xEFC60000)
    return (y ^ (y >> 18)) & 0xFFFFFFFF


def untemper(y: np.ndarray) -> np.ndarray:
    """Inverse of temper: the state word whose output is y."""
    y = y.astype(np.uint64)
    y = y ^ (y >> 18)
    y = (y ^ ((y << 15) & 0xEFC60000)) & 0xFFFFFFFF
    orig = y
    for _ in range(5):
        y = (orig ^ ((y << 7) & 0x9D2C5680)) & 0xFFFFFFFF
    orig = y
    for _ in range(3):
        y = orig ^ (y >> 11)
    return y & 0xFFFFFFFF


def inject_blocks(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """torch.randn on blocks whose uniforms are first[b, j] / 2^24 (slots 0..7) and second[b, j] / 2^24 (8..15)."""
    g = torch.Generator("cpu").manual_seed(0)
    state = g.get_state().numpy().copy()
    state[8:12] = np.frombuffer(np.int32(624).tobytes(), np.uint8)  # left_
    state[16:24] = 0  # next_
    words = state[24 : 24 + 624 * 8].view(np.uint64)
    tensor = torch.from_numpy(state)
    n_blocks = first.shape[0]
    out = np.empty((n_blocks, 16), np.float32)
    block_words = np.empty((BLOCKS, 16), np.uint64)
    for b in range(0, n_blocks, BLOCKS):
        m = min(BLOCKS, n_blocks - b)
        block_words[:] = 0
        block_words[:m, :8] = untemper(first[b : b + m])
        block_words[:m, 8:] = untemper(second[b : b + m])
        words[: BLOCKS * 16] = block_words.ravel()
        g.set_state(tensor)
        out[b : b + m] = torch.randn(BLOCKS * 16, generator=g).numpy().reshape(BLOCKS, 16)[:m]
    return out[:, :8].ravel(), out[:, 8:].ravel()


def exhaustive() -> dict:
    """Chunked sha256 of radius(k), cos(theta(k)), sin(theta(k)) for every k < 2^24, read back from torch."""
    ks = np.arange(ALL_K, dtype=np.uint64).reshape(-1, 8)
    assert np.array_equal(temper(untemper(ks)), ks)
    radius, zeros = inject_blocks(ks, np.zeros_like(ks))
    assert radius[RADIUS_ONE_K] == 1.0 and not zeros.any()
    cos, sin = inject_blocks(np.full_like(ks, RADIUS_ONE_K), ks)

    def chunks(a: np.ndarray) -> list[str]:
        raw = a.astype("<f4").tobytes()
        step = CHUNK * 4
        return [hashlib.sha256(raw[i : i + step]).hexdigest() for i in range(0, len(raw), step)]

    return {"radius_one_k": RADIUS_ONE_K, "chunk": CHUNK, "radius": chunks(radius), "cos": chunks(cos), "sin": chunks(sin)}


def collect() -> dict:
    """Runs all draws in this process; returns raw float32 bytes (hex) per case."""
    return {
        "capability": torch.backends.cpu.get_cpu_capability(),
        "exhaustive": exhaustive(),
        "single": [
            {"seed": s, "count": n, "hex": draw(s, [n])[0].tobytes().hex()} for s in SEEDS for n in SIZES
        ],
        "sequences": [
            {"seed": q["seed"], "counts": q["counts"], "hex": [a.tobytes().hex() for a in draw(q["seed"], q["counts"])]}
            for q in SEQUENCES
        ],
    }


class Blob:
    """Accumulates float32 blocks for noise.bin."""

    def __init__(self) -> None:
        self.data = bytearray()

    def record(self, raw: bytes) -> dict:
        """Index entry for one draw: full values or hash + prefix/suffix."""
        arr = np.frombuffer(raw, dtype="<f4")
        entry: dict = {"count": int(arr.size), "sha256": hashlib.sha256(raw).hexdigest()}
        if arr.size <= FULL_MAX:
            entry["values"] = self.put(arr)
        else:
            entry["head"] = self.put(arr[:EDGE])
            entry["tail"] = self.put(arr[-EDGE:])
        return entry

    def put(self, arr: np.ndarray) -> dict:
        ref = {"offset": len(self.data), "length": int(arr.size)}
        self.data += arr.astype("<f4").tobytes()
        return ref


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        json.dump(collect(), sys.stdout)
        return
    cap = torch.backends.cpu.get_cpu_capability()
    assert cap in ("AVX2", "AVX512"), f"need an AVX2/AVX512 x86 CPU for the avx2 goldens, got {cap}"
    runs = {"avx2": collect()}
    env = dict(os.environ, ATEN_CPU_CAPABILITY="default")
    child = subprocess.run([sys.executable, __file__, "--child"], env=env, check=True, capture_output=True, text=True)
    runs["libm"] = json.loads(child.stdout)
    assert runs["libm"]["capability"] == "DEFAULT", runs["libm"]["capability"]

    blob = Blob()
    index: dict = {
        "torch": torch.__version__,
        "machine": platform.machine(),
        "capability": {k: v["capability"] for k, v in runs.items()},
        "glibc": platform.libc_ver()[1],
        "paths": {},
    }
    for path, run in runs.items():
        index["paths"][path] = {
            "single": [
                {"seed": str(c["seed"]), **blob.record(bytes.fromhex(c["hex"]))} for c in run["single"]
            ],
            "sequences": [
                {"seed": str(q["seed"]), "calls": [blob.record(bytes.fromhex(h)) for h in q["hex"]]}
                for q in run["sequences"]
            ],
            "exhaustive": run["exhaustive"],
        }
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "noise.bin"), "wb") as f:
        f.write(blob.data)
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    print(f"wrote {len(blob.data)} bytes of values to {OUT}")


if __name__ == "__main__":
    main()
