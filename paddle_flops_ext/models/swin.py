"""Swin Transformer with hand-written window attention.

Each window attention is spelled out: one qkv ``Linear``, ``q @ k^T`` times
the scale, plus a relative-position bias gathered from a learned table by a
precomputed index, plus (in shifted blocks) an attention mask that keeps
tokens from attending across the seams that ``paddle.roll`` creates, then
softmax and ``@ v``.

Configurations:
- ``swin_tiny(num_classes=1000)``: Swin-T (patch 4, width 96, depths
  2-2-6-2, heads 3-6-12-24, window 7) on 224x224 images.
- ``swin_tiny_test()``: 32x32 input, patch 4, width 16, depths 2-2,
  heads 2-4, window 4 (stage 1 has 2x2 windows and a real shift; stage 2 is
  a single window, so its shift is switched off as in the original design).
"""
from __future__ import annotations

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from .vit import Mlp  # the same GELU MLP as the ViT


def window_partition(x, ws):
    """[B, H, W, C] -> [B * nW, ws*ws, C]."""
    _, h, w, c = x.shape
    x = x.reshape([-1, h // ws, ws, w // ws, ws, c])
    return x.transpose([0, 1, 3, 2, 4, 5]).reshape([-1, ws * ws, c])


def window_reverse(windows, ws, h, w):
    """[B * nW, ws*ws, C] -> [B, H, W, C]."""
    c = windows.shape[-1]
    x = windows.reshape([-1, h // ws, w // ws, ws, ws, c])
    return x.transpose([0, 1, 3, 2, 4, 5]).reshape([-1, h, w, c])


def relative_position_index(ws: int) -> np.ndarray:
    """[ws*ws, ws*ws] index into a ((2ws-1)^2)-row bias table."""
    coords = np.stack(np.meshgrid(np.arange(ws), np.arange(ws), indexing="ij")).reshape(2, -1)
    rel = coords[:, :, None] - coords[:, None, :]          # [2, N, N]
    rel = rel.transpose(1, 2, 0) + (ws - 1)                 # shift to >= 0
    return (rel[:, :, 0] * (2 * ws - 1) + rel[:, :, 1]).astype("int64")


def shift_mask(h: int, w: int, ws: int, shift: int) -> np.ndarray:
    """[nW, N, N] additive mask: 0 within a region, -100 across regions."""
    img = np.zeros((h, w), dtype="float32")
    label = 0
    bounds = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
    for hs in bounds:
        for wsl in bounds:
            img[hs, wsl] = label
            label += 1
    win = img.reshape(h // ws, ws, w // ws, ws).transpose(0, 2, 1, 3).reshape(-1, ws * ws)
    diff = win[:, None, :] - win[:, :, None]
    return np.where(diff != 0, -100.0, 0.0).astype("float32")


class WindowAttention(nn.Layer):
    def __init__(self, dim, window_size, num_heads, qkv_bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.window_size = window_size
        self.relative_position_bias_table = self.create_parameter(
            [(2 * window_size - 1) ** 2, num_heads],
            default_initializer=nn.initializer.TruncatedNormal(std=0.02))
        self.register_buffer("relative_position_index",
                             paddle.to_tensor(relative_position_index(window_size).reshape(-1)))
        self.qkv = nn.Linear(dim, 3 * dim, bias_attr=None if qkv_bias else False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask=None):
        bw, n, c = x.shape                                 # bw = batch * windows
        qkv = self.qkv(x).reshape([-1, n, 3, self.num_heads, self.head_dim])
        qkv = qkv.transpose([2, 0, 3, 1, 4])               # [3, bw, heads, N, d]
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose([0, 1, 3, 2])) * self.scale
        bias = paddle.gather(self.relative_position_bias_table, self.relative_position_index)
        bias = bias.reshape([n, n, self.num_heads]).transpose([2, 0, 1])
        attn = attn + bias.unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.reshape([-1, nw, self.num_heads, n, n]) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.reshape([-1, self.num_heads, n, n])
        attn = F.softmax(attn, axis=-1)
        out = (attn @ v).transpose([0, 2, 1, 3]).reshape([-1, n, c])
        return self.proj(out)


class SwinBlock(nn.Layer):
    def __init__(self, dim, resolution, num_heads, window_size=7, shift=0, mlp_ratio=4.0):
        super().__init__()
        self.h, self.w = resolution
        if min(resolution) <= window_size:               # one window: no shift
            window_size, shift = min(resolution), 0
        self.window_size, self.shift = window_size, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        if shift > 0:
            self.register_buffer("attn_mask", paddle.to_tensor(shift_mask(self.h, self.w, window_size, shift)))
        else:
            self.attn_mask = None

    def forward(self, x):
        c = x.shape[-1]
        shortcut = x
        x = self.norm1(x).reshape([-1, self.h, self.w, c])
        if self.shift:
            x = paddle.roll(x, shifts=(-self.shift, -self.shift), axis=(1, 2))
        win = self.attn(window_partition(x, self.window_size), self.attn_mask)
        x = window_reverse(win, self.window_size, self.h, self.w)
        if self.shift:
            x = paddle.roll(x, shifts=(self.shift, self.shift), axis=(1, 2))
        x = shortcut + x.reshape([-1, self.h * self.w, c])
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Layer):
    """2x2 neighbouring tokens -> one token: concat (4C), LayerNorm, Linear to 2C."""

    def __init__(self, dim, resolution):
        super().__init__()
        self.h, self.w = resolution
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias_attr=False)

    def forward(self, x):
        c = x.shape[-1]
        x = x.reshape([-1, self.h, self.w, c])
        x = paddle.concat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], axis=-1)
        x = x.reshape([-1, (self.h // 2) * (self.w // 2), 4 * c])
        return self.reduction(self.norm(x))


class Stage(nn.Layer):
    def __init__(self, dim, resolution, depth, num_heads, window_size, downsample):
        super().__init__()
        self.blocks = nn.LayerList([
            SwinBlock(dim, resolution, num_heads, window_size,
                      shift=0 if i % 2 == 0 else window_size // 2)
            for i in range(depth)])
        self.downsample = PatchMerging(dim, resolution) if downsample else None

    def forward(self, x):
        for blk in self.blocks:
            x = blk(x)
        return self.downsample(x) if self.downsample is not None else x


class SwinTransformer(nn.Layer):
    def __init__(self, img_size=224, patch_size=4, in_chans=3, num_classes=1000, embed_dim=96,
                 depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), window_size=7):
        super().__init__()
        self.img_size = img_size
        self.patch_embed = nn.Conv2D(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.patch_norm = nn.LayerNorm(embed_dim)
        res = img_size // patch_size
        stages = []
        dim = embed_dim
        for i, (d, h) in enumerate(zip(depths, num_heads)):
            last = i == len(depths) - 1
            stages.append(Stage(dim, (res, res), d, h, window_size, downsample=not last))
            if not last:
                dim, res = dim * 2, res // 2
        self.stages = nn.LayerList(stages)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose([0, 2, 1])   # [B, L, C]
        x = self.patch_norm(x)
        for stage in self.stages:
            x = stage(x)
        x = self.norm(x).mean(axis=1)
        return self.head(x)


def swin_tiny(num_classes=1000, img_size=224):
    """Swin-T: width 96, depths 2-2-6-2, heads 3-6-12-24, window 7 (about 28.3 M parameters)."""
    return SwinTransformer(img_size=img_size, num_classes=num_classes)


def swin_tiny_test(num_classes=10):
    """32x32 input, patch 4 -> 8x8 tokens, window 4, width 16, depths 2-2."""
    return SwinTransformer(img_size=32, patch_size=4, num_classes=num_classes, embed_dim=16,
                           depths=(2, 2), num_heads=(2, 4), window_size=4)
