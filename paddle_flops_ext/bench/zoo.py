"""The models ``paddle-flops bench`` runs: its sweep's share of the package's
zoo (:mod:`paddle_flops_ext.models.zoo`, with :func:`make_inputs`) and
``module:callable`` specs.

The sweep (``paddle-flops bench`` with no ``--models``) is
:data:`~paddle_flops_ext.models.zoo.BENCH_MODELS`: the
``paddle.vision.models`` CNNs, ``vit_b16``, ``swin_t`` and ``llama_small``
(fed token ids whose length is the sequence length).
"""
from __future__ import annotations

from ..loading import load_model
from ..models.zoo import BENCH_MODELS as DEFAULT_ORDER, ZOO, ZooEntry, make_inputs

__all__ = ["DEFAULT_ORDER", "ZooEntry", "default_zoo", "make_inputs", "resolve", "user_entry"]


def default_zoo() -> tuple[dict[str, ZooEntry], list[str]]:
    """``({name: entry}, notes)`` for the sweep's models."""
    return {n: ZOO[n] for n in DEFAULT_ORDER}, []


def user_entry(spec: str, sample_shape=None, dtype: str = "float32") -> ZooEntry:
    """``package.module:callable`` -> an entry; the callable is called with no
    arguments (or is a Layer instance)."""
    if ":" not in spec:
        raise ValueError(f"unknown model {spec!r}: give a zoo name or module:callable")

    def build(size: int):
        return load_model(spec)
    kind = "custom" if sample_shape else "image"
    return ZooEntry(spec, build, input_kind=kind, source="user",
                    sample_shape=tuple(sample_shape) if sample_shape else None, dtype=dtype)


def resolve(names: list[str] | None, sample_shape=None, dtype: str = "float32"):
    """Entries for ``names`` (zoo names or module:callable), or the whole sweep."""
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
