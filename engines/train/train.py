"""Trains hydit-tiny: a small HunyuanDiT (the real diffusers/transformers classes, real folder layout) on the
synthetic shapes dataset of shapes.py, and writes a folder that `HunyuanDiTPipeline.from_pretrained` loads.

Stages (each cached in --work, so a rerun resumes): tokenizers -> VAE -> dataset latents -> DiT with both text
encoders (jointly, v-prediction, caption dropout for classifier-free guidance) -> pipeline folder.

    python engines/train/train.py --out engines/models/hydit-tiny            # the shipped model (~1.5 h, 2 cores)
    python engines/train/train.py --smoke --out /tmp/hydit-smoke              # seconds: every stage, tiny sizes

A build tool: the service never imports it. Seeded; with the same thread count a run repeats itself.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import sentencepiece as spm
import torch

import packed
import shapes

PINS = {"torch": "2.13.0", "diffusers": "0.37.1", "transformers": "4.57.6", "sentencepiece": "0.2.3"}
BERT_LENGTH, T5_LENGTH = 77, 256  # fixed by HunyuanDiTPipeline
CAPTION_DROPOUT = 0.1
MIN_SNR_GAMMA = 5.0


@dataclass(frozen=True)
class Plan:
    """Sizes and step counts of one training run."""

    scenes: int = 48000  # dataset size: rendered scenes whose latents are cached
    vae_steps: int = 5000
    vae_batch: int = 16
    vae_crop: int = 64
    decoder_steps: int = 800  # decoder-only refinement on whole pictures (the latents stay as they are)
    decoder_batch: int = 8
    dit_steps: int = 3000
    dit_batch: int = 64
    dit_lr: float = 6e-4
    warmup: int = 200
    ema: float = 0.999
    hidden: int = 192
    layers: int = 6
    heads: int = 4
    text_dim: int = 64
    save_every: int = 250
    tune_steps: int = 0  # rebalancing stage (--tune-from): DiT and text encoders on TRAIN_* + TUNE_* phrasings
    tune_lr: float = 3e-4
    tune_warmup: int = 100


SMOKE = Plan(scenes=64, vae_steps=3, vae_batch=4, decoder_steps=2, decoder_batch=2, dit_steps=3, dit_batch=4, warmup=1,
             hidden=32, layers=2,
             heads=2, text_dim=16, save_every=2)


def check_pins() -> None:
    import diffusers
    import sentencepiece
    import transformers

    found = {"torch": torch.__version__.split("+")[0], "diffusers": diffusers.__version__,
             "transformers": transformers.__version__, "sentencepiece": sentencepiece.__version__}
    bad = {k: v for k, v in found.items() if v != PINS[k]}
    if bad:
        sys.exit(f"train.py: needs {PINS}, found {bad} (see engines/train/README.md)")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------- tokenizers

def train_spiece(prefix: Path, **options) -> None:
    """Trains a SentencePiece unigram model on the caption corpus into PREFIX.model: T5's special ids (pad 0, eos 1,
    unk 2, no BOS), nmt_nfkc, every character covered, no byte fallback; `options` add to or override these."""
    spm.SentencePieceTrainer.train(**{
        "sentence_iterator": iter(shapes.corpus()), "model_prefix": str(prefix), "model_type": "unigram",
        "normalization_rule_name": "nmt_nfkc", "character_coverage": 1.0, "pad_id": 0, "eos_id": 1, "unk_id": 2,
        "bos_id": -1, "num_threads": 1, "shuffle_input_sentence": False, "hard_vocab_limit": False, "minloglevel": 2,
        **options,
    })


def build_tokenizers(work: Path):
    """A BERT WordPiece vocab and a SentencePiece unigram model, both made from the training phrasings."""
    from transformers import BasicTokenizer, BertTokenizer, T5Tokenizer

    lines = shapes.corpus()
    vocab_path, spiece_path = work / "vocab.txt", work / "spiece.model"
    if not vocab_path.exists():
        basic = BasicTokenizer(do_lower_case=True, tokenize_chinese_chars=True)
        words = sorted({w for line in lines for w in basic.tokenize(line)})
        # Single letters, digits and ## pieces keep unseen English words out of [UNK].
        pieces = list("abcdefghijklmnopqrstuvwxyz0123456789") + [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
        tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        tokens += [t for t in words + pieces if t not in tokens]
        vocab_path.write_text("\n".join(dict.fromkeys(tokens)) + "\n", encoding="utf-8")
    if not spiece_path.exists():
        train_spiece(work / "spiece", vocab_size=320)
    bert = BertTokenizer(str(vocab_path), do_lower_case=True, do_basic_tokenize=True, tokenize_chinese_chars=True,
                         strip_accents=None, model_max_length=BERT_LENGTH)
    t5 = T5Tokenizer(str(spiece_path), extra_ids=0, legacy=True, model_max_length=T5_LENGTH)
    return bert, t5


def merged_t5_tokenizer(work: Path):
    """A second SentencePiece unigram model whose pieces may span spaces (`split_by_whitespace=False`), so that
    English gets colour-noun pieces like `▁red▁circle`, as Chinese gets `红色圆形`; 600 pieces."""
    from transformers import T5Tokenizer

    path = work / "spiece_merged.model"
    if not path.exists():
        train_spiece(work / "spiece_merged", vocab_size=600, split_by_whitespace=False, max_sentencepiece_length=24)
    return T5Tokenizer(str(path), extra_ids=0, legacy=True, model_max_length=T5_LENGTH)


def carry_t5_embeddings(t5, old_tok, new_tok) -> None:
    """Re-indexes the T5 input embeddings for `new_tok`: each new piece starts as the mean of the old embeddings
    of its text under `old_tok` (special pieces keep their own row), so the encoder starts where it was."""
    old, sp = t5.get_input_embeddings().weight.detach().clone(), new_tok.sp_model
    rows = []
    for i in range(sp.get_piece_size()):
        piece = sp.id_to_piece(i)
        special = sp.is_control(i) or sp.is_unknown(i)
        text_ids = [] if special else old_tok.sp_model.encode(piece.replace("\u2581", " "))
        ids = text_ids or [old_tok.sp_model.piece_to_id(piece)]  # specials, and "▁" alone (encodes to nothing)
        rows.append(old[ids].mean(0))
    t5.resize_token_embeddings(len(rows), mean_resizing=False)
    t5.get_input_embeddings().weight.data.copy_(torch.stack(rows))


def check_held_out_vocabulary(bert, t5) -> None:
    """Every BERT token of the held-out and the TUNE_* phrasings occurs in some training caption (else it was
    never trained), and no SentencePiece piece of them is unknown."""
    seen = {t for line in shapes.corpus() for t in bert.tokenize(line)}
    rng = np.random.default_rng(0)
    tuned = [shapes.caption(rng, shapes.sample_scene(rng, pair=False), lang, tune=True)
             for lang in ("en", "zh") for _ in range(200)]
    for text in [p["prompt"] for p in shapes.eval_prompts(0, 40)] + tuned:
        missing = [t for t in bert.tokenize(text) if t not in seen]
        missing += [t for t in t5.tokenize(text) if t5.convert_tokens_to_ids(t) == t5.unk_token_id]
        assert not missing, f"prompt {text!r} uses untrained tokens {missing}"


# ---------------------------------------------------------------- models

def build_models(plan: Plan, bert_vocab: int, t5_vocab: int):
    from diffusers import AutoencoderKL, DDPMScheduler, HunyuanDiT2DModel
    from transformers import BertConfig, BertModel, T5Config, T5EncoderModel

    torch.manual_seed(1)
    d = plan.text_dim
    bert = BertModel(BertConfig(
        vocab_size=bert_vocab, hidden_size=d, num_hidden_layers=2, num_attention_heads=2, intermediate_size=4 * d,
        hidden_act="gelu", max_position_embeddings=BERT_LENGTH, type_vocab_size=2, layer_norm_eps=1e-12,
        pad_token_id=0, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    ))
    t5 = T5EncoderModel(T5Config(
        vocab_size=t5_vocab, d_model=d, d_kv=d // 2, d_ff=2 * d, num_layers=2, num_heads=2,
        relative_attention_num_buckets=32, relative_attention_max_distance=128, feed_forward_proj="gated-gelu",
        layer_norm_epsilon=1e-6, dropout_rate=0.0, tie_word_embeddings=False, pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0, use_cache=False, is_encoder_decoder=False,
    ))
    dit = HunyuanDiT2DModel(
        num_attention_heads=plan.heads, attention_head_dim=plan.hidden // plan.heads, in_channels=4, patch_size=2,
        activation_fn="gelu-approximate", sample_size=shapes.SIZE // 8, hidden_size=plan.hidden,
        num_layers=plan.layers, mlp_ratio=4.0, learn_sigma=True, cross_attention_dim=d, norm_type="layer_norm",
        cross_attention_dim_t5=d, pooled_projection_dim=d, text_len=BERT_LENGTH, text_len_t5=T5_LENGTH,
        use_style_cond_and_image_meta_size=False,
    )
    small = plan.hidden < 64
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4, block_out_channels=[8, 8, 16, 16] if small else [16, 32, 64, 64],
        layers_per_block=1, act_fn="silu", latent_channels=4, norm_num_groups=8 if small else 16,
        sample_size=shapes.SIZE, scaling_factor=1.0, force_upcast=False,
    )
    scheduler = DDPMScheduler(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.018, beta_schedule="scaled_linear",
        variance_type="fixed_small", clip_sample=False, prediction_type="v_prediction", thresholding=False,
        timestep_spacing="leading", steps_offset=1, rescale_betas_zero_snr=False,
    )
    return bert, t5, dit, vae, scheduler


def to_unit(images: np.ndarray) -> torch.Tensor:
    """uint8 [B, H, W, 3] -> float [B, 3, H, W] in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def warmup_cosine(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


# ---------------------------------------------------------------- VAE

def train_vae(plan: Plan, vae, work: Path, seed: int) -> dict:
    path = work / "vae.pt"
    if path.exists():
        state = torch.load(path)
        vae.load_state_dict(state["model"])
        return state["stats"]
    rng = np.random.default_rng([seed, 1])
    opt = torch.optim.AdamW(vae.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.0)
    started, recent = time.time(), []
    vae.train()
    c = plan.vae_crop
    for step in range(plan.vae_steps):
        for g in opt.param_groups:
            g["lr"] = 1e-3 * warmup_cosine(step, plan.vae_steps, 100)
        batch = np.stack([shapes.render(shapes.sample_scene(rng)) for _ in range(plan.vae_batch)])
        ys, xs = rng.integers(0, shapes.SIZE - c + 1, size=2)
        x = to_unit(np.ascontiguousarray(batch[:, ys:ys + c, xs:xs + c]))
        post = vae.encode(x).latent_dist
        y = vae.decode(post.sample()).sample
        rec = (y - x).abs().mean() + (y - x).pow(2).mean()
        kl = post.kl().mean() / post.mean[0].numel()
        loss = rec + 1e-4 * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        recent.append(rec.item())
        if (step + 1) % 100 == 0 or step + 1 == plan.vae_steps:
            rate = (time.time() - started) / (step + 1)
            last = float(np.mean(recent))
            log(f"vae {step + 1}/{plan.vae_steps} reconstruction {last:.4f} kl/dim {kl.item():.3f} "
                f"{rate:.2f} s/step, {rate * (plan.vae_steps - step - 1) / 60:.0f} min left")
            recent = []
    vae.eval()
    stats = {"steps": plan.vae_steps, "batch": plan.vae_batch, "crop": c, "seconds": round(time.time() - started),
             "final_reconstruction": round(last, 5)}
    torch.save({"model": vae.state_dict(), "stats": stats}, path)
    return stats


def refine_decoder(plan: Plan, vae, work: Path, seed: int) -> dict:
    """Fine-tunes the decoder alone on whole pictures: crops taught it everything but the picture borders,
    and freezing the encoder keeps the latent space, so this can run before or after the DiT."""
    path = work / "decoder.pt"
    if path.exists():
        state = torch.load(path)
        vae.load_state_dict(state["model"])
        return state["stats"]
    rng = np.random.default_rng([seed, 5])
    params = list(vae.decoder.parameters()) + list(vae.post_quant_conv.parameters())
    opt = torch.optim.AdamW(params, lr=3e-4, betas=(0.9, 0.99), weight_decay=0.0)
    started, recent = time.time(), []
    vae.train()
    for step in range(plan.decoder_steps):
        for g in opt.param_groups:
            g["lr"] = 3e-4 * warmup_cosine(step, plan.decoder_steps, 50)
        x = to_unit(np.stack([shapes.render(shapes.sample_scene(rng)) for _ in range(plan.decoder_batch)]))
        with torch.no_grad():
            z = vae.encode(x).latent_dist.sample()
        y = vae.decode(z).sample
        rec = (y - x).abs().mean() + (y - x).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        rec.backward()
        opt.step()
        recent.append(rec.item())
        if (step + 1) % 100 == 0 or step + 1 == plan.decoder_steps:
            rate = (time.time() - started) / (step + 1)
            last = float(np.mean(recent))
            log(f"decoder {step + 1}/{plan.decoder_steps} reconstruction {last:.4f} "
                f"{rate:.2f} s/step, {rate * (plan.decoder_steps - step - 1) / 60:.0f} min left")
            recent = []
    vae.eval()
    stats = {"steps": plan.decoder_steps, "batch": plan.decoder_batch, "seconds": round(time.time() - started),
             "final_reconstruction": round(last, 5)}
    torch.save({"model": vae.state_dict(), "stats": stats}, path)
    return stats


@torch.no_grad()
def encode_dataset(plan: Plan, vae, work: Path, seed: int) -> tuple[list[shapes.Scene], torch.Tensor]:
    """Renders the dataset's scenes and caches their VAE latents (posterior mean, unscaled)."""
    scenes = [shapes.sample_scene(np.random.default_rng([seed, 2, i])) for i in range(plan.scenes)]
    path = work / "latents.pt"
    if path.exists():
        return scenes, torch.load(path)
    started, chunks = time.time(), []
    for at in range(0, plan.scenes, 64):
        images = np.stack([shapes.render(s) for s in scenes[at:at + 64]])
        chunks.append(vae.encode(to_unit(images)).latent_dist.mean)
        if (at // 64) % 100 == 0:
            log(f"encode {at + len(images)}/{plan.scenes}")
    latents = torch.cat(chunks)
    torch.save(latents, path)
    log(f"encoded {plan.scenes} scenes in {time.time() - started:.0f} s")
    return scenes, latents


# ---------------------------------------------------------------- DiT + text encoders

class TokenCache:
    """Tokenizes captions for training. BERT ids are memoised (the slow tokenizer costs ~0.1 ms a call); the
    SentencePiece ids use subword sampling half the time, so that pieces the best segmentation of the training
    phrasings never produces (single characters of multi-character pieces) are trained too."""

    def __init__(self, bert, t5, rng: np.random.Generator):
        self.bert, self.t5, self.rng, self.memo = bert, t5, rng, {}

    def t5_ids(self, text: str) -> list[int]:
        if self.rng.random() < 0.5:
            return self.t5(text, padding="max_length", max_length=T5_LENGTH, truncation=True)["input_ids"]
        ids = self.t5.sp_model.encode(text, enable_sampling=True, alpha=0.1, nbest_size=-1)[: T5_LENGTH - 1]
        ids.append(self.t5.eos_token_id)
        return ids + [self.t5.pad_token_id] * (T5_LENGTH - len(ids))

    def __call__(self, texts: list[str]):
        rows = []
        for text in texts:
            if text not in self.memo:
                b = self.bert(text, padding="max_length", max_length=BERT_LENGTH, truncation=True)
                self.memo[text] = (b["input_ids"], b["attention_mask"])
            ids2 = self.t5_ids(text)
            rows.append((*self.memo[text], ids2, [int(i != self.t5.pad_token_id) for i in ids2]))
        return [torch.tensor([r[k] for r in rows]) for k in range(4)]


def rope_tables(dit) -> tuple[torch.Tensor, torch.Tensor]:
    """RoPE cos/sin for the native size (square, so diffusers' and Tencent's positions agree)."""
    from diffusers.models.embeddings import get_2d_rotary_pos_embed

    grid = shapes.SIZE // 8 // dit.config.patch_size
    base = 512 // 8 // dit.config.patch_size
    return get_2d_rotary_pos_embed(dit.inner_dim // dit.config.num_attention_heads, ((0, 0), (base, base)),
                                   (grid, grid), output_type="pt")


def train_dit(plan: Plan, models, tokens: TokenCache, scenes, latents, work: Path, seed: int, tune: bool = False) -> dict:
    """Trains the DiT with both text encoders; `tune` is the rebalancing stage: its own step count, learning
    rate, random streams and checkpoint, and the TUNE_* phrasings alongside TRAIN_*."""
    bert, t5, dit, scheduler = models
    steps, lr, warmup = (plan.tune_steps, plan.tune_lr, plan.tune_warmup) if tune else \
        (plan.dit_steps, plan.dit_lr, plan.warmup)
    name = "tune" if tune else "dit"
    nets = torch.nn.ModuleList([dit, bert, t5])
    ema = copy.deepcopy(nets).requires_grad_(False)
    opt = torch.optim.AdamW(nets.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=0.01, foreach=True)
    rng = np.random.default_rng([seed, 6 if tune else 3])
    gen = torch.Generator().manual_seed(seed + 1 if tune else seed)
    history: list[dict] = []
    start_step, resumed_seconds = 0, 0.0
    ckpt = work / f"{name}.pt"
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        nets.load_state_dict(state["nets"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        rng.bit_generator.state = state["rng"]
        gen.set_state(state["gen"])
        start_step, history, resumed_seconds = state["step"], state["history"], state["seconds"]
        log(f"{name}: resumed at step {start_step}")
    rope = rope_tables(dit)
    alphas = scheduler.alphas_cumprod
    snr = alphas / (1 - alphas)
    weight = torch.clamp(snr, max=MIN_SNR_GAMMA) / (snr + 1)  # min-SNR weighting for v-prediction
    scale = scheduler_scale(latents)
    nets.train()
    started, window = time.time() - resumed_seconds, []
    for step in range(start_step, steps):
        for g in opt.param_groups:
            g["lr"] = lr * warmup_cosine(step, steps, warmup)
        idx = rng.integers(len(scenes), size=plan.dit_batch)
        texts = []
        for i in idx:
            lang = "en" if rng.random() < 0.5 else "zh"
            text = shapes.caption(rng, scenes[i], lang, tune)
            texts.append("" if rng.random() < CAPTION_DROPOUT else text)
        x0 = latents[torch.from_numpy(idx)] * scale
        noise = torch.randn(x0.shape, generator=gen)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (plan.dit_batch,), generator=gen)
        xt = scheduler.add_noise(x0, noise, t)
        v = scheduler.get_velocity(x0, noise, t)
        batch_tokens = tokens(texts)
        if step == start_step:  # the packed forward must match the stock one on these weights and versions
            worst = packed.check(nets, xt[:8], t[:8], [k[:8] for k in batch_tokens], rope)
            log(f"{name}: packed forward matches the stock one (worst relative difference {worst:.1e})")
        pred = packed.predict(dit, bert, t5, xt, t, batch_tokens, rope)
        per_sample = (pred - v).pow(2).mean(dim=(1, 2, 3))
        loss = (weight[t] * per_sample).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(nets.parameters(), 1.0)
        opt.step()
        decay = min(plan.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_lerp_(list(ema.parameters()), list(nets.parameters()), 1 - decay)
        window.append(per_sample.mean().item())
        done = step + 1
        if done % 50 == 0 or done == steps:
            elapsed = time.time() - started
            rate = elapsed / done
            history.append({"step": done, "v_mse": round(float(np.mean(window)), 5), "seconds": round(elapsed)})
            log(f"{name} {done}/{steps} v-mse {np.mean(window):.4f} lr {opt.param_groups[0]['lr']:.2e} "
                f"{rate:.2f} s/step, {rate * (steps - done) / 60:.0f} min left")
            window = []
        if done % plan.save_every == 0 or done == steps:
            torch.save({"nets": nets.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                        "rng": rng.bit_generator.state, "gen": gen.get_state(), "step": done, "history": history,
                        "seconds": time.time() - started}, ckpt)
    nets.load_state_dict(ema.state_dict())  # ship the EMA weights
    nets.eval()
    return {"steps": steps, "batch": plan.dit_batch, "lr": lr, "seconds": round(time.time() - started),
            "history": history}


def scheduler_scale(latents: torch.Tensor) -> float:
    """The VAE scaling factor: 1 / std of the dataset latents (rounded to 5 digits like SD's 0.18215)."""
    return round(1.0 / latents.std().item(), 5)


# ---------------------------------------------------------------- output

def write_pipeline(out: Path, parts, stats: dict) -> None:
    from diffusers import HunyuanDiTPipeline

    bert_tok, t5_tok, bert, t5, dit, vae, scheduler = parts
    pipe = HunyuanDiTPipeline(
        vae=vae, text_encoder=bert, tokenizer=bert_tok, transformer=dit, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False, text_encoder_2=t5,
        tokenizer_2=t5_tok,
    )
    pipe.save_pretrained(out, safe_serialization=True)
    for part in ("transformer", "vae"):  # a reloaded model (--tune-from) remembers its source path: drop it
        path = out / part / "config.json"
        config = json.loads(path.read_text(encoding="utf-8"))
        config.pop("_name_or_path", None)
        path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    serving = {
        "name": "hydit-tiny",
        "description": "Coloured shapes on plain backgrounds, English and Chinese prompts (trained by engines/train).",
        "defaults": {"width": shapes.SIZE, "height": shapes.SIZE, "steps": 20, "guidanceScale": 5.0,
                     "sampler": "dpmpp"},
        "sizes": [[shapes.SIZE, shapes.SIZE]],
    }
    (out / "serving.json").write_text(json.dumps(serving, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "training.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@torch.no_grad()
def smoke_check(out: Path) -> None:
    """Reloads the written folder with diffusers and runs two denoising steps."""
    from diffusers import HunyuanDiTPipeline

    pipe = HunyuanDiTPipeline.from_pretrained(out)
    image = pipe("a red circle on a blue background", num_inference_steps=2, height=shapes.SIZE, width=shapes.SIZE,
                 use_resolution_binning=False, generator=torch.Generator().manual_seed(0), output_type="np").images
    assert image.shape == (1, shapes.SIZE, shapes.SIZE, 3) and np.isfinite(image).all(), image.shape
    log(f"reloaded {out} with HunyuanDiTPipeline and generated a {image.shape[1]}x{image.shape[2]} image")


def load_pipeline_parts(folder: Path):
    """Tokenizers and models of a written pipeline folder (the start of the rebalancing stage)."""
    from diffusers import AutoencoderKL, DDPMScheduler, HunyuanDiT2DModel
    from transformers import BertModel, BertTokenizer, T5EncoderModel, T5Tokenizer

    return (BertTokenizer.from_pretrained(folder / "tokenizer"), T5Tokenizer.from_pretrained(folder / "tokenizer_2"),
            BertModel.from_pretrained(folder / "text_encoder"), T5EncoderModel.from_pretrained(folder / "text_encoder_2"),
            HunyuanDiT2DModel.from_pretrained(folder / "transformer"), AutoencoderKL.from_pretrained(folder / "vae"),
            DDPMScheduler.from_pretrained(folder / "scheduler"))


def tune(args, plan: Plan, work: Path) -> None:
    """The rebalancing stage: continues a written model (--tune-from) on TRAIN_* + TUNE_* phrasings. Its
    tokenizers, VAE and dataset stay the base model's; only the DiT and both text encoders change."""
    started = time.time()
    base = json.loads((args.tune_from / "training.json").read_text(encoding="utf-8"))
    bert_tok, t5_tok, bert, t5, dit, vae, scheduler = load_pipeline_parts(args.tune_from)
    if args.retokenize_t5:
        merged = merged_t5_tokenizer(work)
        carry_t5_embeddings(t5, t5_tok, merged)
        t5_tok = merged
    check_held_out_vocabulary(bert_tok, t5_tok)
    scenes, latents = encode_dataset(plan, vae, work, args.seed)
    assert scheduler_scale(latents) == vae.config.scaling_factor, "the dataset latents differ from the base model's"
    tokens = TokenCache(bert_tok, t5_tok, np.random.default_rng([args.seed, 7]))
    tune_stats = train_dit(plan, (bert, t5, dit, scheduler), tokens, scenes, latents, work, args.seed, tune=True)
    stats = {**base, "tune": {
        "command": "python engines/train/train.py " + shlex.join(sys.argv[1:]), "plan": asdict(plan),
        "phrasings": {"en": len(shapes.TRAIN_EN) + len(shapes.TUNE_EN), "zh": len(shapes.TRAIN_ZH) + len(shapes.TUNE_ZH)},
        "t5_pieces": t5_tok.sp_model.get_piece_size(),
        **tune_stats, "wall_seconds": round(time.time() - started)}}
    write_pipeline(args.out, (bert_tok, t5_tok, bert, t5, dit, vae, scheduler), stats)
    smoke_check(args.out)
    log(f"tuned in {time.time() - started:.0f} s -> {args.out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="pipeline folder to write")
    ap.add_argument("--work", type=Path, help="cache for resumable stages (default: OUT.work)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes and a few steps of every stage")
    ap.add_argument("--dit-steps", type=int, help="override the plan's DiT steps")
    ap.add_argument("--tune-from", type=Path, help="rebalancing stage: continue this written model instead")
    ap.add_argument("--tune-steps", type=int, default=3200, help="steps of the rebalancing stage")
    ap.add_argument("--retokenize-t5", action="store_true",
                    help="rebalancing stage: a T5 SentencePiece model whose pieces may span spaces (▁red▁circle)")
    args = ap.parse_args()
    check_pins()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # Adam's tiny second moments as denormals made steps ~5x slower on CPU
    plan = SMOKE if args.smoke else Plan()
    if args.dit_steps:
        plan = Plan(**{**asdict(plan), "dit_steps": args.dit_steps})
    work = args.work or args.out.with_name(args.out.name + ".work")
    work.mkdir(parents=True, exist_ok=True)
    started = time.time()

    spm.set_random_generator_seed(1234)  # training and subword sampling
    if args.tune_from:
        steps = min(args.tune_steps, 3) if args.smoke else args.tune_steps
        return tune(args, Plan(**{**asdict(plan), "tune_steps": steps, "tune_warmup": min(plan.warmup, 100)}), work)
    bert_tok, t5_tok = build_tokenizers(work)
    check_held_out_vocabulary(bert_tok, t5_tok)
    bert, t5, dit, vae, scheduler = build_models(plan, len(bert_tok.vocab), t5_tok.sp_model.get_piece_size())
    sizes = {name: sum(p.numel() for p in m.parameters()) / 1e6
             for name, m in (("dit", dit), ("vae", vae), ("bert", bert), ("t5", t5))}
    log("models: " + ", ".join(f"{name} {size:.2f}M" for name, size in sizes.items()) + " parameters")
    vae_stats = train_vae(plan, vae, work, args.seed)
    scenes, latents = encode_dataset(plan, vae, work, args.seed)
    vae.register_to_config(scaling_factor=scheduler_scale(latents))
    tokens = TokenCache(bert_tok, t5_tok, np.random.default_rng([args.seed, 4]))
    dit_stats = train_dit(plan, (bert, t5, dit, scheduler), tokens, scenes, latents, work, args.seed)
    decoder_stats = refine_decoder(plan, vae, work, args.seed)
    stats = {
        "command": "python engines/train/train.py " + shlex.join(sys.argv[1:]),
        "versions": PINS, "seed": args.seed, "threads": args.threads, "plan": asdict(plan),
        "dataset": {"scenes": plan.scenes, "pair_fraction": shapes.PAIR_FRACTION,
                    "phrasings": {"en": len(shapes.TRAIN_EN), "zh": len(shapes.TRAIN_ZH)}},
        "vae": vae_stats, "decoder": decoder_stats, "dit": dit_stats, "wall_seconds": round(time.time() - started),
    }
    write_pipeline(args.out, (bert_tok, t5_tok, bert, t5, dit, vae, scheduler), stats)
    smoke_check(args.out)
    log(f"done in {time.time() - started:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
