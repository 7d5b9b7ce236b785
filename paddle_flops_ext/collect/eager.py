"""Eager collection: run the model once, on the profiling thread, and report
every layer call and every operation to the attribution core
(:mod:`paddle_flops_ext.collect.core`), which decides who pays for what.

This module only supplies the events: ``Layer.__call__`` is bracketed and
operations are observed by :func:`~paddle_flops_ext.collect.instrument.instrument`;
shapes are read off eager tensors. It returns a
:class:`~paddle_flops_ext.collect.records.Collection`.
"""
from __future__ import annotations

import paddle

from .core import Attribution, EagerShapes, tensor_shapes
from .inputs import build_call_args
from .instrument import ALL_OPS, instrument
from .params import parameter_counts
from .patch import Patches
from .records import Collection
from .request import ProfileRequest


def call_args(model, request: ProfileRequest) -> tuple:
    """``(args, kwargs)`` of the forward call the request describes."""
    return build_call_args(model, request.input_size, request.inputs, request.input_spec, dtype=request.dtype)


def collect_eager(patches: Patches, model, request: ProfileRequest, args=None, kwargs=None) -> Collection:
    """Run the model once under ``no_grad`` on the request's input (or on
    ``args``/``kwargs`` already built) with every change logged in
    ``patches`` (the caller owns the session and restores)."""
    if args is None:
        args, kwargs = call_args(model, request)
    attribution = Attribution(model, EagerShapes(), request.overrides, request.options, request.count_functional,
                              request.time_layers)
    instrument(patches, attribution, observe=ALL_OPS if request.count_functional else None)
    try:
        with paddle.no_grad():
            model(*args, **kwargs)
    except (Exception, MemoryError) as exc:
        raise attribution.explain(exc) from exc
    collection = Collection(model, attribution.order, tensor_shapes([list(args), kwargs]), "eager")
    collection.parameters = parameter_counts([rec.layer for rec in attribution.order])
    return collection
