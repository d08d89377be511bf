"""Exact, cheaper training forward passes for the DiT and its two text encoders.

A caption fills a few of the 77 BERT and 256 T5 positions; the rest is padding. The stock forward
spends most of a training step on that padding. These functions compute the same outputs from the
same modules and weights while skipping work whose result the model never uses:

- BERT: padded keys are masked and padded outputs are replaced by the DiT's learned padding, so BERT
  runs on the longest caption in the batch only.
- T5: every output position still counts (the DiT's attention pooler reads all 256), but padded keys
  are masked, so attention keys and values stop at the longest caption.
- DiT: padded text positions hold the learned `text_embedding_padding`, the same for every sample, so
  their cross-attention keys and values are computed once per step instead of once per sample, and
  the T5 projection runs on real tokens only.

`check()` compares them with the stock forward (outputs and gradients); `train.py` runs it before the
DiT stage, so a diffusers or transformers change that breaks the equivalence stops the run.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

Tokens = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def bert_states(bert, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """BERT outputs [B, R, d] for the first R = longest-caption positions (the others are never used)."""
    r = int(mask.sum(1).max())
    return bert(ids[:, :r], attention_mask=mask[:, :r])[0]


def t5_states(t5, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """T5 encoder outputs [B, L, d] at every position, as `t5(ids, attention_mask=mask)[0]`, with attention
    keys and values cut at the longest caption (every later key is masked)."""
    enc = t5.encoder
    b, length = ids.shape
    r = int(mask.sum(1).max())
    h = enc.embed_tokens(ids)
    first = enc.block[0].layer[0].SelfAttention
    heads, dk = first.n_heads, first.key_value_proj_dim
    bias = first.compute_bias(length, r, device=h.device)
    bias = bias + (1.0 - mask[:, None, None, :r].to(h.dtype)) * torch.finfo(h.dtype).min
    for block in enc.block:
        attention, ff = block.layer[0], block.layer[1]
        a = attention.SelfAttention
        x = attention.layer_norm(h)
        q = a.q(x).view(b, length, heads, dk).transpose(1, 2)
        k = a.k(x[:, :r]).view(b, r, heads, dk).transpose(1, 2)
        v = a.v(x[:, :r]).view(b, r, heads, dk).transpose(1, 2)
        weights = torch.softmax((q @ k.transpose(3, 2) + bias).float(), dim=-1).type_as(q)
        h = h + a.o((weights @ v).transpose(1, 2).reshape(b, length, heads * dk))
        h = h + ff.DenseReluDense(ff.layer_norm(h))
    return enc.final_layer_norm(h)


def _cross_attention(attn, hidden: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor, padding: torch.Tensor,
                     pad_mask: torch.Tensor, rope) -> torch.Tensor:
    """HunyuanDiT's cross-attention over [real text ; shared padding]: `text` [B, R, d] holds each sample's
    real tokens (`text_mask` marks them), `padding` [P, d] every position's padding vector and `pad_mask`
    [B, P] the positions that are padding for that sample. Same result as attending over the P positions
    with the padding substituted in."""
    from diffusers.models.embeddings import apply_rotary_emb

    b, n, _ = hidden.shape
    heads = attn.heads
    q = attn.to_q(hidden)
    dh = q.shape[-1] // heads
    q = apply_rotary_emb(attn.norm_q(q.view(b, n, heads, dh).transpose(1, 2)), rope)
    r, p = text.shape[1], padding.shape[0]
    k = attn.norm_k(attn.to_k(text).view(b, r, heads, dh).transpose(1, 2))
    v = attn.to_v(text).view(b, r, heads, dh).transpose(1, 2)
    kp = attn.norm_k(attn.to_k(padding).view(p, heads, dh).transpose(0, 1))  # [H, P, dh]
    vp = attn.to_v(padding).view(p, heads, dh).transpose(0, 1)
    scale = 1.0 / math.sqrt(dh)
    s_text = (q @ k.transpose(-1, -2)) * scale
    s_pad = torch.einsum("bhnd,hpd->bhnp", q, kp) * scale
    s_text = s_text.masked_fill(~text_mask[:, None, None, :], float("-inf"))
    s_pad = s_pad.masked_fill(~pad_mask[:, None, None, :], float("-inf"))
    w = torch.softmax(torch.cat([s_text, s_pad], dim=-1), dim=-1)
    out = w[..., :r] @ v + torch.einsum("bhnp,hpd->bhnd", w[..., r:], vp)
    return attn.to_out[0](out.transpose(1, 2).reshape(b, n, heads * dh))


def dit_forward(dit, x: torch.Tensor, t: torch.Tensor, bert_out: torch.Tensor, mask: torch.Tensor,
                t5_out: torch.Tensor, mask2: torch.Tensor, rope) -> torch.Tensor:
    """`dit(x, t, ...)[0]` from `bert_states` (truncated) and `t5_states` (full length) with their full-length
    masks, computing padded text positions once per step."""
    r1, r2 = bert_out.shape[1], int(mask2.sum(1).max())
    height, width = x.shape[-2:]
    h = dit.pos_embed(x)
    temb = dit.time_extra_emb(t, t5_out, None, None, hidden_dtype=t.dtype)
    text = torch.cat([bert_out, dit.text_embedder(t5_out[:, :r2])], dim=1)
    text_mask = torch.cat([mask[:, :r1], mask2[:, :r2]], dim=1).bool()
    pad_mask = ~torch.cat([mask, mask2], dim=1).bool()
    padding = dit.text_embedding_padding
    half, skips = dit.config.num_layers // 2, []
    for layer, block in enumerate(dit.blocks):
        if layer > half:
            h = block.skip_linear(block.skip_norm(torch.cat([h, skips.pop()], dim=-1)))
        h = h + block.attn1(block.norm1(h, temb), image_rotary_emb=rope)
        h = h + _cross_attention(block.attn2, block.norm2(h), text, text_mask, padding, pad_mask, rope)
        h = h + block.ff(block.norm3(h))
        if layer < half - 1:
            skips.append(h)
    h = dit.proj_out(dit.norm_out(h, temb.to(torch.float32)))
    ps, c = dit.pos_embed.patch_size, dit.out_channels
    h = h.reshape(h.shape[0], height // ps, width // ps, ps, ps, c)
    return torch.einsum("nhwpqc->nchpwq", h).reshape(h.shape[0], c, height, width)


def predict(dit, bert, t5, x: torch.Tensor, t: torch.Tensor, tokens: Tokens, rope) -> torch.Tensor:
    """The DiT's prediction (the first x.shape[1] output channels) for noisy latents `x` at timesteps `t`."""
    ids, mask, ids2, mask2 = tokens
    out = dit_forward(dit, x, t.float(), bert_states(bert, ids, mask), mask, t5_states(t5, ids2, mask2), mask2, rope)
    return out[:, : x.shape[1]]


def stock_predict(dit, bert, t5, x: torch.Tensor, t: torch.Tensor, tokens: Tokens, rope) -> torch.Tensor:
    """The same prediction through the stock diffusers/transformers forward passes."""
    ids, mask, ids2, mask2 = tokens
    e1 = bert(ids, attention_mask=mask)[0]
    e2 = t5(ids2, attention_mask=mask2)[0]
    out = dit(x, t.float(), encoder_hidden_states=e1, text_embedding_mask=mask, encoder_hidden_states_t5=e2,
              text_embedding_mask_t5=mask2, image_rotary_emb=rope, return_dict=False)[0]
    return out[:, : x.shape[1]]


def check(nets: torch.nn.ModuleList, x: torch.Tensor, t: torch.Tensor, tokens: Tokens, rope,
          tolerance: float = 1e-4) -> float:
    """Runs both forward passes and their gradients on one batch; raises unless every output and gradient
    agrees to `tolerance` (relative to the largest magnitude). Returns the worst relative difference."""
    dit, bert, t5 = nets
    worst = 0.0
    results = []
    for fn in (predict, stock_predict):
        nets.zero_grad(set_to_none=True)
        out = fn(dit, bert, t5, x, t, tokens, rope)
        out.pow(2).mean().backward()
        grads = [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in nets.parameters()]
        results.append((out.detach(), grads))
    nets.zero_grad(set_to_none=True)
    (out_a, grads_a), (out_b, grads_b) = results
    pairs = [("output", out_a, out_b)]
    pairs += [(name, a, b) for (name, _), a, b in zip(nets.named_parameters(), grads_a, grads_b)]
    for name, a, b in pairs:
        diff = (a - b).abs().max().item() / max(b.abs().max().item(), 1e-12)
        if diff > tolerance and b.abs().max().item() > 1e-8:
            raise AssertionError(f"packed forward differs from the stock one at {name}: {diff:.2e}")
        worst = max(worst, diff if b.abs().max().item() > 1e-8 else 0.0)
    return worst
