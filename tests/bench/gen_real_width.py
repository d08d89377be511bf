"""Writes a "real-width slice" of HunyuanDiT v1.2 for the memory and speed benchmarks: every network at
the real model's widths (DiT hidden 1408 = 16 heads x 88, text widths 1024 / 2048, the SDXL VAE decoder at
128/256/512/512 channels) but few layers, random weights, the tiny-v12 tokenizers and scheduler.
Peak memory per image size depends on widths and token counts, not on depth, so its curve is the real
model's minus the weights of the missing layers.

Run: $(bash tests/golden/ref_venv.sh) tests/bench/gen_real_width.py OUT_DIR [DIT_LAYERS]   (about 20 s)
"""
import sys
from pathlib import Path

import torch
from diffusers import AutoencoderKL, HunyuanDiT2DModel, HunyuanDiTPipeline
from transformers import BertConfig, BertModel, T5Config, T5EncoderModel

TINY = Path(__file__).resolve().parent.parent / "golden" / "data" / "tiny" / "tiny-v12"


def main() -> None:
    out = Path(sys.argv[1])
    layers = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    torch.manual_seed(0)
    tiny = HunyuanDiTPipeline.from_pretrained(TINY)
    transformer = HunyuanDiT2DModel(
        num_attention_heads=16, attention_head_dim=88, in_channels=4, patch_size=2,
        activation_fn="gelu-approximate", sample_size=128, hidden_size=1408, num_layers=layers,
        mlp_ratio=4.3637, learn_sigma=True, cross_attention_dim=1024, norm_type="layer_norm",
        cross_attention_dim_t5=2048, pooled_projection_dim=1024, text_len=77, text_len_t5=256,
        use_style_cond_and_image_meta_size=False,
    ).eval()
    bert = BertModel(BertConfig(
        vocab_size=len(tiny.tokenizer.vocab), hidden_size=1024, num_hidden_layers=1, num_attention_heads=16,
        intermediate_size=4096, hidden_act="gelu", max_position_embeddings=512, type_vocab_size=2,
        layer_norm_eps=1e-12, pad_token_id=0,
    )).eval()
    t5 = T5EncoderModel(T5Config(
        vocab_size=tiny.tokenizer_2.sp_model.get_piece_size(), d_model=2048, d_kv=64, d_ff=5120, num_layers=1,
        num_heads=32, relative_attention_num_buckets=32, relative_attention_max_distance=128,
        feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-6, dropout_rate=0.0, tie_word_embeddings=False,
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, use_cache=False, is_encoder_decoder=False,
    )).eval()
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4, block_out_channels=[128, 256, 512, 512], layers_per_block=2,
        act_fn="silu", latent_channels=4, norm_num_groups=32, sample_size=1024, scaling_factor=0.13025,
        force_upcast=False,
    ).eval()
    pipe = HunyuanDiTPipeline(
        vae=vae, text_encoder=bert, tokenizer=tiny.tokenizer, transformer=transformer, scheduler=tiny.scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False, text_encoder_2=t5,
        tokenizer_2=tiny.tokenizer_2,
    )
    pipe.save_pretrained(out, safe_serialization=True)
    print(out)


if __name__ == "__main__":
    main()
