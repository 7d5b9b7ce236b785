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


# --------------------------------------------------------------------------- saved / inference models

SAVED_SUFFIXES = (".json", ".pdmodel")     # PIR program, old-format (ProgramDesc) program
_WEIGHTS_SUFFIX = ".pdiparams"


def saved_model_prefix(path) -> str | None:
    """The path prefix of a saved model (``paddle.jit.save``,
    ``save_inference_model``, a PaddleX / PaddleOCR inference folder) that
    ``path`` names - the folder, its ``.json`` / ``.pdmodel`` program or its
    ``.pdiparams`` weights - or ``None`` if ``path`` is none of these. A
    folder holding several programs is refused, naming them."""
    path = os.fspath(path)
    if os.path.isdir(path):
        programs = sorted(f for f in os.listdir(path) if f.endswith(SAVED_SUFFIXES))
        if not programs:
            return None
        stems = sorted({os.path.splitext(f)[0] for f in programs})
        if len(stems) > 1:
            chosen = [s for s in stems if s == "inference"]
            if not chosen:
                raise ValueError(f"{path!r} holds several saved programs ({', '.join(programs)}); name the "
                                 f"one to count, e.g. {os.path.join(path, programs[0])!r}")
            stems = chosen
        return os.path.join(path, stems[0])
    stem, suffix = os.path.splitext(path)
    if suffix in SAVED_SUFFIXES + (_WEIGHTS_SUFFIX,) and os.path.isfile(path):
        return stem
    return None


def load_saved(path):
    """A saved model, loaded for counting: a PIR program (``.json``) as the
    ``paddle.jit.load`` layer, an old-format program (``.pdmodel``) as the
    legacy ``paddle.static.Program`` (counted through Paddle's translator to
    PIR). Raises ``ValueError`` saying what is wrong."""
    import paddle  # local: keeps Paddle out of --help (the CLI imports this)
    from paddle.pir_utils import OldIrGuard  # local: as above

    prefix = saved_model_prefix(path)
    if prefix is None:
        raise ValueError(f"{os.fspath(path)!r} is not a saved model: expected a folder with a .json or .pdmodel "
                         f"program (and its .pdiparams), or one of those files")
    if os.path.isfile(prefix + ".json"):
        try:
            return paddle.jit.load(prefix)
        except Exception as exc:
            raise ValueError(f"paddle.jit.load({prefix!r}) failed: {type(exc).__name__}: {exc}") from exc
    if not os.path.isfile(prefix + ".pdmodel"):
        raise ValueError(f"no program {prefix + '.json'!r} or {prefix + '.pdmodel'!r}")
    # an old-format program is read by the old IR; profile() translates it to PIR
    was_dynamic = paddle.in_dynamic_mode()
    try:
        # its weights go to a scope of its own: Paddle's global scope is left as it was
        with OldIrGuard(), paddle.static.scope_guard(paddle.static.Scope()):
            paddle.enable_static()
            exe = paddle.static.Executor(paddle.CPUPlace())
            program, _, _ = paddle.static.load_inference_model(prefix, exe)
    except Exception as exc:
        raise ValueError(f"loading the old-format program {prefix + '.pdmodel'!r} failed: "
                         f"{type(exc).__name__}: {exc}") from exc
    finally:
        if was_dynamic:
            paddle.disable_static()
    return program
