"""Transformer blocks whose attention is written inside forward().

Each block is counted exactly against MACs (and, where every piece is an
element-wise op with a documented convention, FLOPs) derived here by hand,
with zero unknown operations (``strict=True``).
"""
import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
import pytest

import paddle_flops_ext as pfe


# --------------------------------------------------------------------------- blocks

class HandAttention(nn.Layer):
    """q/k/v Linears, q @ k^T, scale, softmax, @ v, out Linear."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def split(self, t):
        b, s, _ = t.shape
        return t.reshape([b, s, self.heads, self.head_dim]).transpose([0, 2, 1, 3])

    def forward(self, x):
        b, s, c = x.shape
        q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
        scores = paddle.matmul(q, k.transpose([0, 1, 3, 2])) * (self.head_dim ** -0.5)
        probs = F.softmax(scores, axis=-1)
        ctx = (probs @ v).transpose([0, 2, 1, 3]).reshape([b, s, c])
        return self.out(ctx)


def hand_attention_counts(b, s, heads, head_dim):
    c = heads * head_dim
    linear_macs = 4 * b * s * c * c
    attn_macs = 2 * b * heads * s * s * head_dim          # QK^T and PV
    scores = b * heads * s * s
    macs = linear_macs + attn_macs
    flops = 2 * macs + 4 * b * s * c + scores * (1 + 3)   # bias adds; scale + softmax
    return macs, flops, attn_macs


@pytest.mark.parametrize("b, heads, s, head_dim", [(1, 1, 4, 8), (2, 4, 16, 8), (3, 2, 7, 16), (1, 8, 33, 4)])
def test_hand_written_attention_exact(b, heads, s, head_dim):
    net = HandAttention(heads * head_dim, heads)
    r = pfe.profile(net, [b, s, heads * head_dim], strict=True)
    macs, flops, attn_macs = hand_attention_counts(b, s, heads, head_dim)
    assert r.macs == macs
    assert r.flops == flops
    assert r.paddle_flops == macs            # Linear: MACs only; functional products: MACs only
    assert r.uncounted == []
    root = r.find("")
    assert root.cost.macs == attn_macs       # the products are attributed to the block itself
    assert root.ops["matmul"]["calls"] == 2
    assert root.ops["softmax"]["flops"] == 3 * b * heads * s * s


@pytest.mark.parametrize("s", [8, 12, 32])
def test_attention_products_scale_quadratically(s):
    b, heads, head_dim = 2, 4, 8
    small = pfe.profile(HandAttention(heads * head_dim, heads), [b, s, heads * head_dim])
    big = pfe.profile(HandAttention(heads * head_dim, heads), [b, 2 * s, heads * head_dim])
    attn_small = small.find("").ops["matmul"]["macs"]
    attn_big = big.find("").ops["matmul"]["macs"]
    assert attn_big == 4 * attn_small
    # the projections only double, so the total grows by less than 4x but more than 2x
    lin_small = sum(small.find(n).cost.macs for n in ("q", "k", "v", "out"))
    lin_big = sum(big.find(n).cost.macs for n in ("q", "k", "v", "out"))
    assert lin_big == 2 * lin_small
    assert 2 * small.macs < big.macs < 4 * small.macs


# --------------------------------------------------------------------------- ViT

class ViTBlock(nn.Layer):
    def __init__(self, dim, heads, mlp_ratio=4):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(0.1)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, mlp_ratio * dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(mlp_ratio * dim, dim)

    def attention(self, x):
        b, n, c = x.shape
        hd = c // self.heads
        qkv = self.qkv(x).reshape([b, n, 3, self.heads, hd]).transpose([2, 0, 3, 1, 4])
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose([0, 1, 3, 2])) * hd ** -0.5
        attn = self.drop(F.softmax(attn, axis=-1))
        return self.proj((attn @ v).transpose([0, 2, 1, 3]).reshape([b, n, c]))

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.fc2(self.drop(self.act(self.fc1(self.norm2(x)))))


@pytest.mark.parametrize("b, n, dim, heads", [(1, 17, 32, 4), (2, 10, 48, 3)])
def test_vit_block(b, n, dim, heads):
    r = pfe.profile(ViTBlock(dim, heads), [b, n, dim], strict=True)
    hd = dim // heads
    linear = b * n * (dim * 3 * dim + dim * dim + 2 * dim * 4 * dim)
    attention = 2 * b * heads * n * n * hd
    assert r.macs == linear + attention
    assert r.uncounted == []
    root = r.find("")
    assert root.ops["matmul"]["macs"] == attention
    assert root.ops["add"]["flops"] == 2 * b * n * dim      # the two residual adds
    assert root.cost.paddle_flops == attention            # element-wise work stays out of paddle_flops


# --------------------------------------------------------------------------- Swin

def relative_position_index(ws):
    coords = np.stack(np.meshgrid(np.arange(ws), np.arange(ws), indexing="ij")).reshape(2, -1)
    rel = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0) + (ws - 1)
    return rel[:, :, 0] * (2 * ws - 1) + rel[:, :, 1]


def shifted_window_mask(h, w, ws, shift):
    img = np.zeros((h, w), dtype="float32")
    cnt = 0
    for hs in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
        for wsl in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
            img[hs, wsl] = cnt
            cnt += 1
    win = img.reshape(h // ws, ws, w // ws, ws).transpose(0, 2, 1, 3).reshape(-1, ws * ws)
    mask = win[:, None, :] - win[:, :, None]
    return np.where(mask != 0, -100.0, 0.0).astype("float32")


class WindowAttention(nn.Layer):
    def __init__(self, dim, ws, heads):
        super().__init__()
        self.heads, self.ws = heads, ws
        self.scale = (dim // heads) ** -0.5
        self.bias_table = self.create_parameter([(2 * ws - 1) ** 2, heads])
        self.register_buffer("index", paddle.to_tensor(relative_position_index(ws).reshape(-1), dtype="int64"))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask=None):
        bw, n, c = x.shape
        qkv = self.qkv(x).reshape([bw, n, 3, self.heads, c // self.heads]).transpose([2, 0, 3, 1, 4])
        q, k, v = qkv.unbind(0)
        q = q * self.scale
        attn = q @ k.transpose([0, 1, 3, 2])
        bias = paddle.index_select(self.bias_table, self.index, axis=0)
        bias = bias.reshape([n, n, self.heads]).transpose([2, 0, 1])
        attn = attn + bias.unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.reshape([bw // nw, nw, self.heads, n, n]) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.reshape([-1, self.heads, n, n])
        attn = F.softmax(attn, axis=-1)
        x = (attn @ v).transpose([0, 2, 1, 3]).reshape([bw, n, c])
        return self.proj(x)


class SwinBlock(nn.Layer):
    def __init__(self, dim, res, ws, heads, shift):
        super().__init__()
        self.res, self.ws, self.shift = res, ws, shift
        self.attn = WindowAttention(dim, ws, heads)
        mask = shifted_window_mask(res, res, ws, shift) if shift else None
        self.attn_mask = None if mask is None else paddle.to_tensor(mask)

    def forward(self, x):
        b, l, c = x.shape
        h = w = self.res
        ws = self.ws
        y = x.reshape([b, h, w, c])
        if self.shift:
            y = paddle.roll(y, shifts=(-self.shift, -self.shift), axis=(1, 2))
        y = y.reshape([b, h // ws, ws, w // ws, ws, c]).transpose([0, 1, 3, 2, 4, 5]).reshape([-1, ws * ws, c])
        y = self.attn(y, self.attn_mask)
        y = y.reshape([b, h // ws, w // ws, ws, ws, c]).transpose([0, 1, 3, 2, 4, 5]).reshape([b, h, w, c])
        if self.shift:
            y = paddle.roll(y, shifts=(self.shift, self.shift), axis=(1, 2))
        return x + y.reshape([b, l, c])


@pytest.mark.parametrize("shift", [0, 2])
@pytest.mark.parametrize("b, res, ws, dim, heads", [(1, 8, 4, 16, 2), (2, 12, 4, 24, 3)])
def test_swin_shifted_window_block(b, res, ws, dim, heads, shift):
    if shift >= ws:
        pytest.skip("shift must be smaller than the window")
    r = pfe.profile(SwinBlock(dim, res, ws, heads, shift), [b, res * res, dim], strict=True)
    tokens = b * res * res
    windows = b * (res // ws) ** 2
    n, hd = ws * ws, dim // heads
    attention = 2 * windows * heads * n * n * hd
    linear = tokens * (dim * 3 * dim + dim * dim)
    assert r.macs == linear + attention
    assert r.uncounted == []
    scores = windows * heads * n * n
    adds = scores * (2 if shift else 1)                     # bias add (+ mask add)
    elementwise = windows * heads * n * hd + adds + 3 * scores + tokens * dim   # q*scale, adds, softmax, residual
    linear_bias = tokens * 3 * dim + tokens * dim
    assert r.flops == 2 * (linear + attention) + linear_bias + elementwise
    attn = r.find("attn")
    assert attn.ops["matmul"]["macs"] == attention
    assert "index_select" in attn.zero_ops
    if shift:
        assert r.find("").zero_ops["roll"] == 2


# --------------------------------------------------------------------------- LLaMA

class RMSNorm(nn.Layer):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = self.create_parameter([dim], default_initializer=nn.initializer.Constant(1.0))

    def forward(self, x):
        return x * paddle.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return paddle.concat([-x[..., half:], x[..., :half]], axis=-1)


class LlamaBlock(nn.Layer):
    def __init__(self, dim, heads, kv_heads, hidden):
        super().__init__()
        self.heads, self.kv_heads, self.hd = heads, kv_heads, dim // heads
        self.input_norm = RMSNorm(dim)
        self.q_proj = nn.Linear(dim, heads * self.hd, bias_attr=False)
        self.k_proj = nn.Linear(dim, kv_heads * self.hd, bias_attr=False)
        self.v_proj = nn.Linear(dim, kv_heads * self.hd, bias_attr=False)
        self.o_proj = nn.Linear(heads * self.hd, dim, bias_attr=False)
        self.post_norm = RMSNorm(dim)
        self.gate = nn.Linear(dim, hidden, bias_attr=False)
        self.up = nn.Linear(dim, hidden, bias_attr=False)
        self.down = nn.Linear(hidden, dim, bias_attr=False)
        inv = 1.0 / (10000 ** (np.arange(0, self.hd, 2, dtype="float32") / self.hd))
        self.register_buffer("inv_freq", paddle.to_tensor(inv))

    def rotary(self, s):
        t = paddle.arange(s, dtype="float32")
        freqs = paddle.outer(t, self.inv_freq)
        emb = paddle.concat([freqs, freqs], axis=-1)
        return emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)       # [S, 1, hd]: broadcast over heads

    def forward(self, x):
        b, s, _ = x.shape
        h = self.input_norm(x)
        q = self.q_proj(h).reshape([b, s, self.heads, self.hd])
        k = self.k_proj(h).reshape([b, s, self.kv_heads, self.hd])
        v = self.v_proj(h).reshape([b, s, self.kv_heads, self.hd])
        cos, sin = self.rotary(s)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o_proj(a.reshape([b, s, self.heads * self.hd]))
        h = self.post_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


def llama_counts(b, s, dim, heads, kv_heads, hidden, causal):
    hd = dim // heads
    tokens = b * s
    linear = tokens * (dim * heads * hd + 2 * dim * kv_heads * hd + heads * hd * dim + 3 * dim * hidden)
    entries = s * s if causal == "full" else s * (s + 1) // 2
    attention = b * heads * entries * 2 * hd                      # QK^T and PV over the counted entries
    macs = linear + attention
    n = tokens * dim
    rms = 4 * n + 2 * tokens                                       # pow, mean, *x, *w per element; +eps, rsqrt per row
    rope_tables = s * hd // 2 + 2 * s * hd                         # outer product, cos, sin
    rope = lambda heads_: 7 * tokens * heads_ * hd // 2            # x*cos, -x2 (half), rot*sin, add
    sdpa = b * heads * entries * (1 + 3 + (1 if causal == "full" else 0))
    mlp = tokens * hidden * (4 + 1)                                # silu, gate * up
    residual = 2 * n
    flops = 2 * macs + 2 * rms + rope_tables + rope(heads) + rope(kv_heads) + sdpa + mlp + residual
    return macs, flops, attention


@pytest.mark.parametrize("causal", ["full", "half"])
@pytest.mark.parametrize("b, s, dim, heads, kv_heads, hidden", [(1, 8, 32, 4, 4, 64), (2, 11, 32, 4, 2, 48)])
def test_llama_block(b, s, dim, heads, kv_heads, hidden, causal):
    r = pfe.profile(LlamaBlock(dim, heads, kv_heads, hidden), [b, s, dim], strict=True, causal=causal)
    macs, flops, attention = llama_counts(b, s, dim, heads, kv_heads, hidden, causal)
    assert r.uncounted == []
    assert r.macs == macs
    assert r.flops == flops
    root = r.find("")
    assert root.ops["scaled_dot_product_attention"] == {"calls": 1, "macs": attention,
                                                        "flops": flops_of_sdpa(b, s, heads, dim // heads, causal)}
    assert "matmul" not in root.ops and "softmax" not in root.ops  # SDPA's insides are not counted again
    assert r.find("input_norm").cost.macs == 0


def flops_of_sdpa(b, s, heads, hd, causal):
    entries = s * s if causal == "full" else s * (s + 1) // 2
    return b * heads * entries * (4 * hd + 4 + (1 if causal == "full" else 0))
