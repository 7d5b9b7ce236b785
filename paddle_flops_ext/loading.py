"""Building a model from a ``module:callable`` (or ``path/to/file.py:callable``)
specification; shared by the CLI and the benchmark harness.

Errors are ``ValueError`` with a message that says what to fix; the CLI turns
them into its own short messages.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys


def _import_module(mod_name: str):
    if mod_name.endswith(".py") or os.sep in mod_name or "/" in mod_name:
        path = os.path.abspath(mod_name)
        if not os.path.isfile(path):
            raise ValueError(f"no such file {mod_name!r}")
        name = "_pfe_user_" + os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(name, None)
            raise ValueError(f"importing {mod_name!r} raised {type(exc).__name__}: {exc}") from exc
        return module
    try:
        return importlib.import_module(mod_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module {mod_name!r}: {exc}") from exc


def load_model(spec: str, kwargs: dict | None = None):
    """``"paddle.vision.models:resnet50"`` -> the ``paddle.nn.Layer`` that the
    callable returns when called with ``kwargs`` (an attribute that already is
    a Layer is returned as is). ``spec`` may name a module on ``sys.path`` or a
    ``.py`` file path. Raises ``ValueError`` saying what is wrong."""
    import paddle  # local: keeps Paddle out of --help (the CLI imports this)

    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(f"model must be given as module:callable, e.g. paddle.vision.models:resnet50 (got {spec!r})")
    mod_name, attr = spec.rsplit(":", 1)
    if not mod_name or not attr:
        raise ValueError(f"model must be given as module:callable, e.g. paddle.vision.models:resnet50 (got {spec!r})")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise ValueError(f"model keyword arguments must be a dict, got {type(kwargs).__name__}")
    obj = _import_module(mod_name)
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"module {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if isinstance(obj, paddle.nn.Layer):
        if kwargs:
            raise ValueError(f"{spec} is a Layer instance; it takes no keyword arguments")
        return obj
    if not callable(obj):
        raise ValueError(f"{spec} is neither a paddle.nn.Layer nor a callable returning one")
    try:
        model = obj(**(kwargs or {}))
    except TypeError as exc:
        raise ValueError(f"calling {spec} failed: {exc}") from exc
    if not isinstance(model, paddle.nn.Layer):
        raise ValueError(f"{spec} did not return a paddle.nn.Layer (got {type(model).__name__})")
    return model
