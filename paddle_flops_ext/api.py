"""Public entry points: ``profile``, ``flops`` (drop-in for ``paddle.flops``)
and ``register`` (custom layer handlers)."""
from __future__ import annotations

import paddle

from . import formulas  # noqa: F401  (registers every built-in formula)
from .collect.eager import EagerCollector
from .collect.inputs import build_call_args
from .collect.params import parameter_owners
from .formulas import registry
from .formulas.registry import LayerSpec
from .report.result import ProfileResult, result_from_records


def register(*layer_types):
    """Decorator: count every ``layer_type`` with ``fn(layer, inputs, output)``.

    ``fn`` may return a :class:`Cost`, a dict with ``macs``/``flops``/
    ``paddle_flops``, an int (taken as MACs), or ``None`` after doing
    ``layer.total_ops += n`` the way ``paddle.flops`` handlers do.
    """
    if not layer_types or not all(isinstance(t, type) and issubclass(t, paddle.nn.Layer) for t in layer_types):
        raise TypeError("register() takes paddle.nn.Layer subclasses, e.g. @register(MyLayer)")

    def deco(fn):
        if not callable(fn):
            raise TypeError("register()(fn): fn must be callable as fn(layer, inputs, output)")
        for t in layer_types:
            registry.register_layer_spec(LayerSpec(t, fn, f"user handler {fn.__name__}", kind="user"))
        return fn

    return deco


def unregister(layer_type) -> None:
    """Remove a handler added with :func:`register`."""
    registry.unregister_layer(layer_type)


def profile(net, input_size=None, *, inputs=None, input_spec=None, custom_ops=None,
            count_functional=True, strict=False, mode="eager", time_layers=False,
            causal="full") -> ProfileResult:
    """Count parameters, MACs and FLOPs of ``net`` for one forward pass.

    Give the input one way: ``input_size`` (float32 random input; a list of
    shapes for several inputs), ``inputs`` (real tensors: a tuple/list is
    positional, a dict is keyword arguments) or ``input_spec`` (synthesized;
    integer specs get small valid indices).

    ``count_functional``: also count operations written inside ``forward``.
    ``strict``: raise if any operation ran with no formula.
    ``causal``: how causal attention (``is_causal=True``) is counted: ``"full"``
    (the whole score matrix, what a dense kernel computes) or ``"half"`` (only
    the unmasked entries, what a block-skipping flash kernel computes).
    ``mode``: ``"eager"`` runs the model; ``"trace"`` counts a traced program
    without running kernels (see :mod:`paddle_flops_ext.collect.program`).
    """
    if causal not in ("full", "half"):
        raise ValueError(f"causal must be 'full' or 'half', got {causal!r}")
    options = {"causal": causal}
    if mode not in ("eager", "trace"):
        raise ValueError(f"mode must be 'eager' or 'trace', got {mode!r}")
    if not isinstance(net, paddle.nn.Layer) and not _is_program(net):
        raise TypeError(f"net must be a paddle.nn.Layer (or a static/PIR Program), got {type(net).__name__}")
    if isinstance(net, _loaded_layer_types()):
        mode = "trace"  # a loaded inference model runs as one opaque op in eager mode
    if mode == "trace" or not isinstance(net, paddle.nn.Layer):
        from .collect import program as program_engine  # shape-only counting
        result = program_engine.profile_program(
            net, input_size=input_size, inputs=inputs, input_spec=input_spec,
            custom_ops=custom_ops, options=options)
        return _check_strict(result, strict)
    args, kwargs = build_call_args(net, input_size, inputs, input_spec)
    collector = EagerCollector(net, registry.user_layer_specs(custom_ops), count_ops=count_functional,
                               time_layers=time_layers, options=options)
    collector.run(args, kwargs)
    result = result_from_records(collector.order, owners=parameter_owners(net, [rec.layer for rec in collector.order]),
                          inputs=[tuple(a.shape) for a in list(args) + list(kwargs.values())
                                  if isinstance(a, paddle.Tensor)],
                          count_functional=count_functional)
    return _check_strict(result, strict)


def _loaded_layer_types() -> tuple:
    """Layers returned by ``paddle.jit.load`` (old IR and PIR)."""
    from paddle.jit import pir_translated_layer, translated_layer
    return (translated_layer.TranslatedLayer, pir_translated_layer.PirTranslatedLayer)


def _is_program(obj) -> bool:
    from .collect.program import is_program  # PIR, legacy (old-IR) and ConcreteProgram
    return is_program(obj)


def _check_strict(result: ProfileResult, strict: bool) -> ProfileResult:
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
