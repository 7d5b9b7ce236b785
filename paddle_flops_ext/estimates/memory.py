"""Memory of a forward and of a training step, in bytes by dtype.

Pure functions of plain data: a training step's
:class:`~paddle_flops_ext.collect.records.StepLog` (every tensor's dtype and
bytes, the operations in order and what each one's backward keeps, the
parameters) or, for inference, the model's layers and the result's recorded
shapes. Nothing here runs or reads a model's values.

A training step's memory: parameters (and buffers), gradients (trainable
parameters), optimizer states, activations (the forward tensors the backward
keeps, per the gradient formulas' ``saves``; inside a recompute block only
the block's inputs) and a peak from the order of operations.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Iterable

from ..collect.inputs import DTYPE_BYTES, FLOAT_DTYPES, dtype_name
from ..collect.records import StepLog, TensorBytes

# optimizer -> (fp32 state values per parameter element, fp32 scalars per parameter tensor)
OPTIMIZER_STATES = {
    "sgd": (0, 0), "momentum": (1, 0), "adam": (2, 2), "adamw": (2, 2), "lamb": (2, 2),
    "adamax": (2, 1), "adagrad": (1, 0), "rmsprop": (2, 0), "adadelta": (2, 0),
}
_HALF = "float16"


def _add(table: dict, dtype: str, n: int) -> None:
    if n:
        table[dtype] = table.get(dtype, 0) + int(n)


def training_memory(step: StepLog, optimizer: str | None, amp: str | None) -> dict:
    """Bytes by dtype of one training step (see :func:`memory_dict`); under
    AMP, float32 activations and trainable weights count at half width. The
    peak is the model state plus the larger of the forward's live tensors
    and the backward's (kept activations, the largest recompute block,
    twice the largest tensor in flight)."""
    params, grads = _weights(step, amp)
    states = optimizer_state_bytes(step.trainable, optimizer, amp)
    width = _Width(step, amp)
    acts, kept, region_saved = _kept_activations(step, width, amp)
    forward_peak, biggest = _forward_peak(step, width, kept)
    activations = sum(acts.values())
    trained = bool(step.trainable) or activations
    backward_peak = activations + max(region_saved.values(), default=0) + 2 * biggest if trained else 0
    state = sum(params.values()) + sum(grads.values()) + sum(states.values())
    return memory_dict(params, grads, states, acts, state + max(forward_peak, backward_peak), optimizer, amp)


def _weights(step: StepLog, amp: str | None) -> tuple[dict, dict]:
    """Parameters (and buffers) and gradients by dtype; AMP O2 keeps
    trainable float32 weights and their gradients in float16."""
    params: dict = {}
    for p in step.parameters:
        dtype, n = p.dtype, p.nbytes
        if amp == "O2" and dtype == "float32" and p.trainable:
            dtype, n = _HALF, n // 2
        _add(params, dtype, n)
    grads: dict = {}
    for p in step.trainable:
        dtype, n = p.dtype, p.nbytes
        if amp == "O2" and dtype == "float32":
            dtype, n = _HALF, n // 2
        _add(grads, dtype, n)
    return params, grads


class _Width:
    """A tensor's (dtype, bytes) by key; under AMP float32 activations are half."""

    def __init__(self, step: StepLog, amp: str | None):
        self.tensors, self.amp = step.tensors, amp

    def __call__(self, key) -> tuple[str, int]:
        t = self.tensors[key]
        if self.amp and t.dtype == "float32":
            return _HALF, t.nbytes // 2
        return t.dtype, t.nbytes


def _kept_activations(step: StepLog, width: _Width, amp: str | None) -> tuple[dict, dict, dict]:
    """What the backward keeps: ``(bytes by dtype, kept keys, bytes each
    recompute block re-creates)``; inside a recompute block only the
    block's inputs are kept."""
    skip = step.parameter_keys
    acts: dict = {}
    kept: dict = {}
    region_saved: dict[int, int] = defaultdict(int)
    produced_in: dict = {}
    for op in step.ops:
        for k in op.outs:
            produced_in.setdefault(k, op.region)
    for op in step.ops:
        for k in op.saved:
            if k in skip or k in kept:
                continue
            if op.region and produced_in.get(k, 0) == op.region:
                region_saved[op.region] += width(k)[1]
                continue
            kept[k] = True
        if op.saved_extra:
            extra = op.saved_extra // (2 if amp else 1)
            if op.region:
                region_saved[op.region] += extra
            else:
                _add(acts, width(op.outs[0])[0] if op.outs else "float32", extra)
    for k in kept:
        _add(acts, *width(k))
    return acts, kept, region_saved


def _forward_peak(step: StepLog, width: _Width, kept: dict) -> tuple[int, int]:
    """``(peak bytes, largest tensor)`` of the forward's live tensors in op
    order: a tensor dies after its last use unless the backward keeps it or
    it is an output."""
    skip = step.parameter_keys
    last_use: dict = {}
    for i, op in enumerate(step.ops):
        for k in op.ins:
            last_use[k] = i
    keep_alive = set(kept) | set(step.outputs)
    alive: dict = {}
    for k in step.inputs:
        if k not in skip:
            alive[k] = width(k)[1]
    live, peak, biggest = sum(alive.values()), 0, 0
    for i, op in enumerate(step.ops):
        for k in op.outs:
            if k not in alive and k not in skip:
                alive[k] = b = width(k)[1]
                live += b
                biggest = max(biggest, b)
        live += op.saved_extra
        peak = max(peak, live)
        for k in op.ins + op.outs:
            if k in alive and last_use.get(k, -1) <= i and k not in keep_alive:
                live -= alive.pop(k)
    return peak, biggest


def optimizer_state_bytes(trainable: Iterable[TensorBytes], optimizer: str | None, amp: str | None) -> dict:
    """Per parameter: the optimizer's fp32 state values per element (momentum
    1, Adam/AdamW 2) and per-tensor fp32 scalars (Adam's beta1/beta2 powers);
    under AMP O2 also an fp32 master copy of each trainable parameter."""
    out: dict = {}
    per_element, per_tensor = OPTIMIZER_STATES.get(optimizer, (0, 0)) if optimizer else (0, 0)
    for p in trainable:
        n = p.numel
        state_dtype = "float32" if amp == "O2" or p.dtype in ("float16", "bfloat16") else p.dtype
        size = 4 if state_dtype == "float32" else p.element_size
        _add(out, state_dtype, per_element * n * size + per_tensor * 4)
        if amp == "O2" and optimizer is not None:
            _add(out, "float32", 4 * n)   # master weight
    return out


def memory_dict(params, grads, states, acts, peak, optimizer, amp) -> dict:
    """The memory figures every report shows: totals, the peak, and each
    total by dtype."""
    return {
        "parameters": sum(params.values()), "gradients": sum(grads.values()),
        "optimizer_states": sum(states.values()), "activations": sum(acts.values()), "peak": int(peak),
        "by_dtype": {"parameters": dict(params), "gradients": dict(grads), "optimizer_states": dict(states),
                     "activations": dict(acts)},
        "optimizer": optimizer, "amp": amp,
    }


_FLOAT_WIDTH = {name: DTYPE_BYTES[name] for name in FLOAT_DTYPES}


def inference_memory(layers: list, root, float_dtype: str | None = None) -> dict:
    """Inference (and trace mode): parameters and buffers of ``layers`` (a
    model's distinct layers, parents first) exactly, each once; no
    gradients, states or kept activations; peak = parameters + the largest
    input + output of any layer node under ``root`` that ran (from the
    recorded shapes, at the parameters' float dtype). ``float_dtype``: the
    floating-point tensors as stored in that dtype instead (a model built
    in float32 to be served in bfloat16)."""
    if float_dtype is not None and float_dtype not in _FLOAT_WIDTH:
        raise ValueError(f"float_dtype must be one of {', '.join(_FLOAT_WIDTH)}, got {float_dtype!r}")
    params: dict = {}
    seen = set()
    float_size = 4
    tensors = [p for layer in layers for p in layer._parameters.values() if p is not None]
    tensors += [b for layer in layers for b in layer._buffers.values() if b is not None]
    for p in tensors:
        if id(p) in seen:
            continue
        seen.add(id(p))
        dtype, width = dtype_name(p.dtype), p.element_size()
        if dtype in _FLOAT_WIDTH:
            if float_dtype is not None:
                dtype, width = float_dtype, _FLOAT_WIDTH[float_dtype]
            float_size = width
        _add(params, dtype, int(math.prod(p.shape)) * width)
    largest = 0
    for node in root.walk():
        if node.called:
            n = sum(int(math.prod(s)) for s in node.input_shape) + sum(int(math.prod(s)) for s in node.output_shape)
            largest = max(largest, n * float_size)
    return memory_dict(params, {}, {}, {}, sum(params.values()) + largest, None, None)
