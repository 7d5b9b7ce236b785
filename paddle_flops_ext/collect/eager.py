"""Eager collection: run the model once, on the profiling thread, and report
every layer call and every operation to the attribution core
(:mod:`paddle_flops_ext.collect.core`), which decides who pays for what.

This module only supplies the events: ``Layer.__call__`` is bracketed by the
core's patch, operations by :func:`~paddle_flops_ext.collect.intercept.observe_ops`;
shapes are read off eager tensors. It returns a
:class:`~paddle_flops_ext.collect.core.Collection`.
"""
from __future__ import annotations

import sys

import paddle

from .core import Attribution, Collection, EagerShapes, tensor_shapes, bracket_layer_calls, guard_model, guard_process
from .intercept import observe_ops
from .patch import Patches


def model_modules(layers) -> list:
    """Python modules that define the model's layer classes (user code may
    hold its own aliases of Paddle ops there)."""
    names = {type(layer).__module__ for layer in layers}
    return [sys.modules[n] for n in names if n and not n.startswith("paddle") and n in sys.modules]


def collect_eager(patches: Patches, model, args: tuple, kwargs: dict, *, overrides=None, options=None,
                  count_functional=True, time_layers=False) -> Collection:
    """Run ``model(*args, **kwargs)`` once under ``no_grad`` with every
    change logged in ``patches`` (the caller owns the session and restores)."""
    attribution = Attribution(model, EagerShapes(), overrides, options, count_functional, time_layers)
    layers = [rec.layer for rec in attribution.order]
    guard_process(patches)
    guard_model(patches, layers)
    bracket_layer_calls(patches, attribution)
    if count_functional:
        observe_ops(patches, attribution, model_modules(layers))
    try:
        with paddle.no_grad():
            model(*args, **kwargs)
    except (Exception, MemoryError) as exc:
        raise attribution.explain(exc) from exc
    return Collection(model, attribution.order, tensor_shapes([list(args), kwargs]), "eager")
