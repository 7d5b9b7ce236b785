"""Public entry points: ``profile``, ``flops`` (drop-in for ``paddle.flops``)
and ``register`` (custom layer handlers).

``profile`` checks its arguments, picks the engine, runs it inside one
profiling session (:func:`~paddle_flops_ext.collect.patch.session`: one at a
time per process, only the calling thread observed, everything restored) and
builds the result from the engine's records after the session has ended.
"""
from __future__ import annotations

import paddle

from . import formulas  # noqa: F401  (registers every built-in formula)
from .collect.core import Collection
from .collect.inputs import build_call_args, dtype_name
from .collect.patch import Patches, gc_paused, session
from .formulas import registry
from .report.result import ProfileResult, build_result

MODES = ("auto", "eager", "trace")


def register(*layer_types):
    """Decorator: count every ``layer_type`` with ``fn(layer, inputs, output)``.

    ``fn`` may return a :class:`Cost`, a dict with ``macs``/``flops``/
    ``paddle_flops``, an int (taken as MACs), or ``None`` after doing
    ``layer.total_ops += n`` the way ``paddle.flops`` handlers do; counts must
    be non-negative whole numbers. The handler shadows the built-in formula
    of that type (``unregister`` brings the built-in back) and applies to
    subclasses that do not override ``forward``.
    """
    if not layer_types or not all(isinstance(t, type) and issubclass(t, paddle.nn.Layer) for t in layer_types):
        raise TypeError("register() takes paddle.nn.Layer subclasses, e.g. @register(MyLayer)")

    def deco(fn):
        if not callable(fn):
            raise TypeError("register()(fn): fn must be callable as fn(layer, inputs, output)")
        for t in layer_types:
            registry.register_user_handler(t, fn)
        return fn

    return deco


def unregister(layer_type) -> None:
    """Remove a handler added with :func:`register` (the built-in formula, if
    any, applies again). Raises ``KeyError`` if ``layer_type`` has none."""
    registry.unregister_user_handler(layer_type)


def profile(net, input_size=None, *, inputs=None, input_spec=None, custom_ops=None,
            count_functional=True, strict=False, mode="auto", time_layers=False,
            causal="full", dtype=None, training=False, optimizer=None, amp=False) -> ProfileResult:
    """Count parameters, MACs and FLOPs of ``net`` for one forward pass.

    Give the input one way: ``input_size`` (random input in the model's
    parameter dtype, or ``dtype``; a list of shapes for several inputs),
    ``inputs`` (real tensors: a tuple/list is positional, a dict is keyword
    arguments) or ``input_spec`` (synthesized; integer specs get small valid
    indices). Synthesized inputs come from a private generator.

    ``count_functional``: also count operations written inside ``forward``.
    ``strict``: raise if any operation ran with no formula.
    ``causal``: how causal attention (``is_causal=True``) is counted: ``"full"``
    (the whole score matrix, what a dense kernel computes) or ``"half"`` (only
    the unmasked entries, what a block-skipping flash kernel computes).
    ``mode``: ``"eager"`` runs the model; ``"trace"`` counts a traced program
    without running kernels (see :mod:`paddle_flops_ext.collect.program`);
    ``"auto"`` (default) traces models built under ``paddle.LazyGuard``,
    programs and ``paddle.jit.load``-ed models and runs everything else; a
    failed trace of a model that has weights is counted eagerly, with a note.
    ``time_layers``: inclusive wall time per layer (eager only).
    ``training``: also count one training step (eager and trace): ``r.backward``,
    ``r.optimizer_step`` (of ``optimizer``: ``"sgd"``, ``"momentum"``,
    ``"adam"``, ``"adamw"`` or a ``paddle.optimizer.Optimizer``),
    ``r.training_flops``, ``r.hardware_flops`` and ``r.memory`` for training
    (``amp``: ``True``/``"O2"`` or ``"O1"``); see :mod:`paddle_flops_ext.training`.

    The model, Paddle's global state and the global RNGs are as before when
    this returns or raises (see the README's guarantees).
    """
    if causal not in ("full", "half"):
        raise ValueError(f"causal must be 'full' or 'half', got {causal!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
    if dtype is not None:
        _check_float_dtype(dtype)
    overrides = registry.user_layer_specs(custom_ops)
    options = {"causal": causal}
    if training:
        from .training import check_amp, optimizer_name
        optimizer_name(optimizer), check_amp(amp)
        from .report.result import attach_training
        with gc_paused():
            with session() as patches:
                collection, train = _collect_training(patches, net, input_size, inputs, input_spec, overrides,
                                                      options, count_functional, mode, time_layers, dtype,
                                                      optimizer, amp)
            return _check_strict(attach_training(build_result(collection), train), strict)
    if optimizer is not None or amp:
        raise ValueError("optimizer= and amp= describe a training step: pass training=True with them")
    # The session first: one profile at a time, so what we read of Paddle's
    # state (dynamic mode) is not another thread's trace in progress. The
    # result is built after the session has put the model back.
    with gc_paused():
        with session() as patches:
            collection = _collect(patches, net, input_size, inputs, input_spec, overrides, options,
                                  count_functional, mode, time_layers, dtype)
        result = build_result(collection)
    from .training import inference_memory
    model = collection.model
    result._memory_source = lambda: inference_memory(model, result)   # on first use: profiling stays cheap
    return _check_strict(result, strict)


def _collect_training(patches, net, input_size, inputs, input_spec, overrides, options, count_functional, mode,
                      time_layers, dtype, optimizer, amp):
    if not isinstance(net, paddle.nn.Layer):
        raise NotImplementedError("training=True counts a paddle.nn.Layer by running its forward; a program "
                                  "is not supported yet")
    if isinstance(net, _loaded_layer_types()):
        raise NotImplementedError("training=True is not supported for paddle.jit.load-ed models (no trainable "
                                  "Layer to differentiate); profile the original Layer")
    if mode == "trace" or (mode == "auto" and _has_lazy_parameters(net)):
        _only_eager("time_layers", time_layers, "mode='trace'")
        from .training import collect_trace_training
        return collect_trace_training(patches, net, input_size, inputs, input_spec, overrides=overrides,
                                      options=options, count_functional=count_functional, dtype=dtype,
                                      optimizer=optimizer, amp=amp)
    if not paddle.in_dynamic_mode():
        raise RuntimeError("profile() was called in static-graph mode (after paddle.enable_static()); "
                           "call paddle.disable_static() first")
    _only_eager("time_layers", time_layers, "training=True")
    from .training import collect_training
    args, kwargs = build_call_args(net, input_size, inputs, input_spec, dtype=dtype)
    return collect_training(patches, net, args, kwargs, overrides=overrides, options=options,
                            count_functional=count_functional, optimizer=optimizer, amp=amp)


def _collect(patches, net, input_size, inputs, input_spec, overrides, options, count_functional, mode,
             time_layers, dtype) -> Collection:
    program = not isinstance(net, paddle.nn.Layer)
    if program and not _is_program(net):
        raise TypeError(f"net must be a paddle.nn.Layer (or a static/PIR Program), got {type(net).__name__}")
    if not program and not paddle.in_dynamic_mode():
        raise RuntimeError("profile() was called in static-graph mode (after paddle.enable_static()); "
                           "call paddle.disable_static() first - trace mode builds its own program")
    if program:
        if inputs is not None or input_spec is not None:
            raise ValueError("a program already holds its inputs; only input_size (to size unknown -1 "
                             "dimensions) can be given with a program")
        _only_eager("time_layers", time_layers, "a program")
        from .collect.program import collect_program
        return collect_program(net, input_size, options)
    loaded = isinstance(net, _loaded_layer_types())
    lazy = _has_lazy_parameters(net)
    if mode == "eager" and lazy:
        raise ValueError(f"{type(net).__name__} was built under paddle.LazyGuard: its parameters hold no "
                         f"data, so it cannot run; count it with mode='trace' (or the default mode='auto')")
    fallback = mode == "auto"
    if mode == "auto":
        mode = "trace" if (loaded or lazy) else "eager"
    if mode == "eager":
        return _run_eager(patches, net, input_size, inputs, input_spec, overrides, options,
                          count_functional, time_layers, dtype)
    _only_eager("time_layers", time_layers, "mode='trace'")
    if loaded:
        _check_loaded_shapes(net, input_size, inputs, input_spec)
    from .collect.program import TraceError, collect_trace
    trace = Patches()   # a failed trace is undone before an eager run
    try:
        return collect_trace(trace, net, input_size, inputs, input_spec, overrides=overrides,
                             options=options, count_functional=count_functional, dtype=dtype)
    except TraceError as exc:
        if lazy or loaded or not fallback:
            raise
        trace.restore()
        collection = _run_eager(patches, net, input_size, inputs, input_spec, overrides, options,
                                count_functional, time_layers, dtype)
        collection.notes.append(f"trace failed, counted by running the model (eager): {exc}")
        return collection
    finally:
        trace.restore()


def _run_eager(patches, net, input_size, inputs, input_spec, overrides, options, count_functional,
               time_layers, dtype) -> Collection:
    from .collect.eager import collect_eager
    args, kwargs = build_call_args(net, input_size, inputs, input_spec, dtype=dtype)
    return collect_eager(patches, net, args, kwargs, overrides=overrides, options=options,
                         count_functional=count_functional, time_layers=time_layers)


def _only_eager(name: str, value, where: str) -> None:
    if value:
        raise ValueError(f"{name}=True needs mode='eager' (it times the layers of a real run); "
                         f"it is not available for {where}")


def _check_float_dtype(dtype) -> None:
    name = dtype_name(dtype)
    if name not in ("float16", "bfloat16", "float32", "float64"):
        raise ValueError(f"dtype must be a floating-point dtype for input_size inputs "
                         f"(float16, bfloat16, float32, float64), got {dtype!r}; give integer inputs "
                         f"with input_spec=[InputSpec(shape, 'int64')]")


def _has_lazy_parameters(net) -> bool:
    """Built under ``paddle.LazyGuard``: parameters without data."""
    for _, p in net.named_parameters():  # a generator: stops at the first
        try:
            return not p._is_initialized()
        except AttributeError:  # pragma: no cover - other Paddle versions
            return False
    return False


def _loaded_layer_types() -> tuple:
    """Layers returned by ``paddle.jit.load`` (old IR and PIR)."""
    from paddle.jit import pir_translated_layer, translated_layer
    return (translated_layer.TranslatedLayer, pir_translated_layer.PirTranslatedLayer)


def _check_loaded_shapes(net, input_size, inputs, input_spec) -> None:
    """A ``jit.load``-ed model is a saved program with fixed shapes: only its
    -1 dimensions can be chosen; a contradicting size is refused."""
    try:
        saved = [list(spec.shape) for spec in net._input_spec()]
    except Exception:  # noqa: BLE001 - no saved specs to compare with
        return
    from .collect.program import _input_plan
    args, kwargs = _input_plan(net, input_size, inputs, input_spec)
    given = [list(a.shape) for a in list(args) + list(kwargs.values()) if hasattr(a, "shape")]
    for i, (want, got) in enumerate(zip(saved, given)):
        if len(want) != len(got) or any(w is not None and w >= 0 and w != g for w, g in zip(want, got)):
            raise ValueError(f"this paddle.jit.load-ed model was saved for input {i} of shape {want} "
                             f"(-1 = any size); it cannot be counted at {got}. Give that shape, or save "
                             f"the model with -1/None in the dimensions you want to vary")


def _is_program(obj) -> bool:
    from .collect.program import is_program  # PIR, legacy (old-IR) and ConcreteProgram
    return is_program(obj)


def _check_strict(result: ProfileResult, strict: bool) -> ProfileResult:
    if strict and result.inexact:
        raise RuntimeError("strict=True and the counts are not exact: " + "; ".join(result.inexact))
    if strict and result.uncounted:
        names = ", ".join(f"{e['name']} (x{e['calls']})" for e in result.uncounted)
        raise RuntimeError(f"strict=True and these ran with no counting formula: {names}. "
                           f"Register a handler with paddle_flops_ext.register or pass custom_ops.")
    return result


def flops(net, input_size, custom_ops=None, print_detail=False) -> int:
    """Drop-in for ``paddle.flops``: same signature, returns the
    ``paddle.flops`` convention total (``profile(...).paddle_flops``) and prints
    only paddle's total line (plus the table with ``print_detail``)."""
    if isinstance(net, paddle.nn.Layer):
        result = profile(net, input_size, custom_ops=custom_ops)
    else:
        result = profile(net, input_size)
    if print_detail:
        print(result.table())
    print(f"Total Flops: {result.paddle_flops}     Total Params: {result.params}")
    return result.paddle_flops
