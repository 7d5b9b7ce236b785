"""Models with hand-written attention, shipped with the package: the
transformers the ``paddle-flops bench`` zoo adds to the
``paddle.vision.models`` CNNs (ViT, Swin) and a LLaMA-style decoder used by
the trace-mode scale benchmark and the zoo.
"""
from __future__ import annotations

from .swin import SwinTransformer, swin_tiny, swin_tiny_test
from .vit import VisionTransformer, vit_base_patch16, vit_tiny_test

ZOO = {
    "vit_b16": vit_base_patch16,
    "swin_t": swin_tiny,
}

from . import llama

__all__ = ["VisionTransformer", "vit_base_patch16", "vit_tiny_test",
           "SwinTransformer", "swin_tiny", "swin_tiny_test", "ZOO", "llama"]
