"""The models ``paddle-flops bench`` runs: its sweep's share of the package's
zoo (:mod:`paddle_flops_ext.models.zoo`, with :func:`make_inputs`) and
``module:callable`` specs.

The sweep (``paddle-flops bench`` with no ``--models``) is
:data:`~paddle_flops_ext.models.zoo.BENCH_MODELS`: the
``paddle.vision.models`` CNNs, ``vit_b16``, ``swin_t`` and ``llama_small``
(fed token ids whose length is the sequence length).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..loading import load_model, load_saved, saved_model_prefix
from ..models.zoo import (BENCH_MODELS as DEFAULT_ORDER, ZOO, InputShape, ZooEntry, default_inputs, make_inputs,
                          size_of, suggestions)

__all__ = ["DEFAULT_ORDER", "ZooEntry", "NamedModel", "build_named", "default_zoo", "make_inputs", "resolve",
           "unknown_model", "user_entry"]


def unknown_model(name: str) -> str:
    """Why ``name`` names no model, with the zoo names closest to it."""
    close = suggestions(name)
    return (f"unknown model {name!r}" + (f"; did you mean {' or '.join(map(repr, close))}?" if close else ".")
            + f" Zoo names: {', '.join(ZOO)}; or module:callable, path/to/file.py:callable")


@dataclass
class NamedModel:
    """A model named on a command line, built, with what to count it at."""
    spec: str                          # as given: a zoo name, module:callable, file.py:callable, a saved model
    model: object                      # a paddle.nn.Layer (or a saved legacy program)
    inputs: list[InputShape] | None    # None: a saved model, counted at its saved shapes
    saved: bool = False


def build_named(spec: str, inputs: list[InputShape] | None = None, kwargs: dict | None = None) -> NamedModel:
    """Build the model ``spec`` names and say what to count it at: ``inputs``
    when given, else a zoo model's defaults (:func:`default_inputs`), else
    one 1x3x224x224 image. Raises ``ValueError`` saying what to fix."""
    if spec in ZOO:
        if kwargs:
            raise ValueError(f"{spec} is a zoo model; it takes no keyword arguments")
        entry = ZOO[spec]
        shapes = inputs or default_inputs(entry)
        return NamedModel(spec, entry.build(size_of(entry, shapes)), shapes)
    if saved_model_prefix(spec) is not None:
        return NamedModel(spec, load_saved(spec), inputs, saved=True)
    if ":" not in spec:
        raise ValueError(unknown_model(spec))
    return NamedModel(spec, load_model(spec, kwargs), inputs or [InputShape((1, 3, 224, 224))])


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
            raise ValueError(unknown_model(n))
    return entries, notes
