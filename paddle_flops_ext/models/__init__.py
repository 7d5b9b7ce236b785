"""Models with hand-written attention, shipped with the package: the
transformers the ``paddle-flops bench`` zoo adds to the
``paddle.vision.models`` CNNs (ViT, Swin), a LLaMA-style decoder used by
the trace-mode scale benchmark and the zoo, a GPT-2 and a MoE decoder.
Every named model (what ``paddle-flops bench`` and its workloads run) is in
:mod:`.zoo`.

The names are imported on first use (PEP 562), so that importing
:mod:`.zoo` - which ``paddle-flops --help`` does - does not import Paddle.
"""
from __future__ import annotations

from importlib import import_module

_PUBLIC = {"VisionTransformer": "vit", "vit_base_patch16": "vit", "vit_tiny_test": "vit",
           "SwinTransformer": "swin", "swin_tiny": "swin", "swin_tiny_test": "swin"}


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(import_module(f".{_PUBLIC[name]}", __name__), name)
    if name == "llama":
        return import_module(".llama", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["VisionTransformer", "vit_base_patch16", "vit_tiny_test",
           "SwinTransformer", "swin_tiny", "swin_tiny_test", "llama"]
