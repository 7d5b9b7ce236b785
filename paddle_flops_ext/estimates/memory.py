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
    """Bytes by dtype of one steady-state training step (see
    :func:`memory_dict`): parameters and buffers, gradients (every trainable
    parameter Paddle computes a ``.grad`` for), optimizer states,
    activations (what the backward keeps) and the peak.

    The peak follows the step in order, as Paddle's allocator sees it: the
    model state (parameters, the gradients kept from the previous step -
    ``clear_grad`` zeroes them in place - and the optimizer states) plus the
    larger of the forward's live tensors and the backward's. The backward
    is walked in reverse: each operation allocates the gradients of its
    inputs (a parameter's fresh gradient lives until it is added into
    ``.grad``), then frees its outputs' gradients and the saved tensors no
    later backward operation reads; a recompute block re-creates its saved
    tensors when the backward reaches it. Under AMP every tensor takes the
    dtype Paddle's rules give it (:class:`AmpDtypes`)."""
    dtypes = AmpDtypes(step, amp)
    params, grads = _weights(step, dtypes)
    states = optimizer_state_bytes(step.trainable, optimizer, amp)
    acts, kept, region_saved = _kept_activations(step, dtypes)
    forward_peak = _forward_peak(step, dtypes, kept)
    trained = bool(step.gradients) or bool(acts)
    backward_peak = _backward_peak(step, dtypes, kept, region_saved) if trained else 0
    state = sum(params.values()) + sum(grads.values()) + sum(states.values())
    return memory_dict(params, grads, states, acts, state + max(forward_peak, backward_peak), optimizer, amp)


def _low(dtype: str, n: int) -> tuple[str, int]:
    return (_HALF, n // 2) if dtype == "float32" else (dtype, n)


def _weights(step: StepLog, dtypes: "AmpDtypes") -> tuple[dict, dict]:
    """Parameters (and buffers) and gradients by dtype: each gradient has
    its parameter's dtype; AMP O2 casts every float32 weight to float16
    except what ``amp.decorate`` keeps in float32 (normalisation layers)."""
    params: dict = {}
    for p in step.parameters:
        _add(params, *dtypes.parameter(p))
    grads: dict = {}
    for p in step.gradients:
        _add(grads, *dtypes.parameter(p))
    return params, grads


# norms whose dtype under AMP follows their input alone (their float32 scale and shift do not promote)
_FIRST_INPUT_DECIDES = {"batch_norm", "sync_batch_norm", "layer_norm", "instance_norm", "group_norm"}


class AmpDtypes:
    """Every tensor's ``(dtype, bytes)`` in the step as AMP makes it, by
    Paddle's own lists (``paddle.amp.amp_lists``) and rules: under O1 a
    white-list operation (matmul, conv2d, ...) computes in float16 (eager's
    fused ``linear`` as the trace has it: a white-list matmul, then the bias
    add, float32 with a float32 bias), a black-list one
    (softmax, layer_norm, mean, exp, ...) in float32, any other in float16
    only when none of its float inputs is float32 (``auto_cast``'s default
    ``use_promote=True``; a norm looks at its input only). O2 has its own
    lists and the same rule, over float16 parameters: ``amp.decorate``
    casts every float32 parameter but what it keeps (normalisation layers).
    A white-list operation reads a float16 copy of each float32 input,
    which its backward keeps. Without AMP, the recorded dtypes."""

    def __init__(self, step: StepLog, amp: str | None):
        self.step, self.amp = step, amp
        self.of: dict = {}
        self.casts: dict = {}     # op index -> {input key: bytes of its float16 copy}
        if amp:
            self._propagate()

    def parameter(self, p) -> tuple[str, int]:
        if self.amp == "O2" and not p.keeps_fp32:
            return _low(p.dtype, p.nbytes)
        return p.dtype, p.nbytes

    def __call__(self, key) -> tuple[str, int]:
        got = self.of.get(key)
        if got is not None:
            return got
        t = self.step.tensors[key]
        return t.dtype, t.nbytes

    def _propagate(self) -> None:
        from paddle.amp import amp_lists   # Paddle's own lists, read once per estimate
        white = set(amp_lists.white_list()["float16"][self.amp]) | {"linear"}   # its matmul; see below
        black = set(amp_lists.black_list()["float16"][self.amp])
        step = self.step
        for k, p in step.parameter_bytes.items():
            self.of[k] = self.parameter(p)
        for i, op in enumerate(step.ops):
            read = op.ins[:1] if op.name in _FIRST_INPUT_DECIDES else op.ins
            float_ins = [self(k) for k in read if k in step.tensors and self(k)[0] in ("float32", _HALF)]
            if op.name in black:
                low = False
            elif op.name in white:
                low = True
            else:   # promote to the widest: float16 only when no float input is float32
                low = bool(float_ins) and all(d == _HALF for d, _ in float_ins)
            if low and op.name in white:
                copies = {k: step.tensors[k].nbytes // 2 for k in op.ins
                          if k in step.tensors and self(k)[0] == "float32"}
                if copies:
                    self.casts[i] = copies
            if op.name == "linear" and len(float_ins) > 2 and float_ins[2][0] == "float32":
                low = False    # matmul in float16, then the bias add promoted by its float32 bias (as traced)
            for k in op.outs:
                t = step.tensors[k]
                self.of[k] = _low(t.dtype, t.nbytes) if low else (t.dtype, t.nbytes)


def _saved_bytes(dtypes: AmpDtypes, i: int, k) -> tuple[str, int]:
    """What operation ``i``'s backward keeps of tensor ``k``: its float16
    copy where the operation made one."""
    copy = dtypes.casts.get(i, {}).get(k)
    return (_HALF, copy) if copy is not None else dtypes(k)


def _kept_activations(step: StepLog, dtypes: AmpDtypes) -> tuple[dict, dict, dict]:
    """What the backward keeps: ``(bytes by dtype, kept (op, key) -> bytes,
    bytes each recompute block re-creates)``; inside a recompute block only
    the block's inputs are kept. A parameter is not an activation, but its
    float16 copy made under AMP is."""
    skip = step.parameter_keys
    acts: dict = {}
    kept: dict = {}
    region_saved: dict[int, int] = defaultdict(int)
    produced_in: dict = {}
    for op in step.ops:
        for k in op.outs:
            produced_in.setdefault(k, op.region)
    for i, op in enumerate(step.ops):
        for k in op.saved:
            copied = k in dtypes.casts.get(i, {})
            ident = (i, k) if copied else k
            if (k in skip and not copied) or ident in kept:
                continue
            dtype, n = _saved_bytes(dtypes, i, k)
            if op.region and (copied or produced_in.get(k, 0) == op.region):
                region_saved[op.region] += n
                continue
            kept[ident] = n
            _add(acts, dtype, n)
        if op.saved_extra:
            extra = op.saved_extra // (2 if dtypes.amp else 1)
            if op.region:
                region_saved[op.region] += extra
            else:
                _add(acts, dtypes(op.outs[0])[0] if op.outs else "float32", extra)
    return acts, kept, region_saved


def _forward_peak(step: StepLog, dtypes: AmpDtypes, kept: dict) -> int:
    """Peak bytes of the forward's live tensors in op order: a tensor dies
    after its last use unless the backward keeps it or it is an output."""
    skip = step.parameter_keys
    last_use: dict = {}
    for i, op in enumerate(step.ops):
        for k in op.ins:
            last_use[k] = i
    keep_alive = set(kept) | set(step.outputs)
    alive: dict = {}
    for k in step.inputs:
        if k not in skip:
            alive[k] = dtypes(k)[1]
    live, peak = sum(alive.values()), 0
    for i, op in enumerate(step.ops):
        casts = dtypes.casts.get(i, {})
        live += sum(casts.values())
        for k in op.outs:
            if k not in alive and k not in skip:
                alive[k] = b = dtypes(k)[1]
                live += b
        live += op.saved_extra
        peak = max(peak, live)
        live -= sum(n for k, n in casts.items() if (i, k) not in kept)
        for k in op.ins + op.outs:
            if k in alive and last_use.get(k, -1) <= i and k not in keep_alive:
                live -= alive.pop(k)
    return peak


def _backward_peak(step: StepLog, dtypes: AmpDtypes, kept: dict, region_saved: dict) -> int:
    """Peak bytes of the backward beyond the model state, walking the
    operations in reverse (see :func:`training_memory`)."""
    skip = step.parameter_keys
    last_reader: dict = {}                   # kept (op, key) or key -> the first op (forward order) saving it
    for i, op in enumerate(step.ops):
        for k in op.saved:
            ident = (i, k) if k in dtypes.casts.get(i, {}) else k
            last_reader.setdefault(ident, i)
    live_saved = dict(kept)
    inputs = sum(dtypes(k)[1] for k in step.inputs if k not in skip and k not in kept)
    grads: dict = {k: dtypes(k)[1] for k in step.outputs if k in step.tensors}
    extra = {i: op.saved_extra // (2 if dtypes.amp else 1) for i, op in enumerate(step.ops) if op.saved_extra}
    outside = sum(n for i, n in extra.items() if not step.ops[i].region)
    recreated: set = set()
    live = sum(live_saved.values()) + inputs + outside + sum(grads.values())
    peak = live
    for i in range(len(step.ops) - 1, -1, -1):
        op = step.ops[i]
        if not op.needs:
            continue
        if op.region and op.region not in recreated:
            recreated.add(op.region)
            block = region_saved.get(op.region, 0)
            live += block
            for j, other in enumerate(step.ops):
                if other.region == op.region:
                    for k in other.saved:
                        ident = (j, k) if k in dtypes.casts.get(j, {}) else k
                        if ident not in live_saved and (k not in skip or ident != k):
                            live_saved[ident] = _saved_bytes(dtypes, j, k)[1]
                            block -= live_saved[ident]
            live -= block          # what the block re-creates is now tracked tensor by tensor
        fresh = 0
        for k in op.needs:
            n = dtypes(k)[1]
            if k in skip or k in grads:
                fresh += n                 # added into .grad (or into the gradient so far), then freed
            else:
                grads[k] = n
                live += n
        peak = max(peak, live + fresh)
        for k in op.outs:
            live -= grads.pop(k, 0)
        for k in op.saved:
            ident = (i, k) if k in dtypes.casts.get(i, {}) else k
            if last_reader.get(ident) == i and ident in live_saved:
                live -= live_saved.pop(ident)
        if i in extra:
            live -= extra[i]
    return peak


def optimizer_state_bytes(trainable: Iterable[TensorBytes], optimizer: str | None, amp: str | None) -> dict:
    """Per parameter: the optimizer's fp32 state values per element (momentum
    1, Adam/AdamW 2) and per-tensor fp32 scalars (Adam's beta1/beta2 powers);
    under AMP O2 also an fp32 master copy of each trainable parameter
    ``amp.decorate`` casts to float16 (none of those it keeps in float32)."""
    out: dict = {}
    per_element, per_tensor = OPTIMIZER_STATES.get(optimizer, (0, 0)) if optimizer else (0, 0)
    for p in trainable:
        n = p.numel
        low = amp == "O2" and not p.keeps_fp32
        state_dtype = "float32" if low or p.dtype in ("float16", "bfloat16") else p.dtype
        size = 4 if state_dtype == "float32" else p.element_size
        _add(out, state_dtype, per_element * n * size + per_tensor * 4)
        if low and optimizer is not None:
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
