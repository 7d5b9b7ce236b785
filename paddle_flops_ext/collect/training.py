"""The training engine: backward and optimizer-step counts, recomputation,
and what the memory estimate needs, in eager and in trace mode.

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
element. What memory needs of the step - every tensor's dtype and bytes, the
operations in order with what their backward keeps, the parameters - is
handed on as a :class:`~paddle_flops_ext.collect.records.StepLog`;
:mod:`paddle_flops_ext.estimates.memory` prices it.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import paddle

from ..formulas import gradients, registry
from ..formulas.optimizer import PER_ELEMENT
from ..formulas.registry import ZERO, Cost
from .core import Attribution, EagerShapes, bind_legacy_arguments, bind_op_arguments, tensor_shapes
from .eager import call_args
from .inputs import DTYPE_BYTES, dtype_name
from .instrument import instrument, model_modules
from .intercept import replace_everywhere
from .pir import Marks, ValueShapes, flat_values, is_plumbing, is_value, op_tensors, owners, value_key
from .params import parameter_counts
from .patch import observing
from .records import Collection, LayerTraining, OpTensors, StepLog, TensorBytes, TrainingRecords, layer_records
from .request import ProfileRequest
from .trace import trace_and_collect


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
    needs: list = None             # input tensors the backward computes a gradient for


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


def nbytes(t, shape=None) -> int:
    """Bytes of an eager tensor, a (lazy) parameter or a PIR value."""
    dims = t.shape if shape is None else shape
    return int(math.prod(int(d) for d in dims)) * DTYPE_BYTES.get(dtype_name(t.dtype), 4)


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
        self.param_names: dict = {}               # trace: key of a parameter value -> parameter name
        self.notes: list = []
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
        if key is id and not paddle.is_grad_enabled():
            return                                # eager under no_grad: no backward
        needs = [n for n, v in tensors.items() if v is not None and not isinstance(v, list) and not v.stop_gradient]
        needs += [f"{n}[{i}]" for n, v in tensors.items() if isinstance(v, list)
                  for i, t in enumerate(v) if not t.stop_gradient]
        needs += list({n.split("[")[0] for n in needs if "[" in n})
        if not needs:
            return
        event.needs = []
        for n, v in tensors.items():
            if isinstance(v, list):
                for i, t in enumerate(v):
                    if f"{n}[{i}]" in needs:
                        self.uses[key(t)] += 1
                        event.needs.append(t)
            elif v is not None and n in needs:
                self.uses[key(v)] += 1
                event.needs.append(v)
        ins = {n: (None if v is None else [shape_of(t) for t in v] if isinstance(v, list) else shape_of(v))
               for n, v in tensors.items()}
        out_shapes = [shape_of(t) for t in outs]
        if spec is not None and spec.element_size and outs:   # a formula in bytes: the element size
            attrs = {**attrs, "element_size": DTYPE_BYTES.get(dtype_name(outs[0].dtype), 4)}
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

def _no_input_needs_gradient(args) -> bool:
    """Paddle's own test (``check_recompute_necessary``): the tensors among
    the arguments, and inside tuple arguments, all have stop_gradient."""
    tensors = [t for a in args for t in (a if type(a) is tuple else (a,)) if isinstance(t, paddle.Tensor)]
    return all(t.stop_gradient for t in tensors)


def _patch_recompute(patches, recorder: Recorder, modules) -> None:
    try:
        # local: paddle.distributed is optional and may fail to import; then there is nothing to patch
        from paddle.distributed.fleet import utils as fleet_utils
        original = fleet_utils.recompute
    except Exception:  # noqa: BLE001 - no distributed package: nothing to patch
        return
    recompute_kwargs = ("preserve_rng_state", "use_reentrant", "offload_indices", "custom_get_state_func",
                        "custom_set_state_func")

    def recompute(function, *args, **kwargs):
        reentrant = kwargs.get("use_reentrant", True)
        for k in recompute_kwargs:
            kwargs.pop(k, None)
        if reentrant and paddle.in_dynamic_mode() and _no_input_needs_gradient(args):
            # Paddle's reentrant recompute (a PyLayer) then runs the block without gradients: its
            # outputs need none, nothing inside it is trained
            recorder.notes.append("a recompute block none of whose inputs needs a gradient: Paddle computes no "
                                  "gradient through it (nor for its parameters); counted the same way")
            with paddle.no_grad():
                return function(*args, **kwargs)
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


# --------------------------------------------------------------------------- indexing

def _observe_indexing(patches, attribution: Attribution, recorder: Recorder) -> None:
    """Eager ``x[i]`` is a Tensor method no operation wrapper sees, but its
    backward is real: every use feeds the indexed tensor a full-size
    gradient that Paddle sums (``q, k, v = qkv`` adds three). Each indexing
    is reported to the recorder as the ``slice`` a trace holds, so the
    accumulation is counted in both modes alike."""
    tensor = paddle.Tensor
    original = tensor.__dict__["__getitem__"]

    def __getitem__(self, item):
        out = original(self, item)
        if observing() and not attribution.composite_depth and isinstance(out, tensor):
            recorder.add(attribution.stack[-1].record if attribution.stack else None, "slice",
                         {"input": self}, {}, [out])
        return out

    __getitem__.__wrapped__ = original
    patches.setattr(tensor, "__getitem__", __getitem__)


# --------------------------------------------------------------------------- collection

def collect_training(patches, model, request: ProfileRequest) -> tuple[Collection, TrainingRecords]:
    """Run the forward once with gradients enabled; returns the forward
    :class:`Collection` (as ``collect_eager`` counts it) and the
    :class:`TrainingRecords`."""
    args, kwargs = call_args(model, request)
    recorder = Recorder({**registry.DEFAULT_OPTIONS, **request.options})
    attribution = Attribution(model, EagerShapes(), request.overrides, request.options, request.count_functional,
                              False, on_op_record=recorder)
    modules = instrument(patches, attribution)
    _patch_recompute(patches, recorder, modules)
    _observe_indexing(patches, attribution, recorder)
    before = _grads_of(model)
    try:
        with paddle.set_grad_enabled(True):
            output = model(*args, **kwargs)
    except (Exception, MemoryError) as exc:
        raise attribution.explain(exc) from exc
    recorder.accumulation()
    outputs = _tensors(output)
    trainable = _trainable(model, request.optimizer)
    _charge_optimizer(recorder, attribution.order, trainable, request.optimizer_name)
    step = step_log(model, recorder, outputs, _tensors([list(args), kwargs]), trainable)
    _restore_grads(model, before)
    del output, outputs
    collection = Collection(model, attribution.order, tensor_shapes([list(args), kwargs]), "eager")
    collection.parameters = parameter_counts([rec.layer for rec in attribution.order])
    training = TrainingRecords(dict(recorder.layers), request.optimizer_name, request.amp, step,
                               _recompute_notes(recorder))
    recorder.keep.clear()
    recorder.events.clear()
    return collection, training


def _recompute_notes(recorder: Recorder) -> list:
    notes = list(dict.fromkeys(recorder.notes))
    if not recorder.regions:
        return notes
    return [f"{recorder.regions} recompute call(s): their forward is counted again in hardware_flops"] + notes


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


# --------------------------------------------------------------------------- what memory needs

def _parameter_bytes(p, keeps_fp32: bool = False) -> TensorBytes:
    return TensorBytes(dtype_name(p.dtype), nbytes(p), int(math.prod(p.shape)), p.element_size(), not p.stop_gradient,
                       keeps_fp32)


def _kept_fp32(model) -> set:
    """Ids of the parameters and buffers ``paddle.amp.decorate(level="O2")``
    leaves in float32, by Paddle's own rule (``need_keep_fp32``: batch,
    layer and instance norms, and layers marked not to be cast)."""
    try:
        from paddle.amp.auto_cast import need_keep_fp32
    except ImportError:   # an older Paddle: the documented rule, normalisation layers
        norms = (paddle.nn.BatchNorm, paddle.nn.BatchNorm1D, paddle.nn.BatchNorm2D, paddle.nn.BatchNorm3D,
                 paddle.nn.SyncBatchNorm, paddle.nn.LayerNorm, paddle.nn.InstanceNorm1D, paddle.nn.InstanceNorm2D,
                 paddle.nn.InstanceNorm3D)

        def need_keep_fp32(layer, dtype):
            return isinstance(layer, norms)
    kept = set()
    for layer in model.sublayers(include_self=True):
        if need_keep_fp32(layer, "float16"):
            kept.update(id(t) for t in list(layer._parameters.values()) + list(layer._buffers.values())
                        if t is not None)
    return kept


def step_log(model, recorder: Recorder, outputs: list, inputs: list, trainable: list) -> StepLog:
    """The :class:`StepLog` of a recorded forward: plain data, no tensors.
    Gradients: every trainable parameter an operation needing a gradient
    read, as Paddle computes ``.grad`` for each whatever the optimizer's
    parameter list (trace mode: matched by parameter name)."""
    kept_fp32 = _kept_fp32(model)
    parameters, seen, by_key = [], set(), {}
    key, size_of = recorder.key, recorder.size_of
    name_keys: dict = defaultdict(list)
    for k, name in recorder.param_names.items():
        name_keys[name].append(k)
    for p in list(model.parameters()) + [b for b in model.buffers() if b is not None]:
        if id(p) not in seen:
            seen.add(id(p))
            entry = _parameter_bytes(p, id(p) in kept_fp32)
            parameters.append(entry)
            for k in [key(p)] if key is id else name_keys.get(p.name, []):
                by_key[k] = entry
    used = {k for k, n in recorder.uses.items() if n}
    gradients, counted = [], set()
    for k, entry in by_key.items():
        if entry.trainable and k in used and id(entry) not in counted:
            counted.add(id(entry))
            gradients.append(entry)
    tensors = {k: TensorBytes(dtype_name(t.dtype), size_of(t)) for k, t in recorder.keep.items()}
    for t in inputs + outputs:
        tensors.setdefault(key(t), TensorBytes(dtype_name(t.dtype), size_of(t)))
    ops = [OpTensors([key(t) for t in ev.outs], [key(t) for t in ev.ins], [key(t) for t in ev.saved],
                     ev.saved_extra, ev.region, registry.canonical_op_name(ev.name),
                     tuple(key(t) for t in ev.needs or ())) for ev in recorder.events]
    trainable_bytes = [_parameter_bytes(p, id(p) in kept_fp32) for p in trainable]
    return StepLog(tensors, ops, parameters, trainable_bytes, recorder.params | seen | set(by_key),
                   [key(t) for t in inputs], [key(t) for t in outputs], gradients, by_key)


# --------------------------------------------------------------------------- trace mode

def collect_trace_training(patches, net, request: ProfileRequest) -> tuple[Collection, TrainingRecords]:
    """Trace mode: the same analysis on the traced program, shape-only.
    Each program operation (composites as one, as in eager) is priced by the
    gradient formula of its forward op, with "needs a gradient" read off the
    PIR values' ``stop_gradient`` (propagated by Paddle while building the
    program, as in eager). Inputs need no gradient (as synthesized eager
    inputs)."""
    inputs = request.inputs
    for t in _tensors([list(inputs) if isinstance(inputs, (list, tuple)) else inputs]):
        if not t.stop_gradient:
            raise NotImplementedError("training=True in trace mode treats every input as needing no gradient; "
                                      "an input with stop_gradient=False needs mode='eager'")
    shapes_after: list = []   # the recorder's own shape reader, once the batch is known
    recorder = Recorder({**registry.DEFAULT_OPTIONS, **request.options}, key=value_key,
                        shape_of=lambda v: shapes_after[0].of(v),
                        size_of=lambda v: nbytes(v, shapes_after[0].of(v) or ()))
    recorder.marks = Marks()
    composites = []
    _patch_recompute(patches, recorder, model_modules(r.layer for r in layer_records(net)))
    collection, traced = trace_and_collect(
        patches, net, request,
        on_op_record=lambda rec, name, args, kwargs, out: composites.append((rec, name, args, kwargs, out)))
    shapes_after.append(ValueShapes(traced.batch))
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
            recorder.params.update(value_key(r) for r in op.results())
            for r in op.results():
                recorder.param_names[value_key(r)] = op.attrs().get("parameter_name")
        if is_plumbing(name) or any(sp.lo < op.id() < sp.hi for sp in outer):
            continue
        items.append((op.id(), 1, op))
    owner = {op.id(): (sp.record if sp is not None else None) for op, sp in owners(
        [it[2] for it in items if it[1] == 1], layer_spans)}
    data = [r for op in all_ops if op.name() == "pd_op.data" for r in op.results()]
    for pos, kind, item in sorted(items, key=lambda it: (it[0], it[1])):
        recorder.region = next((reg for lo, hi, reg in recorder.spans if lo < pos < hi), 0)
        if kind == 0:
            rec, name, args, kwargs, out = composites[item]
            spec = registry.lookup_op(name)
            tensors, attrs = bind_op_arguments(spec.args if spec else (), args, kwargs,
                                               lambda v: v if is_value(v) else None)
            recorder.add(rec, name, tensors, attrs, flat_values(out))
            continue
        tensors, attrs, outs = op_tensors(item, fshapes)
        recorder.add(owner.get(item.id()), item.name(), tensors, attrs, outs)
    recorder.region = 0
    recorder.accumulation()
    trainable = _trainable(net, request.optimizer)
    _charge_optimizer(recorder, attribution.order, trainable, request.optimizer_name)
    step = step_log(net, recorder, [], data, trainable)
    built = sum(collection.parameters.trainable) - sum(p.numel for p in step.trainable)
    if built > 0 and not isinstance(request.optimizer, paddle.optimizer.Optimizer):
        collection.inexact.append(f"INEXACT: {built:,} trainable parameter element(s) were built during the traced "
                                  f"forward: counted in params, but not in the optimizer step or training memory "
                                  f"of trace mode; mode='eager' counts them")
    return collection, TrainingRecords(dict(recorder.layers), request.optimizer_name, request.amp, step,
                                       _recompute_notes(recorder))
