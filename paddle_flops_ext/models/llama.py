"""A LLaMA-style decoder-only language model written with plain tensor math.

Token embedding, ``n_layers`` pre-norm decoder blocks, a final RMSNorm and an
untied ``lm_head``. Each block:

* RMSNorm written out: ``x * rsqrt(mean(x*x, -1) + eps) * weight``;
* attention: q/k/v/o ``Linear`` without bias, rotary position embedding
  (cos/sin tables, rotate-half by slicing + concat), optional grouped-query
  attention (``n_kv_heads < n_heads``), ``F.scaled_dot_product_attention``
  with ``is_causal=True`` on Paddle's ``[batch, seq, heads, head_dim]`` layout;
* SiLU-gated MLP: ``down(silu(gate(x)) * up(x))``.

Build the big configurations under ``paddle.LazyGuard()`` to get the layer
tree and parameter shapes without allocating the weights::

    with paddle.LazyGuard():
        model = llama_70b()
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F


@dataclass(frozen=True)
class LlamaConfig:
    vocab_size: int = 32000
    dim: int = 4096
    n_layers: int = 32
    n_heads: int = 32
    n_kv_heads: int | None = None   # None: same as n_heads (no GQA)
    ffn_dim: int = 11008
    max_seq_len: int = 2048
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    qkv_bias: bool = False          # Qwen2: bias on the q/k/v projections
    tie_embeddings: bool = False    # lm_head shares the embedding table
    # --- the structures of newer decoders (defaults: the LLaMA above) ---
    head_size: int | None = None    # per-head size when not dim / n_heads (Qwen3, Gemma-3, GPT-OSS)
    o_bias: bool = False            # bias on the output projection (GPT-OSS)
    qk_norm: bool = False           # RMSNorm over each head's q and k (Qwen3, Gemma-3)
    attn_sinks: bool = False        # one learned logit per head joins every softmax (GPT-OSS)
    windows: tuple | None = None    # per layer: sliding-window length, or None for full attention
    mlp_act: str = "silu"           # gated MLP activation: silu | gelu_tanh (Gemma-3)
    sandwich_norm: bool = False     # norms after attention and around the MLP too (Gemma-3)
    norm_offset: bool = False       # RMSNorm scales by (1 + weight) (Gemma)
    embed_scale: bool = False       # embeddings multiplied by sqrt(dim) (Gemma)
    # multi-head latent attention (DeepSeek-V2/V3): set kv_lora_rank to use it
    q_lora_rank: int | None = None  # None: a full-rank q projection
    kv_lora_rank: int | None = None
    qk_nope_dim: int = 0
    qk_rope_dim: int = 0
    v_head_dim: int = 0

    @property
    def head_dim(self) -> int:
        """Size of each cached key head (MLA: the no-rope and rope parts)."""
        if self.kv_lora_rank:
            return self.qk_nope_dim + self.qk_rope_dim
        return self.head_size or self.dim // self.n_heads

    @property
    def value_dim(self) -> int:
        """Size of each cached value head."""
        return self.v_head_dim if self.kv_lora_rank else self.head_dim

    @property
    def rope_dim(self) -> int:
        return self.qk_rope_dim if self.kv_lora_rank else self.head_dim

    def window(self, layer: int) -> int | None:
        return self.windows[layer] if self.windows else None

    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads or self.n_heads


_NEWER = ("head_size", "o_bias", "qk_norm", "attn_sinks", "windows", "sandwich_norm", "kv_lora_rank")


def param_count(cfg: LlamaConfig) -> int:
    """Analytic parameter count of the plain LLaMA structure (embedding and
    lm_head untied unless ``tie_embeddings``; q/k/v biases when
    ``qkv_bias``). Raises for the newer structures, which it does not cover."""
    newer = [name for name in _NEWER if getattr(cfg, name)]
    if newer:
        raise ValueError(f"param_count covers the plain LLaMA structure; this config sets {', '.join(newer)}")
    d, hd = cfg.dim, cfg.head_dim
    attn = d * cfg.n_heads * hd * 2 + d * cfg.kv_heads * hd * 2   # wq, wo, wk, wv
    if cfg.qkv_bias:
        attn += cfg.n_heads * hd + 2 * cfg.kv_heads * hd
    mlp = 3 * d * cfg.ffn_dim
    block = attn + mlp + 2 * d                                    # two RMSNorm weights
    return cfg.vocab_size * d * (1 if cfg.tie_embeddings else 2) + cfg.n_layers * block + d


class RMSNorm(nn.Layer):
    """``x * rsqrt(mean(x*x) + eps) * weight``; with ``offset`` the scale is
    ``1 + weight`` (Gemma's parameterisation, weight initialised to 0)."""

    def __init__(self, dim: int, eps: float = 1e-5, offset: bool = False):
        super().__init__()
        self.eps, self.offset = eps, offset
        self.weight = self.create_parameter([dim], default_initializer=nn.initializer.Constant(0.0 if offset
                                                                                                else 1.0))

    def forward(self, x):
        scale = 1.0 + self.weight if self.offset else self.weight
        return x * paddle.rsqrt(paddle.mean(x * x, axis=-1, keepdim=True) + self.eps) * scale


def rotary_tables(head_dim: int, max_seq_len: int, theta: float):
    """cos/sin tables of shape [max_seq_len, head_dim] (the half-dim table repeated)."""
    inv = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim))
    angles = np.outer(np.arange(max_seq_len, dtype=np.float64), inv)
    angles = np.concatenate([angles, angles], axis=-1)
    return np.cos(angles).astype("float32"), np.sin(angles).astype("float32")


def rotate_half(x):
    half = x.shape[-1] // 2
    return paddle.concat([-x[..., half:], x[..., :half]], axis=-1)


def apply_rotary(x, cos, sin):
    """x: [batch, seq, heads, head_dim]; cos/sin: [seq, head_dim]."""
    cos = cos.unsqueeze(0).unsqueeze(2)
    sin = sin.unsqueeze(0).unsqueeze(2)
    return x * cos + rotate_half(x) * sin


def attend(q, k, v, past_len: int, training: bool, sinks=None):
    """Causal attention of ``q`` [b, s, h, dq] over ``k`` [b, t, h, dq] and
    ``v`` [b, t, h, dv] (``t = past_len + s``, kv heads repeated by SDPA),
    the new tokens bottom-right aligned. With ``sinks`` ([h], one logit per
    head that joins each softmax and is then dropped, GPT-OSS) the products
    are written out, as eager implementations of sinks compute them."""
    s = q.shape[1]
    if sinks is None:
        if past_len == 0:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, training=training)
        if s == 1:     # one new token sees every cached key (Paddle's is_causal is top-left aligned)
            return F.scaled_dot_product_attention(q, k, v, is_causal=False, training=training)
        mask = paddle.to_tensor(np.tril(np.ones([s, past_len + s], dtype=bool), k=past_len))
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, training=training)
    b, t, h = q.shape[0], k.shape[1], q.shape[2]
    if k.shape[2] != h:    # grouped kv heads, repeated for the written-out product
        k = paddle.repeat_interleave(k, h // k.shape[2], axis=2)
        v = paddle.repeat_interleave(v, h // v.shape[2], axis=2)
    qh, kh, vh = (x.transpose([0, 2, 1, 3]) for x in (q, k, v))
    scores = paddle.matmul(qh, kh, transpose_y=True) * (1.0 / float(np.sqrt(q.shape[-1])))
    # built by operations, not a [s, t] constant: a traced 2k-token model would carry one per layer
    scores = scores + paddle.triu(paddle.full([s, t], float("-inf"), dtype=scores.dtype), diagonal=past_len + 1)
    sink = sinks.reshape([1, h, 1, 1]).expand([b, h, s, 1])
    probs = F.softmax(paddle.concat([scores, sink], axis=-1), axis=-1)[..., :t]
    return paddle.matmul(probs, vh).transpose([0, 2, 1, 3])


def keep_window(k, v, window: int | None):
    """A sliding-window layer keeps its last ``window - 1`` keys and values:
    with the next token's own, a step attends ``window`` keys (as
    PaddleFormers' sliding-window cache keeps them)."""
    if window is None or k.shape[1] < window:
        return k, v
    return k[:, 1 - window:], v[:, 1 - window:]


class Attention(nn.Layer):
    """Grouped-query attention with rotary positions; per the config: q/k/v
    and output biases, per-head q/k RMSNorm, attention sinks, and a sliding
    window (the cache keeps at most ``window - 1`` entries, so a decode step
    attends at most ``window`` keys; a forward over many tokens is counted as
    full causal attention, which is what a masked implementation computes)."""

    def __init__(self, cfg: LlamaConfig, window: int | None = None):
        super().__init__()
        self.n_heads, self.kv_heads, self.head_dim, self.window = cfg.n_heads, cfg.kv_heads, cfg.head_dim, window
        qkv_bias = None if cfg.qkv_bias else False
        self.wq = nn.Linear(cfg.dim, cfg.n_heads * cfg.head_dim, bias_attr=qkv_bias)
        self.wk = nn.Linear(cfg.dim, cfg.kv_heads * cfg.head_dim, bias_attr=qkv_bias)
        self.wv = nn.Linear(cfg.dim, cfg.kv_heads * cfg.head_dim, bias_attr=qkv_bias)
        self.wo = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.dim, bias_attr=None if cfg.o_bias else False)
        if cfg.qk_norm:
            self.q_norm = RMSNorm(cfg.head_dim, cfg.norm_eps, cfg.norm_offset)
            self.k_norm = RMSNorm(cfg.head_dim, cfg.norm_eps, cfg.norm_offset)
        self.sinks = (self.create_parameter([cfg.n_heads], default_initializer=nn.initializer.Constant(0.0))
                      if cfg.attn_sinks else None)

    def forward(self, x, cos, sin, past=None):
        """``past``: this layer's ``(k, v)`` cache, each ``[batch, past_len,
        kv_heads, head_dim]``, or None. With a cache the layer returns
        ``(out, (k, v))`` with the new tokens appended."""
        b, s = x.shape[0], x.shape[1]
        q = self.wq(x).reshape([b, s, self.n_heads, self.head_dim])
        k = self.wk(x).reshape([b, s, self.kv_heads, self.head_dim])
        v = self.wv(x).reshape([b, s, self.kv_heads, self.head_dim])
        if hasattr(self, "q_norm"):
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        return self._finish(q, k, v, past, b, s)

    def _finish(self, q, k, v, past, b, s):
        past_len = 0 if past is None else past[0].shape[1]
        if past_len:
            k, v = paddle.concat([past[0], k], axis=1), paddle.concat([past[1], v], axis=1)
        out = attend(q, k, v, past_len, self.training, self.sinks)
        out = self.wo(out.reshape([b, s, -1]))
        return out if past is None else (out, keep_window(k, v, self.window))


class LatentAttention(Attention):
    """Multi-head latent attention (DeepSeek-V2/V3): q through a low-rank
    ``q_a`` -> RMSNorm -> ``q_b`` (or one full-rank ``wq``); keys and values
    from one compressed latent (``kv_a``: ``kv_lora_rank`` + a shared rope
    key of ``qk_rope_dim``) expanded per head by ``kv_b``; rotary positions
    on the rope parts only. The cache holds per-head keys (no-rope + rope)
    and values, as PaddleFormers keeps them."""

    def __init__(self, cfg: LlamaConfig, window: int | None = None):
        nn.Layer.__init__(self)
        h, self.n_heads, self.kv_heads, self.window, self.sinks = cfg.n_heads, cfg.n_heads, cfg.n_heads, window, None
        self.nope, self.rope, self.v_dim, self.rank = cfg.qk_nope_dim, cfg.qk_rope_dim, cfg.v_head_dim, \
            cfg.kv_lora_rank
        qk = self.nope + self.rope
        if cfg.q_lora_rank:
            self.q_a = nn.Linear(cfg.dim, cfg.q_lora_rank, bias_attr=False)
            self.q_a_norm = RMSNorm(cfg.q_lora_rank, cfg.norm_eps)
            self.q_b = nn.Linear(cfg.q_lora_rank, h * qk, bias_attr=False)
        else:
            self.wq = nn.Linear(cfg.dim, h * qk, bias_attr=False)
        self.kv_a = nn.Linear(cfg.dim, self.rank + self.rope, bias_attr=False)
        self.kv_a_norm = RMSNorm(self.rank, cfg.norm_eps)
        self.kv_b = nn.Linear(self.rank, h * (self.nope + self.v_dim), bias_attr=False)
        self.wo = nn.Linear(h * self.v_dim, cfg.dim, bias_attr=False)

    def forward(self, x, cos, sin, past=None):
        b, s, h = x.shape[0], x.shape[1], self.n_heads
        q = self.q_b(self.q_a_norm(self.q_a(x))) if hasattr(self, "q_a") else self.wq(x)
        q = q.reshape([b, s, h, self.nope + self.rope])
        q_nope, q_rope = q[..., :self.nope], q[..., self.nope:]
        latent = self.kv_a(x)
        kv = self.kv_b(self.kv_a_norm(latent[..., :self.rank])).reshape([b, s, h, self.nope + self.v_dim])
        k_nope, v = kv[..., :self.nope], kv[..., self.nope:]
        k_rope = apply_rotary(latent[..., self.rank:].reshape([b, s, 1, self.rope]), cos, sin)
        q = paddle.concat([q_nope, apply_rotary(q_rope, cos, sin)], axis=-1)
        k = paddle.concat([k_nope, k_rope.expand([b, s, h, self.rope])], axis=-1)
        return self._finish(q, k, v, past, b, s)


_ACTIVATIONS = {"silu": F.silu, "gelu_tanh": lambda x: F.gelu(x, approximate=True)}


class FeedForward(nn.Layer):
    """Gated MLP: ``down(act(gate(x)) * up(x))``."""

    def __init__(self, dim: int, hidden: int, act: str = "silu"):
        super().__init__()
        self.act = _ACTIVATIONS[act]
        self.gate = nn.Linear(dim, hidden, bias_attr=False)
        self.up = nn.Linear(dim, hidden, bias_attr=False)
        self.down = nn.Linear(hidden, dim, bias_attr=False)

    def forward(self, x):
        return self.down(self.act(self.gate(x)) * self.up(x))


class DecoderBlock(nn.Layer):
    """Pre-norm block; with ``sandwich_norm`` the attention and MLP outputs
    are normalised too before the residual add (Gemma-3)."""

    def __init__(self, cfg: LlamaConfig, index: int = 0):
        super().__init__()
        norm = (lambda: RMSNorm(cfg.dim, cfg.norm_eps, cfg.norm_offset))
        self.attention_norm = norm()
        self.attention = (LatentAttention if cfg.kv_lora_rank else Attention)(cfg, cfg.window(index))
        self.ffn_norm = norm()
        self.feed_forward = self.make_feed_forward(cfg, index)
        if cfg.sandwich_norm:
            self.post_attention_norm, self.post_ffn_norm = norm(), norm()

    def make_feed_forward(self, cfg: LlamaConfig, index: int) -> nn.Layer:
        return FeedForward(cfg.dim, cfg.ffn_dim, cfg.mlp_act)

    def forward(self, x, cos, sin, past=None):
        a = self.attention(self.attention_norm(x), cos, sin, past)
        a, cache = (a, None) if past is None else a
        if hasattr(self, "post_attention_norm"):
            a = self.post_attention_norm(a)
        h = x + a
        f = self.feed_forward(self.ffn_norm(h))
        if hasattr(self, "post_ffn_norm"):
            f = self.post_ffn_norm(f)
        return h + f if past is None else (h + f, cache)


class Llama(nn.Layer):
    """Decoder-only LM: ``forward(tokens[int64, (batch, seq)]) -> logits (batch, seq, vocab)``.

    KV cache (PaddleNLP's protocol): ``forward(tokens, past_key_values=...,
    use_cache=True)`` returns ``(logits, past_key_values)``, one ``(k, v)``
    per layer, each ``[batch, entries, kv_heads, head_dim]`` (a sliding-window
    layer keeps at most its window); the new tokens sit at positions
    ``past_len ...``, read from the longest layer's cache (a model whose
    every layer is windowed takes rotary positions from the window: values,
    not counts, would differ). ``past_key_values=None`` with
    ``use_cache=True`` starts an empty cache (prefill). The cache is returned,
    never kept on the model.
    """

    block_type = DecoderBlock

    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.LayerList([self.block_type(cfg, i) for i in range(cfg.n_layers)])
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps, cfg.norm_offset)
        if cfg.tie_embeddings:
            self.lm_head = TiedHead(self.tok_embeddings)
        else:
            self.lm_head = nn.Linear(cfg.dim, cfg.vocab_size, bias_attr=False)
        cos, sin = rotary_tables(cfg.rope_dim, cfg.max_seq_len, cfg.rope_theta)
        # small constant tables, not parameters (and not saved)
        self.register_buffer("rope_cos", paddle.to_tensor(cos), persistable=False)
        self.register_buffer("rope_sin", paddle.to_tensor(sin), persistable=False)

    def forward(self, tokens, past_key_values=None, use_cache=False):
        s = tokens.shape[1]
        h = self.tok_embeddings(tokens)
        if self.cfg.embed_scale:
            h = h * float(np.sqrt(self.cfg.dim))
        if past_key_values is None and not use_cache:
            cos, sin = self.rope_cos[:s], self.rope_sin[:s]
            for layer in self.layers:
                h = layer(h, cos, sin)
            return self.lm_head(self.norm(h))
        if past_key_values is None:
            empty = paddle.zeros([tokens.shape[0], 0, self.cfg.kv_heads, self.cfg.head_dim], dtype=h.dtype)
            empty_v = paddle.zeros([tokens.shape[0], 0, self.cfg.kv_heads, self.cfg.value_dim], dtype=h.dtype)
            past_key_values = [(empty, empty_v)] * len(self.layers)
        start = max(int(past[0].shape[1]) for past in past_key_values)
        cos, sin = self.rope_cos[start:start + s], self.rope_sin[start:start + s]
        new_cache = []
        for layer, past in zip(self.layers, past_key_values):
            h, cache = layer(h, cos, sin, past)
            new_cache.append(cache)
        logits = self.lm_head(self.norm(h))
        return (logits, tuple(new_cache)) if use_cache else logits


class TiedHead(nn.Layer):
    """``lm_head`` sharing the embedding table (``tie_word_embeddings``):
    ``x @ E^T``; the table is counted once, on the embedding."""

    def __init__(self, embedding: nn.Embedding):
        super().__init__()
        self._embedding = [embedding]   # a list: not registered as a sub-layer twice

    def forward(self, x):
        return paddle.matmul(x, self._embedding[0].weight, transpose_y=True)


def llama(cfg: LlamaConfig | None = None, **overrides) -> Llama:
    cfg = cfg or LlamaConfig()
    if overrides:
        cfg = LlamaConfig(**{**cfg.__dict__, **overrides})
    return Llama(cfg)


LLAMA_TINY_TEST = LlamaConfig(vocab_size=64, dim=32, n_layers=2, n_heads=4, n_kv_heads=2,
                              ffn_dim=64, max_seq_len=32)
LLAMA_7B = LlamaConfig(vocab_size=32000, dim=4096, n_layers=32, n_heads=32, ffn_dim=11008,
                       max_seq_len=2048)
LLAMA_70B = LlamaConfig(vocab_size=32000, dim=8192, n_layers=80, n_heads=64, n_kv_heads=8,
                        ffn_dim=28672, max_seq_len=4096)


def llama_tiny_test() -> Llama:
    """2 blocks, dim 32, 4 heads sharing 2 kv heads (GQA): fast enough for tests."""
    return Llama(LLAMA_TINY_TEST)


def llama_7b() -> Llama:
    """LLaMA-7B shape: dim 4096, 32 layers, 32 heads, ffn 11008, vocab 32000 (6.74 B params)."""
    return Llama(LLAMA_7B)


def llama_70b() -> Llama:
    """LLaMA-2-70B shape: dim 8192, 80 layers, 64 heads, 8 kv heads, ffn 28672 (68.98 B params)."""
    return Llama(LLAMA_70B)
