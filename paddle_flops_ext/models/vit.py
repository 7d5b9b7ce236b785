"""Vision Transformer (ViT) with hand-written attention.

The attention is spelled out (one qkv ``Linear``, ``q @ k^T``, scale, softmax,
``@ v``) rather than calling ``nn.MultiHeadAttention`` or
``F.scaled_dot_product_attention``, so a profiler has to count the matmuls
and the softmax as the operations they are.

Configurations:
- ``vit_base_patch16(num_classes=1000)``: ViT-B/16 (12 blocks, width 768,
  12 heads, MLP 3072) on 224x224 images -> 197 tokens.
- ``vit_tiny_test()``: 2 blocks, width 32, 2 heads, 32x32 images, patch 8,
  10 classes; for fast tests.
"""
from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


class PatchEmbed(nn.Layer):
    """Non-overlapping patches -> tokens with one strided Conv2D."""

    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768):
        super().__init__()
        self.grid = img_size // patch_size
        self.num_patches = self.grid * self.grid
        self.proj = nn.Conv2D(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):
        x = self.proj(x)                              # [B, C, H/p, W/p]
        return x.flatten(2).transpose([0, 2, 1])      # [B, N, C]


class Attention(nn.Layer):
    def __init__(self, dim, num_heads, qkv_bias=True):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias_attr=None if qkv_bias else False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape([b, n, 3, self.num_heads, self.head_dim])
        qkv = qkv.transpose([2, 0, 3, 1, 4])          # [3, B, heads, N, d]
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose([0, 1, 3, 2])) * self.scale
        attn = F.softmax(attn, axis=-1)
        out = (attn @ v).transpose([0, 2, 1, 3]).reshape([b, n, c])
        return self.proj(out)


class Mlp(nn.Layer):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Layer):
    """Pre-norm transformer block: x + attn(norm(x)); x + mlp(norm(x))."""

    def __init__(self, dim, num_heads, mlp_ratio=4.0, qkv_bias=True):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, epsilon=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, epsilon=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Layer):
    def __init__(self, img_size=224, patch_size=16, in_chans=3, num_classes=1000,
                 embed_dim=768, depth=12, num_heads=12, mlp_ratio=4.0, qkv_bias=True):
        super().__init__()
        self.img_size = img_size
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        n = self.patch_embed.num_patches
        self.cls_token = self.create_parameter(
            [1, 1, embed_dim], default_initializer=nn.initializer.TruncatedNormal(std=0.02))
        self.pos_embed = self.create_parameter(
            [1, n + 1, embed_dim], default_initializer=nn.initializer.TruncatedNormal(std=0.02))
        self.blocks = nn.LayerList([Block(embed_dim, num_heads, mlp_ratio, qkv_bias) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, epsilon=1e-6)
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x):
        x = self.patch_embed(x)
        cls = self.cls_token.expand([x.shape[0], -1, -1])
        x = paddle.concat([cls, x], axis=1) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        return self.head(x[:, 0])


def vit_base_patch16(num_classes=1000, img_size=224):
    """ViT-B/16: 12 blocks, width 768, 12 heads (about 86.6 M parameters)."""
    return VisionTransformer(img_size=img_size, patch_size=16, num_classes=num_classes,
                             embed_dim=768, depth=12, num_heads=12)


def vit_tiny_test(num_classes=10):
    """2 blocks, width 32, 2 heads, 32x32 input, patch 8 -> 16 patches + cls."""
    return VisionTransformer(img_size=32, patch_size=8, num_classes=num_classes,
                             embed_dim=32, depth=2, num_heads=2)
