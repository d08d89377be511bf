"""Writes two tiny, randomly weighted HunyuanDiT pipelines in the exact diffusers folder layout.

tests/golden/data/tiny/tiny-v12 (no style / image-meta conditioning, beta_end 0.018) and tiny-v11
(style + meta, beta_end 0.03). Every tensor is perturbed away from its initialisation with seeded noise so
that mis-wired graphs cannot pass.
Run: $(bash tests/golden/ref_venv.sh) tests/golden/gen_tiny_checkpoint.py   (deterministic; about 5 s on CPU)
"""
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path

import diffusers
import sentencepiece as spm
import torch
import transformers
from diffusers import AutoencoderKL, DDPMScheduler, HunyuanDiT2DModel, HunyuanDiTPipeline
from transformers import BertConfig, BertModel, BertTokenizer, T5Config, T5EncoderModel, T5Tokenizer

assert torch.__version__.startswith("2.13.0"), torch.__version__
assert diffusers.__version__ == "0.37.1", diffusers.__version__
assert transformers.__version__ == "4.57.6", transformers.__version__
assert spm.__version__ == "0.2.3", spm.__version__

OUT = Path(__file__).resolve().parent / "data" / "tiny"

BERT_HIDDEN = 32
T5_DIM = 48
VARIANTS = {"tiny-v12": {"meta": False, "beta_end": 0.018}, "tiny-v11": {"meta": True, "beta_end": 0.03}}

# Training text for the sentencepiece model and source of the BERT vocabulary (written for this project).
CORPUS_ZH = [
    "一只可爱的猫坐在窗台上，阳光洒在它的毛上。", "夕阳下的长城，油画风格，色彩浓烈。", "穿着汉服的女孩在樱花树下微笑。",
    "赛博朋克风格的城市夜景，霓虹灯闪烁，雨后的街道。", "水墨画：山水之间的小船，远处有山峰和云雾。", "一碗热气腾腾的拉面，高清摄影。",
    "宇航员在月球上骑马，超现实主义。", "古风建筑，雪景，高清，细节丰富。", "熊猫在竹林里吃竹子，可爱，动漫风格。",
    "未来主义的汽车设计图，金属质感。", "错误的眼睛，糟糕的人脸，毁容，糟糕的艺术，变形，多余的肢体，模糊的颜色，模糊，重复，病态，残缺，",
    "一个老人的肖像，伦勃朗风格，光影对比强烈。", "森林中的狐狸，低多边形，鲜艳的色彩！", "海边的灯塔，黄昏，浪花拍打着岩石。",
    "花鸟画，牡丹与蝴蝶，工笔画。", "城市的天空中飞过一群鸟，写实风格。", "龙与凤凰的传说，中国传统绘画。", "一杯咖啡和一本书，温暖的早晨。",
    "小狗在草地上奔跑，蓝天白云。", "雪山脚下的湖泊，倒影清晰，宁静。", "人物，风景，城市，夜晚，光影，色彩，细节，高清，写实，动漫，天空，海洋，森林。",
]
CORPUS_EN = [
    "A cute cat sitting on a windowsill in the morning light.",
    "The Great Wall at sunset, oil painting, vivid colors.",
    "An astronaut riding a horse on the moon, surreal art.",
    "Cyberpunk city at night with neon lights, 8k, ultra-detailed.",
    "A bowl of steaming ramen, studio lighting, food photography.",
    "Portrait of an old man, Rembrandt style, dramatic light.",
    "Low-poly fox in a forest; vibrant colors!",
    "A lighthouse by the sea at dusk, waves crashing on the rocks.",
    "Beautiful mountain river with flowers, realistic, detailed.",
    "Anime style girl with long hair under cherry blossoms.",
    "A dark and moody painting of a city street in the rain.",
    "Photo of a red sports car, futuristic design, metal texture.",
    "Watercolor landscape of a small boat between the mountains.",
    "A cup of coffee and a book on a wooden table, warm light.",
    "A puppy running on the grass under a blue sky with white clouds.",
    "Snowy mountains reflected in a calm lake, 4k wallpaper.",
    "the a of painting photo light dark beautiful city mountain river flower portrait style detailed realistic"
    " anime sky",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG; the quick brown fox jumps over the lazy dog.",
    "Numbers 0 1 2 3 4 5 6 7 8 9 and 1024, 2048, 3.14, 50%, $100, #tag, e-mail@example.com (test).",
]


def write_bert_vocab(path: Path) -> int:
    """Writes a BERT vocab.txt (specials at 0/100-103, ASCII, CJK, English word pieces); returns its size."""
    tokens = ["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]", "<S>", "<T>"]
    ascii_chars = [chr(c) for c in range(33, 127) if not chr(c).isupper()]
    cjk = sorted({ch for line in CORPUS_ZH for ch in line if "\u4e00" <= ch <= "\u9fff"})
    cjk_punct = list("，。！？、；：（）【】《》「」『』…—“”‘’")
    words = sorted({w.strip(".,;!()%$#:").lower() for line in CORPUS_EN for w in line.split()} - {""})
    words = [w for w in words if w.isalpha() and len(w) > 1]
    pieces = [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    pieces += ["##ing", "##ed", "##ly", "##er", "##est", "##tion", "##al", "##ful", "##ness", "##ic", "##ous"]
    for token in ascii_chars + cjk_punct + cjk + words + pieces:
        if token not in tokens:
            tokens.append(token)
    path.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return len(tokens)


def train_spiece(path: Path) -> None:
    """Trains a small unigram sentencepiece model (nmt_nfkc, pad 0, eos 1, unk 2, no bos) on the corpus above."""
    lines = (CORPUS_ZH + CORPUS_EN) * 4
    spm.set_random_generator_seed(1234)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, model_type="unigram", vocab_size=600,
        normalization_rule_name="nmt_nfkc", character_coverage=1.0, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        num_threads=1, shuffle_input_sentence=False, hard_vocab_limit=False, minloglevel=2,
    )
    path.write_bytes(model.getvalue())


def perturb(model: torch.nn.Module, seed: int) -> None:
    """Adds seeded Gaussian noise to every parameter: std 0.02 for matrices/tables, 0.1 for vectors (norms, biases)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            std = 0.1 if p.ndim == 1 else 0.02
            p.add_(torch.randn(p.shape, generator=gen) * std)


def build_transformer(meta: bool) -> HunyuanDiT2DModel:
    """Tiny DiT: 6 layers (skips 1->4 and 0->5, so LIFO order matters), inner 64 = 4 heads x 16, patch 2,
    4 -> 8 channels, non-integer mlp ratio."""
    torch.manual_seed(10)
    model = HunyuanDiT2DModel(
        num_attention_heads=4, attention_head_dim=16, in_channels=4, patch_size=2, activation_fn="gelu-approximate",
        sample_size=8, hidden_size=64, num_layers=6, mlp_ratio=4.3637, learn_sigma=True,
        cross_attention_dim=BERT_HIDDEN, norm_type="layer_norm", cross_attention_dim_t5=T5_DIM,
        pooled_projection_dim=32, text_len=77, text_len_t5=256, use_style_cond_and_image_meta_size=meta,
    )
    perturb(model, 11 if meta else 12)
    return model.eval()


def build_bert(vocab_size: int) -> BertModel:
    """Tiny bilingual-BERT stand-in: 2 layers, hidden 32, 2 heads, exact GELU, absolute positions."""
    torch.manual_seed(20)
    cfg = BertConfig(
        vocab_size=vocab_size, hidden_size=BERT_HIDDEN, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=80, hidden_act="gelu", max_position_embeddings=512, type_vocab_size=2,
        layer_norm_eps=1e-12, pad_token_id=0,
    )
    model = BertModel(cfg)
    perturb(model, 21)
    return model.eval()


def build_t5(vocab_size: int) -> T5EncoderModel:
    """Tiny mT5 encoder: gated-gelu, 2 layers, d_model 48, 3 heads x d_kv 16, d_ff 64, 32 buckets / max distance 128."""
    torch.manual_seed(30)
    cfg = T5Config(
        vocab_size=vocab_size, d_model=T5_DIM, d_kv=16, d_ff=64, num_layers=2, num_heads=3,
        relative_attention_num_buckets=32, relative_attention_max_distance=128, feed_forward_proj="gated-gelu",
        layer_norm_epsilon=1e-6, dropout_rate=0.0, tie_word_embeddings=False, pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0, use_cache=False, is_encoder_decoder=False,
    )
    model = T5EncoderModel(cfg)
    perturb(model, 31)
    return model.eval()


def build_vae() -> AutoencoderKL:
    """Tiny SDXL-style VAE: 4 blocks (factor 8), channels 16/16/32/32, 2 layers per block, 8 groups."""
    torch.manual_seed(40)
    model = AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        block_out_channels=[16, 16, 32, 32], layers_per_block=2, act_fn="silu", latent_channels=4, norm_num_groups=8,
        sample_size=64, scaling_factor=0.13025, force_upcast=False,
    )
    perturb(model, 41)
    return model.eval()


def build_scheduler(beta_end: float) -> DDPMScheduler:
    """HunyuanDiT's DDPM config (scaled_linear from 0.00085, v_prediction, leading + offset 1, fixed_small)."""
    return DDPMScheduler(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=beta_end, beta_schedule="scaled_linear",
        variance_type="fixed_small", clip_sample=False, prediction_type="v_prediction", thresholding=False,
        timestep_spacing="leading", steps_offset=1, rescale_betas_zero_snr=False,
    )


def build_tokenizers(work: Path) -> tuple[BertTokenizer, T5Tokenizer]:
    """Creates the BERT WordPiece tokenizer (length 77) and the mT5 sentencepiece tokenizer (extra_ids 0)."""
    write_bert_vocab(work / "vocab.txt")
    train_spiece(work / "spiece.model")
    bert = BertTokenizer(
        str(work / "vocab.txt"), do_lower_case=True, do_basic_tokenize=True, tokenize_chinese_chars=True,
        strip_accents=None, model_max_length=77,
    )
    t5 = T5Tokenizer(str(work / "spiece.model"), extra_ids=0, legacy=True, model_max_length=256)
    return bert, t5


def check_sane(name: str, tensor: torch.Tensor) -> None:
    """Fails on NaN/Inf or on degenerate/exploding activations; prints the statistics."""
    t = tensor.float()
    assert torch.isfinite(t).all(), f"{name}: non-finite values"
    std, amax = t.std().item(), t.abs().max().item()
    print(f"  {name}: shape {tuple(t.shape)} mean {t.mean().item():+.4f} std {std:.4f} absmax {amax:.4f}")
    assert 1e-3 < std < 50 and amax < 500, f"{name}: activations out of range"


def smoke(folder: Path) -> None:
    """Reloads the saved pipeline and checks every component's activations on a short prompt."""
    pipe = HunyuanDiTPipeline.from_pretrained(folder)
    with torch.no_grad():
        bt = pipe.tokenizer(["一只猫 a cat", ""], padding="max_length", max_length=77, return_tensors="pt")
        check_sane("bert", pipe.text_encoder(bt.input_ids, attention_mask=bt.attention_mask)[0])
        tt = pipe.tokenizer_2(["一只猫 a cat", ""], padding="max_length", max_length=256, return_tensors="pt")
        check_sane("mt5", pipe.text_encoder_2(tt.input_ids, attention_mask=tt.attention_mask)[0])
        latents = pipe(
            "一只猫 a cat", num_inference_steps=4, height=64, width=64, use_resolution_binning=False,
            generator=torch.Generator("cpu").manual_seed(0), output_type="latent",
        ).images
        check_sane("latents", latents)
        check_sane("vae", pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bert_tok, t5_tok = build_tokenizers(Path(tmp))
        text_encoder = build_bert(len(bert_tok.vocab))
        text_encoder_2 = build_t5(t5_tok.sp_model.get_piece_size())
        vae = build_vae()
        for name, spec in VARIANTS.items():
            folder = OUT / name
            if folder.exists():
                shutil.rmtree(folder)
            pipe = HunyuanDiTPipeline(
                vae=vae, text_encoder=text_encoder, tokenizer=bert_tok, transformer=build_transformer(spec["meta"]),
                scheduler=build_scheduler(spec["beta_end"]), safety_checker=None, feature_extractor=None,
                requires_safety_checker=False, text_encoder_2=text_encoder_2, tokenizer_2=t5_tok,
            )
            pipe.save_pretrained(folder, safe_serialization=True)
    for name in VARIANTS:
        folder = OUT / name
        print(name)
        smoke(folder)
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        print(f"  {size / 1e6:.2f} MB")
    index = json.loads((OUT / "tiny-v12" / "model_index.json").read_text())
    print(json.dumps(index))


if __name__ == "__main__":
    sys.exit(main())
