"""Eager collection: run the model once and record what ran, with which
shapes, inside which layer.

Layers are observed by bracketing ``Layer.__call__`` (patched on the class for
the duration of the forward, nothing is attached to the model); operations with
:class:`~paddle_flops_ext.collect.intercept.Interceptor`. Each piece of work is
counted exactly once:

* a layer with a formula (built-in or user) is counted by that formula, and the
  operations it runs *directly* are not counted again (its sub-layers still
  count themselves);
* any other layer (a container, a custom layer without a formula, and
  ``MultiHeadAttention``, whose QK^T, softmax and weights x V are its own
  operations while its ``Linear`` children count the projections) is counted
  through the operations it runs directly.

The engine only looks formulas up; it produces :class:`LayerRecord` objects
keyed by layer path, which :mod:`paddle_flops_ext.report` turns into a result.
"""
from __future__ import annotations

import gc
import time
from collections import defaultdict
from dataclasses import dataclass, field

import paddle

from ..formulas import registry
from ..formulas.registry import ZERO, Cost, LayerSpec
from .intercept import Interceptor


def tensor_shapes(value) -> list[tuple]:
    """Shapes of every tensor in a (nested) value, in order."""
    if isinstance(value, paddle.Tensor):
        return [tuple(value.shape)]
    out: list[tuple] = []
    if isinstance(value, (list, tuple)):
        for v in value:
            if isinstance(v, paddle.Tensor):
                out.append(tuple(v.shape))
            elif isinstance(v, (list, tuple, dict)):
                out.extend(tensor_shapes(v))
    elif isinstance(value, dict):
        for v in value.values():
            out.extend(tensor_shapes(v))
    return out


@dataclass
class OpStat:
    calls: int = 0
    cost: Cost = ZERO


@dataclass
class LayerRecord:
    path: str
    layer: object
    calls: int = 0
    input_shapes: list = field(default_factory=list)   # of the first call
    output_shapes: list = field(default_factory=list)
    cost: Cost = ZERO                  # own work: formula + direct ops
    counted_by: str = "ops"            # formula | user | legacy | ops
    ops: dict = field(default_factory=lambda: defaultdict(OpStat))
    unknown_ops: dict = field(default_factory=lambda: defaultdict(int))
    zero_ops: dict = field(default_factory=lambda: defaultdict(int))
    seconds: float = 0.0               # inclusive wall time of its calls


def layer_records(model) -> list[LayerRecord]:
    """One record per distinct layer, in ``named_sublayers`` order (a layer
    reachable under two names keeps the first)."""
    records, seen = [], set()
    for path, layer in model.named_sublayers(include_self=True):
        if id(layer) not in seen:
            seen.add(id(layer))
            records.append(LayerRecord(path, layer))
    return records


class ForwardError(ValueError):
    """The model's forward raised while being profiled."""


class EagerCollector:
    def __init__(self, model, layer_overrides=None, count_ops=True, time_layers=False, options=None):
        self.model = model
        self.options = {**registry.DEFAULT_OPTIONS, **(options or {})}
        self.overrides = layer_overrides or {}
        self.count_ops = count_ops
        self.time_layers = time_layers
        self.records: dict[int, LayerRecord] = {}
        self.order: list[LayerRecord] = []
        # frame: [record, counted by a formula?, start time, call inputs]
        self.stack: list[list] = []
        self.composite_depth = 0
        self.specs: dict[type, LayerSpec | None] = {}

    # -- layers ----------------------------------------------------------
    def _spec(self, layer) -> LayerSpec | None:
        t = type(layer)
        if t not in self.specs:
            self.specs[t] = registry.lookup_layer(t, self.overrides)
        return self.specs[t]

    def _enter(self, rec: LayerRecord, inputs, kwargs):
        self.stack.append([rec, self._spec(rec.layer) is not None,
                           time.perf_counter() if self.time_layers else 0.0,
                           (inputs, kwargs) if kwargs else inputs])

    def _leave(self, rec: LayerRecord, inputs, kwargs, output):
        frame = self.stack.pop()
        if self.time_layers:
            rec.seconds += time.perf_counter() - frame[2]
        rec.calls += 1
        in_shapes = tensor_shapes(frame[3])
        out_shapes = tensor_shapes(output)
        if rec.calls == 1:
            rec.input_shapes, rec.output_shapes = in_shapes, out_shapes
        spec = self._spec(rec.layer)
        if spec is not None:
            cost, how = evaluate_layer(spec, rec.layer, inputs, output, in_shapes, out_shapes)
            rec.cost = rec.cost + cost
            rec.counted_by = how

    def _call_patch(self):
        """A replacement for ``Layer.__call__`` that brackets every call of a
        layer of this model. Patching the class (restored afterwards) touches no
        layer instance and costs less than a pair of hooks on every layer."""
        original = paddle.nn.Layer.__dict__["__call__"]
        records, enter, leave = self.records, self._enter, self._leave

        def __call__(layer, *inputs, **kwargs):
            rec = records.get(id(layer))
            if rec is None or rec.layer is not layer:
                return original(layer, *inputs, **kwargs)
            enter(rec, inputs, kwargs)
            output = original(layer, *inputs, **kwargs)
            leave(rec, inputs, kwargs, output)
            return output

        __call__.__wrapped__ = original
        return original, __call__

    # -- operations ------------------------------------------------------
    def _on_op(self, name, args, kwargs, out):
        if not self.stack or self.stack[-1][1] or self.composite_depth:
            return
        self._count_op(self.stack[-1][0], name, args, kwargs, out)

    def _count_op(self, rec: LayerRecord, name, args, kwargs, out):
        spec = registry.lookup_op(name)
        if spec is None:
            if registry.zero_cost_reason(name) is not None:
                rec.zero_ops[registry.canonical_op_name(name)] += 1
            else:
                rec.unknown_ops[registry.canonical_op_name(name)] += 1
            return
        ins, attrs = bind_op_arguments(spec.args, args, kwargs)
        registry.apply_options(attrs, self.options)
        cost = spec.cost(ins, tensor_shapes(out), attrs)
        stat = rec.ops[spec.name]
        stat.calls += 1
        stat.cost = stat.cost + cost
        rec.cost = rec.cost + cost

    def _on_composite_enter(self, name):
        counting = bool(self.stack) and not self.stack[-1][1] and not self.composite_depth
        self.composite_depth += 1
        return counting

    def _on_composite_exit(self, counting, name, args, kwargs, out, failed):
        self.composite_depth -= 1
        if counting and not failed:
            self._count_op(self.stack[-1][0], name, args, kwargs, out)

    # -- run -------------------------------------------------------------
    def run(self, args: tuple, kwargs: dict):
        model = self.model
        self.order = layer_records(model)
        self.records = {id(rec.layer): rec for rec in self.order}
        modes = {id(rec.layer): (rec.layer, rec.layer.training) for rec in self.order}
        translator = paddle.jit.dy2static.program_translator.ProgramTranslator()
        to_static_was = translator.enable_to_static
        extra_modules = _model_modules(model, [rec.layer for rec in self.order])
        gc_was = gc.isenabled()
        gc.disable()  # a collection pass over Paddle's heap mid-profile costs more than the forward of small nets
        original_call, patched_call = self._call_patch()
        try:
            paddle.nn.Layer.__call__ = patched_call
            # eval mode by the per-layer flag only: Layer.eval() also flips the
            # global tracer mode, which we would have to restore, and the next
            # forward after that flip runs markedly slower.
            for layer, _ in modes.values():
                layer.__dict__["training"] = False  # what Layer.__setattr__ does for a bool, minus its checks
            translator.enable_to_static = False  # run @to_static forwards eagerly so hooks fire
            with paddle.no_grad():
                if self.count_ops:
                    with Interceptor(self._on_op, self._on_composite_enter,
                                     self._on_composite_exit, extra_modules):
                        output = model(*args, **kwargs)
                else:
                    output = model(*args, **kwargs)
        except Exception as exc:
            raise self._explain(exc) from exc
        finally:
            paddle.nn.Layer.__call__ = original_call
            for layer, training in modes.values():
                layer.__dict__["training"] = training
            translator.enable_to_static = to_static_was
            if gc_was:
                gc.enable()
        return output

    def _explain(self, exc: Exception) -> Exception:
        if not self.stack:
            return ForwardError(f"the model's forward raised before any layer ran: "
                                f"{type(exc).__name__}: {_first_line(exc)}")
        rec, _, _, inputs = self.stack[-1]
        where = rec.path or "<root>"
        chain = " > ".join((f[0].path or type(f[0].layer).__name__) for f in self.stack)
        shapes = ", ".join(str(list(s)) for s in tensor_shapes(inputs)) or "no tensors"
        return ForwardError(
            f"forward failed in layer '{where}' ({type(rec.layer).__name__}) "
            f"called with input shape(s) {shapes}; call chain: {chain}. "
            f"Check input_size / inputs against what this layer expects. "
            f"Original error: {type(exc).__name__}: {_first_line(exc)}")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not set(line) <= set("-=_ "):
            return line[:400]
    return text[:400]


def _model_modules(model, layers=None):
    """Python modules that define the model's layer classes (user code may hold
    its own aliases of Paddle ops there)."""
    import sys
    names = set()
    for layer in (layers if layers is not None else model.sublayers(include_self=True)):
        mod = type(layer).__module__
        if mod and not mod.startswith("paddle"):
            names.add(mod)
    return [sys.modules[n] for n in names if n in sys.modules]


def _eager_shape(value):
    return tuple(value.shape) if isinstance(value, paddle.Tensor) else None


def bind_op_arguments(arg_names, args, kwargs, shape_of=_eager_shape):
    """Split an op call into tensor shapes and attributes by argument name.
    ``shape_of(value)`` gives a tensor's shape and None for anything else (the
    trace engine passes one that understands program values)."""
    ins, attrs = {}, {}
    items = list(zip(arg_names, args))
    if len(args) > len(arg_names):
        items += [(f"arg{i}", a) for i, a in enumerate(args) if i >= len(arg_names)]
    items += list(kwargs.items())
    for name, value in items:
        shape = shape_of(value)
        if shape is not None:
            ins[name] = shape
            continue
        if isinstance(value, (list, tuple)) and value:
            shapes = [shape_of(v) for v in value]
            if all(s is not None for s in shapes):
                ins[name] = shapes
                continue
        if value is None:
            ins[name] = None
        attrs[name] = value
    return ins, attrs


# --------------------------------------------------------------------------
# evaluating a layer's formula (built-in, user, or paddle.flops-style)
# --------------------------------------------------------------------------

def evaluate_layer(spec: LayerSpec, layer, inputs, output, in_shapes=None, out_shapes=None) -> tuple[Cost, str]:
    if spec.kind == "builtin":
        if in_shapes is None:
            in_shapes, out_shapes = tensor_shapes(inputs), tensor_shapes(output)
        return spec.fn(layer, in_shapes, out_shapes), "formula"
    return call_user_handler(spec.fn, layer, inputs, output)


def call_user_handler(fn, layer, inputs, output) -> tuple[Cost, str]:
    """Run a user handler. It may return a Cost, a dict, an int (MACs), or -
    paddle.flops style - return None after doing ``m.total_ops += n``."""
    d = layer.__dict__
    had = {k: d[k] for k in ("total_ops", "total_params") if k in d}
    object.__setattr__(layer, "total_ops", 0)
    object.__setattr__(layer, "total_params", [0])
    try:
        result = fn(layer, inputs, output)
        legacy_ops = layer.__dict__.get("total_ops", 0)
    finally:
        for k in ("total_ops", "total_params"):
            layer.__dict__.pop(k, None)
        d.update(had)
    if result is None:
        n = _to_int(legacy_ops)
        return Cost(0, n, n), "legacy"
    return user_cost(result), "user"


def _to_int(v) -> int:
    if isinstance(v, paddle.Tensor):
        return int(v.numpy().reshape(-1)[0]) if v.size else 0
    try:
        import numpy as np
        return int(np.asarray(v).reshape(-1)[0]) if not isinstance(v, (int, float)) else int(v)
    except Exception:
        return int(v)


def user_cost(result) -> Cost:
    if isinstance(result, Cost):
        return result
    if isinstance(result, dict):
        unknown = set(result) - {"macs", "flops", "paddle_flops"}
        if unknown:
            raise ValueError(f"a custom handler returned unknown keys {sorted(unknown)}; "
                             f"use macs, flops, paddle_flops")
        macs = _to_int(result.get("macs", 0))
        flops = _to_int(result.get("flops", 2 * macs))
        return Cost(macs, flops, _to_int(result.get("paddle_flops", macs)))
    if isinstance(result, bool) or not isinstance(result, (int, float)) and not hasattr(result, "__int__"):
        raise TypeError(f"a custom handler must return a Cost, a dict, an int (MACs) "
                        f"or None (paddle.flops style); got {type(result).__name__}")
    return registry.contraction(_to_int(result))
