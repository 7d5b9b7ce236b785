"""Building a model without allocating its weights, for shape-only counting.

``paddle.LazyGuard`` defers parameter creation, but PaddleNLP (and
PaddleFormers) models built from a config run their own weight
initialisation in ``__init__`` (``init_weights``), which materialises every
tensor anyway: a LLaMA-7B config grew past 14 GB under ``LazyGuard`` alone.
Those packages offer ``no_init_weights()`` to switch that off; :func:`lazy_init`
enters it too when the package is importable, so a model built inside counts
in trace mode (``profile``'s default ``mode="auto"`` picks it) in seconds.
"""
from __future__ import annotations

import contextlib
import importlib


# where the ecosystem packages keep their switch (first found wins per package)
_NO_INIT_WEIGHTS = (
    ("paddlenlp.transformers.model_utils", "no_init_weights"),
    ("paddleformers.transformers.model_utils", "no_init_weights"),
)


def _no_init_weights_contexts() -> list:
    found = []
    for module_name, attr in _NO_INIT_WEIGHTS:
        try:
            module = importlib.import_module(module_name)
        except Exception:  # noqa: BLE001 - not installed (or broken): nothing to switch off
            continue
        fn = getattr(module, attr, None)
        if fn is not None:
            found.append(fn)
    return found


@contextlib.contextmanager
def lazy_init():
    """Build models inside this block without allocating weights:
    ``paddle.LazyGuard`` plus ``no_init_weights()`` of PaddleNLP /
    PaddleFormers when they are installed. Count the result with
    ``profile`` (it is traced, shape-only)."""
    import paddle  # local: keeps Paddle out of --help (the package imports nothing eagerly)

    with contextlib.ExitStack() as stack:
        stack.enter_context(paddle.LazyGuard())
        for no_init in _no_init_weights_contexts():
            stack.enter_context(no_init())
        yield


def build_lazily(factory, *args, **kwargs):
    """``factory(*args, **kwargs)`` inside :func:`lazy_init`, e.g.
    ``build_lazily(LlamaForCausalLM, LlamaConfig(...))``."""
    with lazy_init():
        return factory(*args, **kwargs)
