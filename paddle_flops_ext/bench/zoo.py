"""Models the benchmark runs: the embedded zoo and ``module:callable`` specs.

The embedded zoo (``paddle-flops bench`` with no ``--models``):

- ``paddle.vision.models`` CNNs, random weights (timing does not depend on
  the weights' values): resnet18, resnet50, mobilenet_v2,
  mobilenet_v3_small, mobilenet_v3_large, shufflenet_v2_x1_0, vgg16;
- transformers with hand-written attention from ``benchmarks/models`` in
  this repository: ``vit_b16`` (ViT-B/16) and ``swin_t`` (Swin-T);
- ``llama_small``: the LLaMA-style decoder of ``benchmarks/models/llama.py``
  at a small size (8 blocks, width 512, 8 heads / 4 kv heads, FFN 1408,
  vocabulary 32000), fed token ids whose length is the sequence length.

``benchmarks`` is imported from the repository this package sits in; when
the package is installed elsewhere those three are skipped with a note.
"""
from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
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


def import_benchmarks_models():
    """``benchmarks.models`` from the repository root holding this package,
    or ``None`` with the reason."""
    try:
        return importlib.import_module("benchmarks.models"), None
    except ImportError as first:
        root = Path(__file__).resolve().parents[2]
        if (root / "benchmarks" / "models" / "__init__.py").is_file():
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))
            try:
                return importlib.import_module("benchmarks.models"), None
            except ImportError as e:
                return None, f"benchmarks.models failed to import: {e}"
        return None, (f"benchmarks/models is not importable ({first}); run from a checkout of the "
                      f"repository to include vit_b16, swin_t and llama_small")


def default_zoo() -> tuple[dict[str, ZooEntry], list[str]]:
    """``({name: entry}, notes)`` for the embedded zoo."""
    zoo = {n: _vision(n) for n in CNNS}
    notes = []
    models, why = import_benchmarks_models()
    if models is None:
        notes.append(f"skipped vit_b16, swin_t, llama_small: {why}")
        return zoo, notes
    zoo["vit_b16"] = ZooEntry("vit_b16", lambda s: models.vit_base_patch16(img_size=s))
    zoo["swin_t"] = ZooEntry("swin_t", lambda s: models.swin_tiny(img_size=s))
    llama = getattr(models, "llama", None)
    if llama is None:
        try:
            llama = importlib.import_module("benchmarks.models.llama")
        except ImportError as e:
            notes.append(f"skipped llama_small: benchmarks/models/llama.py not importable ({e})")
    if llama is not None:
        zoo["llama_small"] = ZooEntry(
            "llama_small", lambda s: llama.llama(vocab_size=32000, dim=512, n_layers=8, n_heads=8,
                                                 n_kv_heads=4, ffn_dim=1408, max_seq_len=max(512, s)),
            input_kind="tokens", vocab=32000)
    return zoo, notes


def user_entry(spec: str, sample_shape=None, dtype: str = "float32") -> ZooEntry:
    """``package.module:callable`` -> an entry; the callable is called with no
    arguments (or is a Layer instance)."""
    from ..cli import load_model
    if ":" not in spec:
        raise ValueError(f"unknown model {spec!r}: give a zoo name or module:callable")

    def build(size: int):
        try:
            return load_model(spec)
        except SystemExit as e:  # load_model reports with SystemExit for the CLI
            raise ValueError(str(e)) from None
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
