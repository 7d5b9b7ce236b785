"""Public entry points: ``profile``, ``flops`` (drop-in for ``paddle.flops``)
and ``register`` (custom layer handlers).

``profile`` checks its arguments once into a
:class:`~paddle_flops_ext.collect.request.ProfileRequest`, picks the engine,
runs it inside one profiling session
(:func:`~paddle_flops_ext.collect.patch.session`: one at a time per process,
only the calling thread observed, everything restored) and assembles the
result from the engine's records after the session has ended
(:func:`~paddle_flops_ext.report.assemble.assemble`).
"""
from __future__ import annotations

import dataclasses
import os

import paddle

from . import formulas  # noqa: F401  (registers every built-in formula)
from .collect.eager import collect_eager
from .collect.patch import Patches, gc_paused, session
from .collect.pir import is_program
from .collect.programs import collect_program
from .collect.records import Collection
from .collect.request import MODES, ProfileRequest  # noqa: F401  (MODES: the modes profile() takes)
from .collect.trace import collect_trace, input_plan, is_loaded_layer
from .collect.training import collect_trace_training, collect_training
from .errors import StrictError, TraceError
from .formulas import registry
from .loading import load_saved
from .report.assemble import assemble
from .report.result import ProfileResult


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
    without running kernels (see :mod:`paddle_flops_ext.collect.trace`);
    ``"auto"`` (default) traces models built under ``paddle.LazyGuard``,
    programs and ``paddle.jit.load``-ed models and runs everything else; a
    failed trace of a model that has weights is counted eagerly, with a note.
    ``time_layers``: inclusive wall time per layer (eager only).
    ``training``: also count one training step (eager and trace): ``r.backward``,
    ``r.optimizer_step`` (of ``optimizer``: ``"sgd"``, ``"momentum"``,
    ``"adam"``, ``"adamw"`` or a ``paddle.optimizer.Optimizer``),
    ``r.training_flops``, ``r.hardware_flops`` and ``r.memory`` for training
    (``amp``: ``True``/``"O2"`` or ``"O1"``); see :mod:`paddle_flops_ext.collect.training`.

    ``net`` may also be the path of a saved model (a folder with a ``.json``
    or ``.pdmodel`` program and its ``.pdiparams``, as ``paddle.jit.save`` and
    Paddle Inference write them, or that file): it is counted at its saved
    input shapes and dtypes, ``input_size`` sizing its -1 dimensions.

    The model, Paddle's global state and the global RNGs are as before when
    this returns or raises (see docs/guarantees.md).
    """
    if isinstance(net, (str, os.PathLike)):
        net = load_saved(net)
    request = ProfileRequest.build(input_size, inputs=inputs, input_spec=input_spec, custom_ops=custom_ops,
                                   count_functional=count_functional, strict=strict, mode=mode,
                                   time_layers=time_layers, causal=causal, dtype=dtype, training=training,
                                   optimizer=optimizer, amp=amp)
    # The session first: one profile at a time, so what we read of Paddle's
    # state (dynamic mode) is not another thread's trace in progress. The
    # result is assembled after the session has put the model back.
    with gc_paused():
        with session() as patches:
            if request.training:
                collection, training_records = _collect_training(patches, net, request)
            else:
                collection, training_records = _collect(patches, net, request), None
        collection.notes.extend(patches.notes)    # what restoring put right
        result = assemble(collection, training_records)
    return _check_strict(result, request.strict)


def _collect_training(patches, net, request: ProfileRequest):
    if not isinstance(net, paddle.nn.Layer):
        raise NotImplementedError("training=True counts a paddle.nn.Layer by running its forward; a program "
                                  "is not supported yet")
    if is_loaded_layer(net):
        raise NotImplementedError("training=True is not supported for paddle.jit.load-ed models (no trainable "
                                  "Layer to differentiate); profile the original Layer")
    if request.mode == "trace" or (request.mode == "auto" and _has_lazy_parameters(net)):
        _only_eager("time_layers", request.time_layers, "mode='trace'")
        return collect_trace_training(patches, net, request)
    if not paddle.in_dynamic_mode():
        raise RuntimeError("profile() was called in static-graph mode (after paddle.enable_static()); "
                           "call paddle.disable_static() first")
    _only_eager("time_layers", request.time_layers, "training=True")
    return collect_training(patches, net, request)


def _collect(patches, net, request: ProfileRequest) -> Collection:
    program = not isinstance(net, paddle.nn.Layer)
    if program and not is_program(net):
        raise TypeError(f"net must be a paddle.nn.Layer (or a static/PIR Program), got {type(net).__name__}")
    if not program and not paddle.in_dynamic_mode():
        raise RuntimeError("profile() was called in static-graph mode (after paddle.enable_static()); "
                           "call paddle.disable_static() first - trace mode builds its own program")
    if program:
        if request.inputs is not None or request.input_spec is not None:
            raise ValueError("a program already holds its inputs; only input_size (to size unknown -1 "
                             "dimensions) can be given with a program")
        _only_eager("time_layers", request.time_layers, "a program")
        return collect_program(net, request)
    loaded = is_loaded_layer(net)
    lazy = _has_lazy_parameters(net)
    mode = request.mode
    if mode == "eager" and lazy:
        raise ValueError(f"{type(net).__name__} was built under paddle.LazyGuard: its parameters hold no "
                         f"data, so it cannot run; count it with mode='trace' (or the default mode='auto')")
    fallback = mode == "auto"
    notes = []
    if loaded and mode == "eager":
        _only_eager("time_layers", request.time_layers, "a paddle.jit.load-ed model")
        notes.append("mode='eager' asked for a paddle.jit.load-ed model, which has no Python forward to observe "
                     "(running it would count nothing): counted by tracing its saved program")
    if mode == "auto" or loaded:
        mode = "trace" if (loaded or lazy) else "eager"
    if mode == "eager":
        return collect_eager(patches, net, request)
    _only_eager("time_layers", request.time_layers, "mode='trace'")
    if loaded:
        request = _saved_inputs(net, request)
        _check_loaded_shapes(net, request)
    trace = Patches()   # a failed trace is undone before an eager run
    try:
        collection = collect_trace(trace, net, request)
        collection.notes[:0] = notes
        return collection
    except TraceError as exc:
        if lazy or loaded or not fallback:
            raise
        trace.restore()
        collection = collect_eager(patches, net, request)
        collection.notes.append(f"trace failed, counted by running the model (eager): {exc}")
        return collection
    finally:
        trace.restore()


def _only_eager(name: str, value, where: str) -> None:
    if value:
        raise ValueError(f"{name}=True needs mode='eager' (it times the layers of a real run); "
                         f"it is not available for {where}")


def _has_lazy_parameters(net) -> bool:
    """Built under ``paddle.LazyGuard``: parameters without data."""
    for _, p in net.named_parameters():  # a generator: stops at the first
        try:
            return not p._is_initialized()
        except AttributeError:  # pragma: no cover - other Paddle versions
            return False
    return False


def _saved_inputs(net, request: ProfileRequest) -> ProfileRequest:
    """A ``jit.load``-ed model takes inputs of its saved dtypes: with no input
    given, at its saved shapes (all fixed, else the -1 dimensions must be
    given); with ``input_size`` (and no ``dtype``), at those shapes."""
    if request.inputs is not None or request.input_spec is not None or request.dtype is not None:
        return request
    try:
        saved = [(list(spec.shape), spec.dtype) for spec in net._input_spec()]
    except Exception:  # noqa: BLE001 - no saved specs: the request stands as given
        return request
    if request.input_size is None:
        if any(d is None or d < 0 for shape, _ in saved for d in shape):
            raise ValueError(f"this saved model takes input(s) of shape "
                             f"{'; '.join(str(shape) for shape, _ in saved)} (-1 = chosen at run time): "
                             f"give input_size with those sizes")
        shapes = [shape for shape, _ in saved]
    else:
        given = request.input_size
        shapes = given if given and isinstance(given[0], (list, tuple)) else [given]
        if len(shapes) != len(saved):
            raise ValueError(f"this saved model takes {len(saved)} input(s) "
                             f"({'; '.join(str(shape) for shape, _ in saved)}); input_size gives {len(shapes)}")
    specs = [paddle.static.InputSpec(list(shape), dtype) for shape, (_, dtype) in zip(shapes, saved)]
    return dataclasses.replace(request, input_size=None, input_spec=specs)


def _check_loaded_shapes(net, request: ProfileRequest) -> None:
    """A ``jit.load``-ed model is a saved program with fixed shapes: only its
    -1 dimensions can be chosen; a contradicting size is refused."""
    try:
        saved = [list(spec.shape) for spec in net._input_spec()]
    except Exception:  # noqa: BLE001 - no saved specs to compare with
        return
    args, kwargs = input_plan(net, request.input_size, request.inputs, request.input_spec)
    given = [list(a.shape) for a in list(args) + list(kwargs.values()) if hasattr(a, "shape")]
    for i, (want, got) in enumerate(zip(saved, given)):
        if len(want) != len(got) or any(w is not None and w >= 0 and w != g for w, g in zip(want, got)):
            raise ValueError(f"this paddle.jit.load-ed model was saved for input {i} of shape {want} "
                             f"(-1 = any size); it cannot be counted at {got}. Give that shape, or save "
                             f"the model with -1/None in the dimensions you want to vary")


def _check_strict(result: ProfileResult, strict: bool) -> ProfileResult:
    if strict and result.inexact:
        raise StrictError("strict=True and the counts are not exact: " + "; ".join(result.inexact))
    if strict and result.uncounted:
        names = ", ".join(f"{e['name']} (x{e['calls']})" for e in result.uncounted)
        raise StrictError(f"strict=True and these ran with no counting formula: {names}. "
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
