"""Training cost: backward and optimizer-step counts, recomputation, memory.

``profile(..., training=True)`` runs the forward once (eager, inside the same
profiling session and guards as any profile) with gradients *enabled*, so
Paddle itself decides which tensors need a gradient (``stop_gradient`` of
parameters, of real inputs, and of everything computed from them). Every
operation is observed through the attribution core's ``on_op_record`` hook
with its tensors; its backward is priced by the gradient formula of the
forward op (:mod:`paddle_flops_ext.formulas.gradients`), counting only the
inputs that need a gradient - so a frozen layer costs no weight gradient and
nothing below the lowest layer that needs a gradient is counted. No backward
is run: nothing is left on the model (no ``.grad``), no optimizer is stepped.

``paddle.distributed.fleet.utils.recompute(fn, *args)`` is replaced during
the profile by a call of ``fn(*args)`` whose operations are marked: their
forward is counted once more in ``hardware_flops`` (and their saved tensors
are not kept: only the block's inputs are).

The optimizer step costs the per-element formula of the optimizer's update
op (:mod:`paddle_flops_ext.formulas.optimizer`) on every trainable parameter
element. Memory (bytes, by dtype) comes from the same op records: parameters,
gradients (trainable parameters), optimizer states, activations (the forward
tensors the backward keeps, per the gradient formulas' ``saves``) and a peak
from the order of operations.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import paddle

from .collect.core import (Attribution, Collection, EagerShapes, bind_legacy_arguments, bind_op_arguments,
                           bracket_layer_calls, guard_model, guard_process, tensor_shapes)
from .collect.intercept import observe_ops, replace_everywhere
from .formulas import gradients, registry
from .formulas.optimizer import PER_ELEMENT
from .formulas.registry import ZERO, Cost

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
AMP_LEVELS = (None, False, True, "O1", "O2")

# optimizer -> (fp32 state values per parameter element, fp32 scalars per parameter tensor)
OPTIMIZER_STATES = {
    "sgd": (0, 0), "momentum": (1, 0), "adam": (2, 2), "adamw": (2, 2), "lamb": (2, 2),
    "adamax": (2, 1), "adagrad": (1, 0), "rmsprop": (2, 0), "adadelta": (2, 0),
}
_OPTIMIZER_CLASSES = {"sgd": "sgd", "momentum": "momentum", "adam": "adam", "adamw": "adamw", "lamb": "lamb",
                      "adamax": "adamax", "adagrad": "adagrad", "rmsprop": "rmsprop", "adadelta": "adadelta"}


def optimizer_name(optimizer) -> str | None:
    """``None`` / a name / a ``paddle.optimizer.Optimizer`` -> the update op's name."""
    if optimizer is None:
        return None
    if isinstance(optimizer, str):
        name = optimizer.lower()
        if name not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(map(repr, OPTIMIZERS))}, None or a "
                             f"paddle.optimizer.Optimizer, got {optimizer!r}")
        return name
    if isinstance(optimizer, paddle.optimizer.Optimizer):
        name = _OPTIMIZER_CLASSES.get(type(optimizer).__name__.lower())
        if name is None:
            for base in type(optimizer).__mro__:
                name = _OPTIMIZER_CLASSES.get(base.__name__.lower())
                if name:
                    break
        if name is None:
            raise ValueError(f"no step formula for optimizer {type(optimizer).__name__}; use one of "
                             f"{', '.join(sorted(_OPTIMIZER_CLASSES))}")
        return name
    raise TypeError(f"optimizer must be None, a name ({', '.join(OPTIMIZERS)}) or a "
                    f"paddle.optimizer.Optimizer, got {type(optimizer).__name__}")


def check_amp(amp):
    if amp not in AMP_LEVELS:
        raise ValueError(f"amp must be False, True (= 'O2'), 'O1' or 'O2', got {amp!r}")
    return {True: "O2", False: None}.get(amp, amp)


# --------------------------------------------------------------------------- records

@dataclass
class OpEvent:
    record: object                 # LayerRecord of the innermost layer (None outside layers)
    name: str
    outs: list                     # output tensors
    ins: list                      # input tensors (flattened)
    saved: list                    # tensors the backward keeps
    saved_extra: int = 0           # extra bytes the kernel saves
    region: int = 0                # recompute block (0: none)


@dataclass
class LayerTraining:
    backward: Cost = ZERO
    optimizer: Cost = ZERO
    recompute: Cost = ZERO
    backward_ops: dict = field(default_factory=lambda: defaultdict(lambda: {"calls": 0, "macs": 0, "flops": 0}))
    uncounted: dict = field(default_factory=lambda: defaultdict(int))


@dataclass
class Training:
    """What the training analysis hands to the result builder."""
    per_layer: dict                # LayerRecord path -> LayerTraining
    optimizer: str | None
    amp: str | None
    memory: dict
    notes: list = field(default_factory=list)


def _tensors(value) -> list:
    if isinstance(value, paddle.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


def _tensor_or_none(value):
    return value if isinstance(value, paddle.Tensor) else None


def _shape_of(value):
    return tuple(value.shape) if isinstance(value, paddle.Tensor) else None


_DTYPE_SIZE = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "int16": 2,
               "int8": 1, "uint8": 1, "bool": 1, "complex64": 8, "complex128": 16,
               "float8_e4m3fn": 1, "float8_e5m2": 1}


def nbytes(t, shape=None) -> int:
    """Bytes of an eager tensor, a (lazy) parameter or a PIR value."""
    dims = t.shape if shape is None else shape
    return int(math.prod(int(d) for d in dims)) * _DTYPE_SIZE.get(_dtype(t), 4)


class Recorder:
    """The ``on_op_record`` observer: one :class:`OpEvent` per operation,
    backward costs per layer. Works on eager tensors (keyed by identity, kept
    alive while recording) and on PIR values (trace mode: keyed by hash)."""

    def __init__(self, options, key=id, shape_of=_shape_of, size_of=None):
        self.options = options
        self.key, self.shape_of = key, shape_of
        self.size_of = size_of or nbytes
        self.events: list[OpEvent] = []
        self.layers: dict = defaultdict(LayerTraining)
        self.region = 0
        self.regions = 0
        self.uses: dict = defaultdict(int)        # key(tensor) -> consumers needing its gradient
        self.producer: dict = {}
        self.keep: dict = {}                      # every tensor seen (ids stay unique)
        self.params: set = set()                  # keys of parameter tensors (not activations)
        self.marks = None                         # trace: op-creation positions of recompute blocks
        self.spans: list = []

    def __call__(self, record, name, args, kwargs, out):
        """Eager: bind an op call's arguments by name, then :meth:`add`."""
        spec = registry.lookup_op(name)
        arg_names = spec.args if spec is not None else gradients.argument_names(name)
        if kwargs is None:
            tensors, attrs = bind_legacy_arguments(arg_names, args, _tensor_or_none)
        else:
            tensors, attrs = bind_op_arguments(arg_names, args, kwargs, _tensor_or_none)
        self.add(record, name, tensors, attrs, _tensors(out))

    def add(self, record, name, tensors: dict, attrs: dict, outs: list):
        """One operation: ``tensors`` maps argument names to tensors (a list
        for a list argument, None when absent), ``outs`` its output tensors."""
        key, shape_of = self.key, self.shape_of
        spec = registry.lookup_op(name)
        flat = [t for v in tensors.values() if v is not None for t in (v if isinstance(v, list) else [v])]
        for t in flat + outs:
            self.keep[key(t)] = t
        for t in outs:
            self.producer.setdefault(key(t), record)
        event = OpEvent(record, name, outs, flat, [], 0, self.region)
        self.events.append(event)
        needs = [n for n, v in tensors.items() if v is not None and not isinstance(v, list) and not v.stop_gradient]
        needs += [f"{n}[{i}]" for n, v in tensors.items() if isinstance(v, list)
                  for i, t in enumerate(v) if not t.stop_gradient]
        needs += list({n.split("[")[0] for n in needs if "[" in n})
        if not needs:
            return
        for n, v in tensors.items():
            if isinstance(v, list):
                for i, t in enumerate(v):
                    if f"{n}[{i}]" in needs:
                        self.uses[key(t)] += 1
            elif v is not None and n in needs:
                self.uses[key(v)] += 1
        ins = {n: (None if v is None else [shape_of(t) for t in v] if isinstance(v, list) else shape_of(v))
               for n, v in tensors.items()}
        out_shapes = [shape_of(t) for t in outs]
        forward = spec.cost(ins, out_shapes, attrs, self.options) if spec is not None else ZERO
        layer = self.layers[record.path if record is not None else ""]
        if self.region:
            layer.recompute = layer.recompute + forward
        gspec = gradients.lookup_grad(name)
        if gspec is None:
            if gradients.free_gradient_reason(name) is None:
                layer.uncounted[registry.canonical_op_name(name)] += 1
            return
        cost = gspec.cost(ins, out_shapes, attrs, needs, forward)
        layer.backward = layer.backward + cost
        stat = layer.backward_ops[gspec.name]
        stat["calls"] += 1
        stat["macs"] += cost.macs
        stat["flops"] += cost.flops
        names, extra = gradients.grad_saves(gspec, ins, out_shapes, attrs, needs, forward)
        for n in names:
            if n == "out":
                event.saved.extend(outs[:1])
            else:
                v = tensors.get(n)
                event.saved.extend(v if isinstance(v, list) else [v] if v is not None else [])
        if extra and outs:
            event.saved_extra = int(extra) * (self.size_of(outs[0]) // max(math.prod(out_shapes[0]), 1))

    def accumulation(self) -> None:
        """A tensor whose gradient comes from several consumers: (uses - 1)
        x numel adds, charged where it was produced."""
        for key, uses in self.uses.items():
            if uses > 1:
                t = self.keep[key]
                rec = self.producer.get(key)
                layer = self.layers[rec.path if rec is not None else ""]
                n = int(math.prod(self.shape_of(t))) * (uses - 1)
                layer.backward = layer.backward + Cost(0, n, 0)
                stat = layer.backward_ops["gradient accumulation"]
                stat["calls"] += uses - 1
                stat["flops"] += n


# --------------------------------------------------------------------------- recompute

def _patch_recompute(patches, recorder: Recorder, modules) -> None:
    try:
        from paddle.distributed.fleet import utils as fleet_utils
        original = fleet_utils.recompute
    except Exception:  # noqa: BLE001 - no distributed package: nothing to patch
        return
    recompute_kwargs = ("preserve_rng_state", "use_reentrant", "offload_indices", "custom_get_state_func",
                        "custom_set_state_func")

    def recompute(function, *args, **kwargs):
        for k in recompute_kwargs:
            kwargs.pop(k, None)
        recorder.regions += 1
        outer, recorder.region = recorder.region, recorder.regions
        marks = recorder.marks if not paddle.in_dynamic_mode() else None
        lo = marks() if marks is not None else 0
        try:
            return function(*args, **kwargs)
        finally:
            recorder.region = outer
            if marks is not None:
                recorder.spans.append((lo, marks(), recorder.regions if not outer else outer))

    recompute.__wrapped__ = original
    replace_everywhere(patches, original, recompute, modules)


# --------------------------------------------------------------------------- collection

def collect_training(patches, model, args, kwargs, *, overrides=None, options=None, count_functional=True,
                     optimizer=None, amp=None):
    """Run the forward once with gradients enabled; returns the forward
    :class:`Collection` (as ``collect_eager`` counts it) and the
    :class:`Training` figures."""
    from .collect.eager import model_modules
    recorder = Recorder({**registry.DEFAULT_OPTIONS, **(options or {})})
    attribution = Attribution(model, EagerShapes(), overrides, options, count_functional, False,
                              on_op_record=recorder)
    layers = [rec.layer for rec in attribution.order]
    guard_process(patches)
    guard_model(patches, layers)
    bracket_layer_calls(patches, attribution)
    modules = model_modules(layers)
    observe_ops(patches, attribution, modules)
    _patch_recompute(patches, recorder, modules)
    before = _grads_of(model)
    try:
        with paddle.set_grad_enabled(True):
            output = model(*args, **kwargs)
    except (Exception, MemoryError) as exc:
        raise attribution.explain(exc) from exc
    recorder.accumulation()
    outputs = _tensors(output)
    name = optimizer_name(optimizer)
    amp = check_amp(amp)
    trainable = _trainable(model, optimizer)
    _charge_optimizer(recorder, attribution.order, trainable, name)
    inputs = _tensors([list(args), kwargs])
    memory = estimate_memory(model, recorder, outputs, inputs, trainable, name, amp)
    _restore_grads(model, before)
    del output, outputs
    collection = Collection(model, attribution.order, tensor_shapes([list(args), kwargs]), "eager")
    notes = []
    if recorder.regions:
        notes.append(f"{recorder.regions} recompute call(s): their forward is counted again in hardware_flops")
    training = Training(dict(recorder.layers), name, amp, memory, notes)
    recorder.keep.clear()
    recorder.events.clear()
    return collection, training


def _grads_of(model) -> dict:
    return {id(p): p.grad for p in model.parameters()}


def _restore_grads(model, before) -> None:
    """No backward runs, so nothing should change; clear any gradient that
    appeared (a forward that calls ``backward`` itself)."""
    for p in model.parameters():
        if before.get(id(p)) is None and p.grad is not None:
            p.clear_gradient(False)


def _trainable(model, optimizer) -> list:
    params = None
    if isinstance(optimizer, paddle.optimizer.Optimizer):
        plist = getattr(optimizer, "_parameter_list", None) or []
        params = []
        for p in plist:
            if isinstance(p, dict):
                params.extend(p.get("params", []))
            else:
                params.append(p)
    if not params:
        params = model.parameters()
    seen, out = set(), []
    for p in params:
        if id(p) not in seen and not p.stop_gradient:
            seen.add(id(p))
            out.append(p)
    return out


def _charge_optimizer(recorder, order, trainable, name) -> None:
    if name is None:
        return
    owner = {}
    for rec in order:
        for p in rec.layer._parameters.values():
            if p is not None:
                owner.setdefault(id(p), rec.path)
    per = PER_ELEMENT[name]
    for p in trainable:
        layer = recorder.layers[owner.get(id(p), "")]
        layer.optimizer = layer.optimizer + Cost(0, per * int(math.prod(p.shape)), 0)


# --------------------------------------------------------------------------- memory

def _dtype(t) -> str:
    name = str(t.dtype).replace("paddle.", "")
    return {"float": "float32", "double": "float64", "half": "float16"}.get(name, name)


def _add(table: dict, dtype: str, n: int) -> None:
    if n:
        table[dtype] = table.get(dtype, 0) + int(n)


_HALF = "float16"


def estimate_memory(model, recorder, outputs, inputs, trainable, optimizer, amp) -> dict:
    """Bytes by dtype: parameters (and buffers), gradients, optimizer states,
    activations, and the peak (see :func:`memory_dict`)."""
    params: dict = {}
    seen_params = set()
    for p in list(model.parameters()) + [b for b in model.buffers() if b is not None]:
        if id(p) in seen_params:
            continue
        seen_params.add(id(p))
        dtype, n = _dtype(p), nbytes(p)
        if amp == "O2" and dtype == "float32" and not p.stop_gradient:
            dtype, n = _HALF, n // 2
        _add(params, dtype, n)
    grads: dict = {}
    for p in trainable:
        dtype, n = _dtype(p), nbytes(p)
        if amp == "O2" and dtype == "float32":
            dtype, n = _HALF, n // 2
        _add(grads, dtype, n)
    states = optimizer_state_bytes(trainable, optimizer, amp)
    # activations: what the backward keeps; inside a recompute block only the block's inputs
    key = recorder.key
    skip = recorder.params | seen_params

    def ab(t):
        dtype, n = _dtype(t), recorder.size_of(t)
        if amp and dtype == "float32":
            return _HALF, n // 2
        return dtype, n

    acts: dict = {}
    kept: dict = {}
    region_saved: dict[int, int] = defaultdict(int)
    produced_in: dict = {}
    for ev in recorder.events:
        for t in ev.outs:
            produced_in.setdefault(key(t), ev.region)
    for ev in recorder.events:
        for t in ev.saved:
            k = key(t)
            if k in skip or k in kept:
                continue
            if ev.region and produced_in.get(k, 0) == ev.region:
                region_saved[ev.region] += ab(t)[1]
                continue
            kept[k] = t
        if ev.saved_extra:
            if ev.region:
                region_saved[ev.region] += ev.saved_extra // (2 if amp else 1)
            else:
                _add(acts, ab(ev.outs[0])[0] if ev.outs else "float32", ev.saved_extra // (2 if amp else 1))
    for t in kept.values():
        _add(acts, *ab(t))
    activations = sum(acts.values())
    # peak of the forward: live tensors in op order (a tensor dies after its last use unless kept)
    last_use: dict = {}
    for i, ev in enumerate(recorder.events):
        for t in ev.ins:
            last_use[key(t)] = i
    keep_alive = set(kept) | {key(t) for t in outputs}
    alive: dict = {}
    for t in inputs:
        if key(t) not in skip:
            alive[key(t)] = ab(t)[1]
    live, fwd_peak, biggest = sum(alive.values()), 0, 0
    for i, ev in enumerate(recorder.events):
        for t in ev.outs:
            k = key(t)
            if k not in alive and k not in skip:
                alive[k] = b = ab(t)[1]
                live += b
                biggest = max(biggest, b)
        live += ev.saved_extra
        fwd_peak = max(fwd_peak, live)
        for t in ev.ins + ev.outs:
            k = key(t)
            if k in alive and last_use.get(k, -1) <= i and k not in keep_alive:
                live -= alive.pop(k)
    trained = bool(trainable) or activations
    p_bytes, g_bytes, s_bytes = sum(params.values()), sum(grads.values()), sum(states.values())
    backward_peak = activations + max(region_saved.values(), default=0) + 2 * biggest if trained else 0
    peak = p_bytes + g_bytes + s_bytes + max(fwd_peak, backward_peak)
    return memory_dict(params, grads, states, acts, peak, optimizer, amp)


def optimizer_state_bytes(trainable, optimizer, amp) -> dict:
    """Per parameter: the optimizer's fp32 state values per element (momentum
    1, Adam/AdamW 2) and per-tensor fp32 scalars (Adam's beta1/beta2 powers);
    under AMP O2 also an fp32 master copy of each trainable parameter."""
    out: dict = {}
    per_element, per_tensor = OPTIMIZER_STATES.get(optimizer, (0, 0)) if optimizer else (0, 0)
    for p in trainable:
        n = int(math.prod(p.shape))
        dtype = _dtype(p)
        state_dtype = "float32" if amp == "O2" or dtype in ("float16", "bfloat16") else dtype
        size = 4 if state_dtype == "float32" else p.element_size()
        _add(out, state_dtype, per_element * n * size + per_tensor * 4)
        if amp == "O2" and optimizer is not None:
            _add(out, "float32", 4 * n)   # master weight
    return out


def memory_dict(params, grads, states, acts, peak, optimizer, amp) -> dict:
    return {
        "parameters": sum(params.values()), "gradients": sum(grads.values()),
        "optimizer_states": sum(states.values()), "activations": sum(acts.values()), "peak": int(peak),
        "by_dtype": {"parameters": dict(params), "gradients": dict(grads), "optimizer_states": dict(states),
                     "activations": dict(acts)},
        "optimizer": optimizer, "amp": amp,
    }


def inference_memory(model, result) -> dict:
    """Inference (and trace mode): parameters and buffers exactly; no
    gradients, states or kept activations; peak = parameters + the largest
    input + output of any layer that ran (from the recorded shapes, at the
    parameters' float dtype)."""
    params: dict = {}
    seen = set()
    float_size = 4
    if model is not None:
        for p in list(model.parameters()) + [b for b in model.buffers() if b is not None]:
            if id(p) in seen:
                continue
            seen.add(id(p))
            dtype = _dtype(p)
            if dtype.startswith(("float", "bfloat")):
                float_size = p.element_size()
            _add(params, dtype, int(math.prod(p.shape)) * p.element_size())
    largest = 0
    for node in result.root.walk():
        if node.called:
            n = sum(int(math.prod(s)) for s in node.input_shape) + sum(int(math.prod(s)) for s in node.output_shape)
            largest = max(largest, n * float_size)
    return memory_dict(params, {}, {}, {}, sum(params.values()) + largest, None, None)


# --------------------------------------------------------------------------- trace mode

def collect_trace_training(patches, net, input_size=None, inputs=None, input_spec=None, *, overrides=None,
                           options=None, count_functional=True, dtype=None, optimizer=None, amp=None):
    """Trace mode: the same analysis on the traced program, shape-only.
    Each program operation (composites as one, as in eager) is priced by the
    gradient formula of its forward op, with "needs a gradient" read off the
    PIR values' ``stop_gradient`` (propagated by Paddle while building the
    program, as in eager). Inputs need no gradient (as synthesized eager
    inputs)."""
    from .collect import program as P
    for t in _tensors([list(inputs) if isinstance(inputs, (list, tuple)) else inputs]):
        if not t.stop_gradient:
            raise NotImplementedError("training=True in trace mode treats every input as needing no gradient; "
                                      "an input with stop_gradient=False needs mode='eager'")
    shapes_after: list = []   # the recorder's own shape reader, once the batch is known
    recorder = Recorder({**registry.DEFAULT_OPTIONS, **(options or {})}, key=_value_key,
                        shape_of=lambda v: shapes_after[0].of(v),
                        size_of=lambda v: nbytes(v, shapes_after[0].of(v) or ()))
    recorder.marks = P._Marks()
    composites = []
    from .collect.eager import model_modules
    from .collect.core import layer_records
    _patch_recompute(patches, recorder, model_modules(r.layer for r in layer_records(net)))
    collection, traced = P.trace_and_collect(
        patches, net, input_size, inputs, input_spec, overrides=overrides, options=options,
        count_functional=count_functional, dtype=dtype,
        on_op_record=lambda rec, name, args, kwargs, out: composites.append((rec, name, args, kwargs, out)))
    shapes_after.append(P._Shapes(traced.batch))
    attribution, all_ops = traced.attribution, traced.ops
    final = {id(r) for r in attribution.order}   # calls from failed trace attempts are dropped
    composites = [c for c in composites if c[0] is not None and id(c[0]) in final]
    fshapes = attribution.shapes
    # the backward, op by op in creation order; a composite is one op at its position
    comp_spans = [sp for sp in attribution.spans if sp.record is None]
    outer = [sp for sp in comp_spans if not any(o.lo < sp.lo and sp.hi <= o.hi for o in comp_spans if o is not sp)]
    outer.sort(key=lambda sp: sp.lo)
    layer_spans = [sp for sp in attribution.spans if sp.record is not None]
    items = [(sp.lo, 0, i) for i, sp in enumerate(outer)]
    for op in all_ops:
        name = op.name()
        if name == "builtin.parameter":
            recorder.params.update(_value_key(r) for r in op.results())
        if P._is_plumbing(name) or any(sp.lo < op.id() < sp.hi for sp in outer):
            continue
        items.append((op.id(), 1, op))
    owner = {op.id(): (sp.record if sp is not None else None) for op, sp in P._owners(
        [it[2] for it in items if it[1] == 1], layer_spans)}
    data = [r for op in all_ops if op.name() == "pd_op.data" for r in op.results()]
    for pos, kind, item in sorted(items, key=lambda it: (it[0], it[1])):
        recorder.region = next((reg for lo, hi, reg in recorder.spans if lo < pos < hi), 0)
        if kind == 0:
            rec, name, args, kwargs, out = composites[item]
            spec = registry.lookup_op(name)
            tensors, attrs = bind_op_arguments(spec.args if spec else (), args, kwargs,
                                               lambda v: v if P._is_value(v) else None)
            recorder.add(rec, name, tensors, attrs, [v for v in _flat_values(out, P)])
            continue
        tensors, attrs, outs = _program_op_tensors(item, fshapes, P)
        recorder.add(owner.get(item.id()), item.name(), tensors, attrs, outs)
    recorder.region = 0
    recorder.accumulation()
    name = optimizer_name(optimizer)
    trainable = _trainable(net, optimizer)
    _charge_optimizer(recorder, attribution.order, trainable, name)
    memory = estimate_memory(net, recorder, [], data, trainable, name, check_amp(amp))
    notes = ([f"{recorder.regions} recompute call(s): their forward is counted again in hardware_flops"]
             if recorder.regions else [])
    return collection, Training(dict(recorder.layers), name, check_amp(amp), memory, notes)


def _value_key(v):
    """A PIR value's identity (its Python wrappers differ and hash apart)."""
    return v.id


def _flat_values(out, P) -> list:
    if P._is_value(out):
        return [out]
    if isinstance(out, (list, tuple)):
        return [v for o in out for v in _flat_values(o, P)]
    return []


def _program_op_tensors(op, shapes, P):
    """``(tensors by argument name, attrs, output values)`` of a program op."""
    ins, _, attrs = P._op_arguments(op, shapes)
    try:
        names = list(op.get_input_names())
    except Exception:  # noqa: BLE001
        names = []
    tensors = {}
    for i in range(op.num_operands()):
        name = names[i] if i < len(names) else f"arg{i}"
        if name not in ins:
            continue
        src = op.operand_source(i)
        if src is None or not src.initialized():
            tensors[name] = None
            continue
        producer = src.get_defining_op()
        if producer is not None and producer.name() == "builtin.combine":
            tensors[name] = list(producer.operands_source())
        else:
            tensors[name] = src
    outs = []
    for r in op.results():
        if P._is_vector(r):
            for user in r.all_used_ops():
                if user.name() == "builtin.split":
                    outs.extend(user.results())
                    break
        elif shapes.of(r) is not None:
            outs.append(r)
    return tensors, attrs, outs
