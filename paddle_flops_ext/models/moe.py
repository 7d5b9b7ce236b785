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

Layouts: experts as a ``LayerList`` of SwiGLU MLPs, or stacked as ``[E, ...]``
weights (:class:`StackedExperts`, one batched product per group of experts:
how the config builder keeps every MoE, so a 256-expert model builds and
traces in seconds); MoE on every layer or on ``moe_layers`` only (the rest
dense MLPs); router scoring by softmax, sigmoid (with a per-expert selection
bias, DeepSeek-V3 / ERNIE-4.5) or softmax over the top-k logits (GPT-OSS);
optional router and expert biases, and a gated shared expert (Qwen2-MoE).
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
    # --- newer layouts (defaults: Mixtral) ---
    moe_layers: tuple | None = None        # indices of the MoE layers; None: every layer (others: dense MLP)
    stacked: bool = False                  # experts as [E, ...] weights, run as batched products
    scoring: str = "softmax"               # softmax | sigmoid (DeepSeek-V3) | topk_softmax (GPT-OSS: top-k logits)
    score_bias: bool = False               # a per-expert selection bias (DeepSeek-V3, ERNIE-4.5 aux-free)
    router_bias: bool = False              # bias on the router (GPT-OSS)
    expert_bias: bool = False              # biases in the experts (GPT-OSS)
    expert_act: str = "silu"               # silu | clamped_swiglu (GPT-OSS)
    shared_expert_gate: bool = False       # a sigmoid gate on the shared expert's output (Qwen2-MoE)

    @property
    def expert_hidden(self) -> int:
        return self.expert_ffn_dim or self.ffn_dim

    @property
    def shared_hidden(self) -> int:
        return self.n_shared_experts * (self.shared_ffn_dim or self.expert_hidden)

    def is_moe(self, layer: int) -> bool:
        return self.moe_layers is None or layer in self.moe_layers


_NEWER_MOE = ("moe_layers", "score_bias", "router_bias", "expert_bias", "shared_expert_gate")


def param_count(cfg: MoEConfig) -> tuple[int, int]:
    """Analytic ``(total, active)`` parameters of the Mixtral layout (every
    layer MoE, plain attention): active = everything but the
    ``n_experts - top_k`` routed experts a token does not use. Raises for
    the newer layouts, which it does not cover."""
    newer = [name for name in L._NEWER + _NEWER_MOE if getattr(cfg, name)]
    if newer:
        raise ValueError(f"param_count covers the Mixtral layout; this config sets {', '.join(newer)}")
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


def _clamped_swiglu(gate, up, limit: float = 7.0, alpha: float = 1.702):
    """GPT-OSS's expert activation: clamped gate and up, ``(up + 1) * gate * sigmoid(alpha gate)``."""
    gate = paddle.clip(gate, max=limit)
    up = paddle.clip(up, min=-limit, max=limit)
    return (up + 1.0) * (gate * F.sigmoid(gate * alpha))


class StackedExperts(nn.Layer):
    """Routed experts kept as stacked weights, one ``[E, ...]`` tensor per
    projection (GPT-OSS's layout; also how the config builder keeps every
    MoE so that a 256-expert, 61-layer model builds and traces in seconds):
    ``gate_up`` [E, dim, 2 hidden], ``down`` [E, hidden, dim], biases
    [E, 2 hidden] and [E, dim] when ``expert_bias``.

    ``forward(rows, groups)``: ``rows`` [slots, dim] sorted by expert,
    ``groups`` a list of ``(first_expert, n_experts, tokens_each)``; each
    group runs as one batched product over its experts' weights. Per
    token-slot the work is one expert's: ``3 dim hidden`` MACs."""

    def __init__(self, cfg: MoEConfig):
        super().__init__()
        e, d, f = cfg.n_experts, cfg.dim, cfg.expert_hidden
        self.hidden, self.act = f, cfg.expert_act
        self.gate_up = self.create_parameter([e, d, 2 * f])
        self.down = self.create_parameter([e, f, d])
        if cfg.expert_bias:
            self.gate_up_bias = self.create_parameter([e, 2 * f], is_bias=True)
            self.down_bias = self.create_parameter([e, d], is_bias=True)

    def forward(self, rows, groups):
        outs, start = [], 0
        for first, n, each in groups:
            x = rows[start:start + n * each].reshape([n, each, rows.shape[-1]])
            start += n * each
            h = paddle.bmm(x, self.gate_up[first:first + n])
            if hasattr(self, "gate_up_bias"):
                h = h + self.gate_up_bias[first:first + n].unsqueeze(1)
            gate, up = h[..., :self.hidden], h[..., self.hidden:]
            h = _clamped_swiglu(gate, up) if self.act == "clamped_swiglu" else F.silu(gate) * up
            y = paddle.bmm(h, self.down[first:first + n])
            if hasattr(self, "down_bias"):
                y = y + self.down_bias[first:first + n].unsqueeze(1)
            outs.append(y.reshape([n * each, y.shape[-1]]))
        return outs[0] if len(outs) == 1 else paddle.concat(outs, axis=0)


def expected_groups(slots: int, experts: int) -> list[tuple[int, int, int]]:
    """Expected top-k routing under a uniform router: ``slots`` token-slots
    split over ``experts`` as evenly as possible, as ``(first_expert,
    n_experts, tokens_each)`` groups (at most two)."""
    each, extra = divmod(slots, experts)
    groups = [(0, extra, each + 1)] if extra else []
    if each:
        groups.append((extra, experts - extra, each))
    return groups


class MoEFeedForward(nn.Layer):
    def __init__(self, cfg: MoEConfig):
        super().__init__()
        self.n_experts, self.top_k, self.norm_topk_prob = cfg.n_experts, cfg.top_k, cfg.norm_topk_prob
        self.scoring = cfg.scoring
        self.gate = nn.Linear(cfg.dim, cfg.n_experts, bias_attr=None if cfg.router_bias else False)
        if cfg.score_bias:
            self.score_bias = self.create_parameter([cfg.n_experts], is_bias=True)
        if cfg.stacked:
            self.experts = StackedExperts(cfg)
        else:
            self.experts = nn.LayerList([L.FeedForward(cfg.dim, cfg.expert_hidden, cfg.expert_act)
                                         for _ in range(cfg.n_experts)])
        self.shared_experts = (L.FeedForward(cfg.dim, cfg.shared_hidden, cfg.mlp_act) if cfg.n_shared_experts
                               else None)
        if cfg.shared_expert_gate:
            self.shared_expert_gate = nn.Linear(cfg.dim, 1, bias_attr=False)

    def route(self, x2):
        """``(weights [n, k], chosen [n, k])`` for each token's top-k experts."""
        k = self.top_k
        logits = self.gate(x2)
        if self.scoring == "topk_softmax":          # softmax over the k chosen logits
            top, chosen = paddle.topk(logits, k, axis=-1)
            return F.softmax(top, axis=-1), chosen
        probs = F.sigmoid(logits) if self.scoring == "sigmoid" else F.softmax(logits, axis=-1)
        if hasattr(self, "score_bias"):             # the bias steers selection, not the weights
            _, chosen = paddle.topk(probs + self.score_bias, k, axis=-1)
            weights = paddle.take_along_axis(probs, chosen, axis=-1)
        else:
            weights, chosen = paddle.topk(probs, k, axis=-1)
        if self.norm_topk_prob:
            weights = weights / weights.sum(axis=-1, keepdim=True)
        return weights, chosen

    def forward(self, x):
        shape = x.shape
        d = shape[-1]
        x2 = x.reshape([-1, d])
        n, k = x2.shape[0], self.top_k
        weights, chosen = self.route(x2)
        slots = paddle.zeros([n * k, d], dtype=x2.dtype)              # one row per (token, choice)
        if paddle.in_dynamic_mode():               # as routed: each expert on the tokens that chose it
            flat = chosen.reshape([-1])
            for e in range(self.n_experts):
                slot_idx = paddle.nonzero(flat == e).reshape([-1])
                if slot_idx.shape[0] == 0:
                    continue
                rows = paddle.gather(x2, slot_idx // k)
                out = (self.experts(rows, [(e, 1, rows.shape[0])]) if isinstance(self.experts, StackedExperts)
                       else self.experts[e](rows))
                slots = paddle.scatter(slots, slot_idx, out)
        else:   # traced: expected routing, n*k slots split evenly over the experts (see module doc)
            groups = expected_groups(n * k, self.n_experts)
            if isinstance(self.experts, StackedExperts):
                rows = paddle.gather(x2, paddle.arange(0, n * k, dtype="int64") // k)
                slots = paddle.scatter(slots, paddle.arange(0, n * k, dtype="int64"), self.experts(rows, groups))
            else:
                start = 0
                for first, count, size in groups:
                    for e in range(first, first + count):
                        slot_idx = paddle.arange(start, start + size, dtype="int64")
                        rows = paddle.gather(x2, slot_idx // k)
                        slots = paddle.scatter(slots, slot_idx, self.experts[e](rows))
                        start += size
        out = (slots.reshape([n, k, d]) * weights.unsqueeze(-1)).sum(axis=1)
        if self.shared_experts is not None:
            shared = self.shared_experts(x2)
            if hasattr(self, "shared_expert_gate"):
                shared = F.sigmoid(self.shared_expert_gate(x2)) * shared
            out = out + shared
        return out.reshape(shape)


class MoEDecoderBlock(L.DecoderBlock):
    def make_feed_forward(self, cfg: MoEConfig, index: int) -> nn.Layer:
        return MoEFeedForward(cfg) if cfg.is_moe(index) else super().make_feed_forward(cfg, index)


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
