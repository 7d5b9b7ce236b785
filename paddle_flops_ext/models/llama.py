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

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads or self.n_heads


def param_count(cfg: LlamaConfig) -> int:
    """Analytic parameter count (embedding and lm_head untied unless
    ``tie_embeddings``; q/k/v biases when ``qkv_bias``)."""
    d, hd = cfg.dim, cfg.head_dim
    attn = d * cfg.n_heads * hd * 2 + d * cfg.kv_heads * hd * 2   # wq, wo, wk, wv
    if cfg.qkv_bias:
        attn += cfg.n_heads * hd + 2 * cfg.kv_heads * hd
    mlp = 3 * d * cfg.ffn_dim
    block = attn + mlp + 2 * d                                    # two RMSNorm weights
    return cfg.vocab_size * d * (1 if cfg.tie_embeddings else 2) + cfg.n_layers * block + d


class RMSNorm(nn.Layer):
    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = self.create_parameter([dim], default_initializer=nn.initializer.Constant(1.0))

    def forward(self, x):
        return x * paddle.rsqrt(paddle.mean(x * x, axis=-1, keepdim=True) + self.eps) * self.weight


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


class Attention(nn.Layer):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.n_heads, self.kv_heads, self.head_dim = cfg.n_heads, cfg.kv_heads, cfg.head_dim
        qkv_bias = None if cfg.qkv_bias else False
        self.wq = nn.Linear(cfg.dim, cfg.n_heads * cfg.head_dim, bias_attr=qkv_bias)
        self.wk = nn.Linear(cfg.dim, cfg.kv_heads * cfg.head_dim, bias_attr=qkv_bias)
        self.wv = nn.Linear(cfg.dim, cfg.kv_heads * cfg.head_dim, bias_attr=qkv_bias)
        self.wo = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.dim, bias_attr=False)

    def forward(self, x, cos, sin, past=None):
        """``past``: this layer's ``(k, v)`` cache, each ``[batch, past_len,
        kv_heads, head_dim]``, or None. With a cache the layer returns
        ``(out, (k, v))`` with the new tokens appended."""
        b, s = x.shape[0], x.shape[1]
        q = self.wq(x).reshape([b, s, self.n_heads, self.head_dim])
        k = self.wk(x).reshape([b, s, self.kv_heads, self.head_dim])
        v = self.wv(x).reshape([b, s, self.kv_heads, self.head_dim])
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if past is None:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True, training=self.training)
            return self.wo(out.reshape([b, s, self.n_heads * self.head_dim]))
        past_len = past[0].shape[1]
        if past_len:
            k, v = paddle.concat([past[0], k], axis=1), paddle.concat([past[1], v], axis=1)
        if past_len == 0:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True, training=self.training)
        elif s == 1:   # one new token sees every cached key (Paddle's is_causal is top-left aligned)
            out = F.scaled_dot_product_attention(q, k, v, is_causal=False, training=self.training)
        else:          # a chunk after a cache: causal, bottom-right aligned
            mask = paddle.to_tensor(np.tril(np.ones([s, past_len + s], dtype=bool), k=past_len))
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, training=self.training)
        return self.wo(out.reshape([b, s, self.n_heads * self.head_dim])), (k, v)


class FeedForward(nn.Layer):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.gate = nn.Linear(dim, hidden, bias_attr=False)
        self.up = nn.Linear(dim, hidden, bias_attr=False)
        self.down = nn.Linear(hidden, dim, bias_attr=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


class DecoderBlock(nn.Layer):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.attention_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.attention = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.feed_forward = FeedForward(cfg.dim, cfg.ffn_dim)

    def forward(self, x, cos, sin, past=None):
        if past is None:
            h = x + self.attention(self.attention_norm(x), cos, sin)
            return h + self.feed_forward(self.ffn_norm(h))
        a, cache = self.attention(self.attention_norm(x), cos, sin, past)
        h = x + a
        return h + self.feed_forward(self.ffn_norm(h)), cache


class Llama(nn.Layer):
    """Decoder-only LM: ``forward(tokens[int64, (batch, seq)]) -> logits (batch, seq, vocab)``.

    KV cache (PaddleNLP's protocol): ``forward(tokens, past_key_values=...,
    use_cache=True)`` returns ``(logits, past_key_values)``, one ``(k, v)``
    per layer, each ``[batch, seq_so_far, kv_heads, head_dim]``; the new
    tokens sit at positions ``past_len ...``. ``past_key_values=None`` with
    ``use_cache=True`` starts an empty cache (prefill). The cache is returned,
    never kept on the model.
    """

    block_type = DecoderBlock

    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.LayerList([self.block_type(cfg) for _ in range(cfg.n_layers)])
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        if cfg.tie_embeddings:
            self.lm_head = TiedHead(self.tok_embeddings)
        else:
            self.lm_head = nn.Linear(cfg.dim, cfg.vocab_size, bias_attr=False)
        cos, sin = rotary_tables(cfg.head_dim, cfg.max_seq_len, cfg.rope_theta)
        # small constant tables, not parameters (and not saved)
        self.register_buffer("rope_cos", paddle.to_tensor(cos), persistable=False)
        self.register_buffer("rope_sin", paddle.to_tensor(sin), persistable=False)

    def forward(self, tokens, past_key_values=None, use_cache=False):
        s = tokens.shape[1]
        h = self.tok_embeddings(tokens)
        if past_key_values is None and not use_cache:
            cos, sin = self.rope_cos[:s], self.rope_sin[:s]
            for layer in self.layers:
                h = layer(h, cos, sin)
            return self.lm_head(self.norm(h))
        if past_key_values is None:
            kv_shape = [tokens.shape[0], 0, self.cfg.kv_heads, self.cfg.head_dim]
            past_key_values = [None] * len(self.layers)
        start = 0 if past_key_values[0] is None else past_key_values[0][0].shape[1]
        cos, sin = self.rope_cos[start:start + s], self.rope_sin[start:start + s]
        new_cache = []
        for layer, past in zip(self.layers, past_key_values):
            if past is None:
                empty = paddle.zeros(kv_shape, dtype=h.dtype)
                past = (empty, empty)
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
