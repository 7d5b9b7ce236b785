"""Models with hand-written attention for the benchmark zoo.

``ZOO`` maps a short name to ``(builder, default input size)``: the
transformer models the embedded ``paddle-flops bench`` zoo adds to the
``paddle.vision.models`` CNNs. The LLaMA-style decoder is added when
``benchmarks/models/llama.py`` is present.
"""
from __future__ import annotations

from .swin import SwinTransformer, swin_tiny, swin_tiny_test
from .vit import VisionTransformer, vit_base_patch16, vit_tiny_test

ZOO = {
    "vit_b16": vit_base_patch16,
    "swin_t": swin_tiny,
}

try:  # written separately; optional
    from . import llama  # noqa: F401
except ImportError:  # pragma: no cover - depends on the checkout
    llama = None

__all__ = ["VisionTransformer", "vit_base_patch16", "vit_tiny_test",
           "SwinTransformer", "swin_tiny", "swin_tiny_test", "ZOO", "llama"]
