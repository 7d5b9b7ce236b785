"""A small mixture-of-experts decoder: the zoo LLaMA with its SwiGLU MLP
replaced by top-k routed SwiGLU experts (Mixtral-style) plus optional
always-on shared experts (DeepSeek / Qwen2-MoE-style).

Each MoE block: ``gate`` (a bias-free ``Linear(dim, n_experts)``), softmax
over the experts, top-k, the k weights renormalised to sum to 1 (Mixtral),
each token's hidden state run through its k experts, the k outputs weighted
and summed; then the shared experts (one SwiGLU of width
``n_shared_experts * shared_ffn_dim``) added.

Routing, and what a counter sees:

* **eager** (the model runs): tokens go to the experts the gate picked; each
  expert is called once on the tokens routed to it, so it is counted at its
  real number of tokens (experts that got none are not called).
* **traced** (``paddle.LazyGuard`` models, ``mode="trace"``: no values exist,
  so no routing): the ``N x k`` token-slots are split over the experts as
  evenly as possible (expected top-k routing under a uniform router,
  ``N k / E`` tokens per expert). The total expert work, ``N k`` token-slots
  x one expert's MACs, is the same for *any* routing (nothing is dropped), so
  the totals are exact; only the split between experts is the expectation.

Both paths run the same operations per token-slot (gather, expert, scatter,
weight, sum over k), so eager and traced counts agree. Outside counting the
traced path is not a real router: use the model eagerly.
"""
from __future__ import annotations

from dataclasses import dataclass

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from . import llama as L


@dataclass(frozen=True)
class MoEConfig(L.LlamaConfig):
    n_experts: int = 8
    top_k: int = 2
    expert_ffn_dim: int | None = None      # None: ffn_dim
    n_shared_experts: int = 0
    shared_ffn_dim: int | None = None      # per shared expert; None: expert_ffn_dim
    norm_topk_prob: bool = True            # renormalise the k weights (Mixtral)

    @property
    def expert_hidden(self) -> int:
        return self.expert_ffn_dim or self.ffn_dim

    @property
    def shared_hidden(self) -> int:
        return self.n_shared_experts * (self.shared_ffn_dim or self.expert_hidden)


def param_count(cfg: MoEConfig) -> tuple[int, int]:
    """Analytic ``(total, active)`` parameters: active = everything but the
    ``n_experts - top_k`` routed experts a token does not use."""
    d, hd = cfg.dim, cfg.head_dim
    attn = d * cfg.n_heads * hd * 2 + d * cfg.kv_heads * hd * 2
    if cfg.qkv_bias:
        attn += cfg.n_heads * hd + 2 * cfg.kv_heads * hd
    expert = 3 * d * cfg.expert_hidden
    shared = 3 * d * cfg.shared_hidden
    gate = d * cfg.n_experts
    common = attn + shared + gate + 2 * d
    outer = cfg.vocab_size * d * (1 if cfg.tie_embeddings else 2) + d
    total = outer + cfg.n_layers * (common + cfg.n_experts * expert)
    active = outer + cfg.n_layers * (common + cfg.top_k * expert)
    return total, active


class MoEFeedForward(nn.Layer):
    def __init__(self, cfg: MoEConfig):
        super().__init__()
        self.n_experts, self.top_k, self.norm_topk_prob = cfg.n_experts, cfg.top_k, cfg.norm_topk_prob
        self.gate = nn.Linear(cfg.dim, cfg.n_experts, bias_attr=False)
        self.experts = nn.LayerList([L.FeedForward(cfg.dim, cfg.expert_hidden) for _ in range(cfg.n_experts)])
        self.shared_experts = L.FeedForward(cfg.dim, cfg.shared_hidden) if cfg.n_shared_experts else None

    def forward(self, x):
        shape = x.shape
        d = shape[-1]
        x2 = x.reshape([-1, d])
        n, k = x2.shape[0], self.top_k
        probs = F.softmax(self.gate(x2), axis=-1)
        weights, chosen = paddle.topk(probs, k, axis=-1)              # [n, k]
        if self.norm_topk_prob:
            weights = weights / weights.sum(axis=-1, keepdim=True)
        slots = paddle.zeros([n * k, d], dtype=x2.dtype)              # one row per (token, choice)
        if paddle.in_dynamic_mode():
            flat = chosen.reshape([-1])
            for e, expert in enumerate(self.experts):
                slot_idx = paddle.nonzero(flat == e).reshape([-1])
                if slot_idx.shape[0] == 0:
                    continue
                rows = paddle.gather(x2, slot_idx // k)
                slots = paddle.scatter(slots, slot_idx, expert(rows))
        else:   # traced: expected routing, n*k slots split evenly over the experts (see module doc)
            total, start = n * k, 0
            for e, expert in enumerate(self.experts):
                size = total // self.n_experts + (1 if e < total % self.n_experts else 0)
                if size == 0:
                    continue
                slot_idx = paddle.arange(start, start + size, dtype="int64")
                rows = paddle.gather(x2, slot_idx // k)
                slots = paddle.scatter(slots, slot_idx, expert(rows))
                start += size
        out = (slots.reshape([n, k, d]) * weights.unsqueeze(-1)).sum(axis=1)
        if self.shared_experts is not None:
            out = out + self.shared_experts(x2)
        return out.reshape(shape)


class MoEDecoderBlock(L.DecoderBlock):
    def __init__(self, cfg: MoEConfig):
        super().__init__(cfg)
        self.feed_forward = MoEFeedForward(cfg)


class MoELlama(L.Llama):
    """The zoo LLaMA with MoE blocks; same forward and KV-cache protocol."""

    block_type = MoEDecoderBlock


MOE_TINY_TEST = MoEConfig(vocab_size=64, dim=32, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=48,
                          max_seq_len=64, n_experts=4, top_k=2, n_shared_experts=1, shared_ffn_dim=16)
MIXTRAL_8X7B = MoEConfig(vocab_size=32000, dim=4096, n_layers=32, n_heads=32, n_kv_heads=8, ffn_dim=14336,
                         max_seq_len=4096, rope_theta=1e6, n_experts=8, top_k=2)


def moe_tiny_test() -> MoELlama:
    """2 blocks, dim 32, 4 experts (top-2) + 1 shared expert, GQA: fast enough for tests."""
    return MoELlama(MOE_TINY_TEST)


def mixtral_8x7b() -> MoELlama:
    """Mixtral-8x7B shape (46.7 B parameters, 12.9 B active); build under ``paddle.LazyGuard()``."""
    return MoELlama(MIXTRAL_8X7B)
