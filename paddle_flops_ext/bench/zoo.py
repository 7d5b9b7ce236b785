"""Models the benchmark runs: the embedded zoo and ``module:callable`` specs.

The embedded zoo (``paddle-flops bench`` with no ``--models``):

- ``paddle.vision.models`` CNNs, random weights (timing does not depend on
  the weights' values): resnet18, resnet50, mobilenet_v2,
  mobilenet_v3_small, mobilenet_v3_large, shufflenet_v2_x1_0, vgg16;
- transformers with hand-written attention from :mod:`paddle_flops_ext.models`:
  ``vit_b16`` (ViT-B/16) and ``swin_t`` (Swin-T);
- ``llama_small``: the LLaMA-style decoder of ``paddle_flops_ext.models.llama``
  at a small size (8 blocks, width 512, 8 heads / 4 kv heads, FFN 1408,
  vocabulary 32000), fed token ids whose length is the sequence length.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

CNNS = ("resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
        "shufflenet_v2_x1_0", "vgg16")
DEFAULT_ORDER = CNNS + ("vit_b16", "swin_t", "llama_small")


@dataclass
class ZooEntry:
    name: str
    build: Callable[[int], object]            # input size (image side or seq len) -> Layer
    input_kind: str = "image"                 # image | tokens | custom
    source: str = "zoo"
    vocab: int = 0                            # tokens: ids drawn from [0, vocab)
    sample_shape: tuple | None = None         # custom: per-sample shape (no batch dim)
    dtype: str = "float32"
    notes: list = field(default_factory=list)


def _vision(name: str) -> ZooEntry:
    def build(size: int):
        import paddle.vision.models as vm
        return getattr(vm, name)(pretrained=False)
    return ZooEntry(name, build)


def default_zoo() -> tuple[dict[str, ZooEntry], list[str]]:
    """``({name: entry}, notes)`` for the embedded zoo."""
    from .. import models
    zoo = {n: _vision(n) for n in CNNS}
    zoo["vit_b16"] = ZooEntry("vit_b16", lambda s: models.vit_base_patch16(img_size=s))
    zoo["swin_t"] = ZooEntry("swin_t", lambda s: models.swin_tiny(img_size=s))
    zoo["llama_small"] = ZooEntry(
        "llama_small", lambda s: models.llama.llama(vocab_size=32000, dim=512, n_layers=8, n_heads=8,
                                                    n_kv_heads=4, ffn_dim=1408, max_seq_len=max(512, s)),
        input_kind="tokens", vocab=32000)
    return zoo, []


def user_entry(spec: str, sample_shape=None, dtype: str = "float32") -> ZooEntry:
    """``package.module:callable`` -> an entry; the callable is called with no
    arguments (or is a Layer instance)."""
    from ..loading import load_model
    if ":" not in spec:
        raise ValueError(f"unknown model {spec!r}: give a zoo name or module:callable")

    def build(size: int):
        return load_model(spec)
    kind = "custom" if sample_shape else "image"
    return ZooEntry(spec, build, input_kind=kind, source="user",
                    sample_shape=tuple(sample_shape) if sample_shape else None, dtype=dtype)


def resolve(names: list[str] | None, sample_shape=None, dtype: str = "float32"):
    """Entries for ``names`` (zoo names or module:callable), or the whole zoo."""
    zoo, notes = default_zoo()
    if not names:
        return [zoo[n] for n in DEFAULT_ORDER if n in zoo], notes
    entries = []
    for n in names:
        if n in zoo:
            entries.append(zoo[n])
        elif ":" in n:
            entries.append(user_entry(n, sample_shape, dtype))
        else:
            raise ValueError(f"unknown model {n!r}; zoo names: {', '.join(zoo)}; "
                             f"or give module:callable")
    return entries, notes


def make_inputs(entry: ZooEntry, batch: int, size: int, seed: int = 0) -> list:
    """Deterministic inputs on the current device."""
    import paddle
    paddle.seed(seed)
    if entry.input_kind == "tokens":
        return [paddle.randint(0, entry.vocab, [batch, size], dtype="int64")]
    if entry.input_kind == "custom":
        shape = [batch, *entry.sample_shape]
        if "int" in entry.dtype:
            return [paddle.randint(0, 2, shape, dtype=entry.dtype)]
        return [paddle.randn(shape, dtype=entry.dtype)]
    return [paddle.randn([batch, 3, size, size], dtype="float32")]
