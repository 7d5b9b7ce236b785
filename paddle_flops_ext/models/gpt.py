"""A GPT-2-shaped decoder with hand-written attention: pre-LayerNorm blocks
(QKV and output projections, causal softmax attention, a 4x GELU MLP),
learned positions, and a head tied to the token embedding or its own Linear.

``gpt2_small()`` has GPT-2 small's shape (12 layers, 768 wide, 12 heads,
50,257 tokens, 1,024 positions, tied head); the training benchmark and the
training tests build it at other sizes.
"""
from __future__ import annotations

import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


class Block(nn.Layer):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.fc, self.out = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)

    def forward(self, x):
        b, s, e = x.shape
        d = e // self.heads
        q, k, v = self.qkv(self.ln1(x)).reshape([b, s, 3, self.heads, d]).transpose([2, 0, 3, 1, 4]).unbind(0)
        mask = paddle.triu(paddle.full([s, s], -1e4), 1)
        p = F.softmax(q @ k.transpose([0, 1, 3, 2]) / math.sqrt(d) + mask, axis=-1)
        x = x + self.proj((p @ v).transpose([0, 2, 1, 3]).reshape([b, s, e]))
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate=True))


class GPT(nn.Layer):
    def __init__(self, vocab: int = 50257, ctx: int = 1024, dim: int = 768, heads: int = 12, layers: int = 12,
                 tied_head: bool = True):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, dim), nn.Embedding(ctx, dim)
        self.blocks = nn.LayerList([Block(dim, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(dim)
        self.head = None if tied_head else nn.Linear(dim, vocab, bias_attr=False)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(paddle.arange(ids.shape[1]))
        for blk in self.blocks:
            x = blk(x)
        x = self.ln_f(x)
        return paddle.matmul(x, self.wte.weight, transpose_y=True) if self.head is None else self.head(x)


def gpt2_small() -> GPT:
    return GPT()
