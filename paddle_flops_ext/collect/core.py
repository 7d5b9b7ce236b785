"""The attribution core shared by the eager and the trace engine.

Both engines observe the same events - a layer call begins, a layer call
ends, an operation ran (or was created), a composite function began or ended -
and hand them here with a :class:`ShapeReader` that knows their kind of
tensor (eager ``paddle.Tensor`` or PIR ``Value``). This module decides who
pays for each piece of work, so the rule lives once:

* a layer with a formula (built-in, ``pfe.register`` or ``custom_ops``) is
  counted by it; the operations it runs directly are not counted again (its
  sub-layers still count themselves);
* any other layer is counted through the operations it runs directly;
* a composite function (``F.scaled_dot_product_attention`` ...) is one
  operation; the operations inside it are not counted again;
* with ``count_functional=False`` operations are not counted at all, and a
  leaf layer without a formula that ran is reported as uncounted.

The guards around a forward are in :mod:`.guards`, the records engines
return in :mod:`.records`; :mod:`.instrument` puts the guards, the layer
bracket and the operation observers in place in one call for every engine.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import paddle

from ..formulas import registry
from ..formulas.paddle_reported import PADDLE_FLOPS_TABLE, correction_kind
from ..errors import ForwardError, HandlerError, ProfilingBusy
from ..formulas.registry import ZERO
from .inputs import DTYPE_BYTES, dtype_name
from .patch import OWNER, Patches, observing
from .records import LayerRecord, Span, layer_records


# --------------------------------------------------------------------------
# shapes: what an engine supplies
# --------------------------------------------------------------------------

class ShapeReader(Protocol):
    def nested(self, value) -> list[tuple]: ...           # shapes of every tensor in a structure
    def bind(self, arg_names, args, kwargs) -> tuple[dict, dict]: ...   # op call -> (ins, attrs)
    def handler_view(self, value) -> Any: ...             # what a user handler receives
    def integer(self, value) -> bool: ...                 # every tensor in it is integer/bool
    def integer_work(self, inputs, out) -> bool: ...      # the integer rule of Attribution.count


_Tensor = paddle.Tensor   # module-level name: read on every layer call


def tensor_shapes(value) -> list[tuple]:
    """Shapes of every eager tensor in a (nested) value, in order."""
    if isinstance(value, _Tensor):
        return [tuple(value.shape)]
    out: list[tuple] = []
    if isinstance(value, (list, tuple)):
        for v in value:
            if isinstance(v, _Tensor):
                out.append(tuple(v.shape))
            elif isinstance(v, (list, tuple, dict)):
                out.extend(tensor_shapes(v))
    elif isinstance(value, dict):
        for v in value.values():
            out.extend(tensor_shapes(v))
    return out


def eager_shape(value):
    return tuple(value.shape) if isinstance(value, _Tensor) else None


def bind_op_arguments(arg_names, args, kwargs, shape_of=eager_shape):
    """Split an op call into tensor shapes and attributes by argument name.
    ``shape_of(value)`` gives a tensor's shape and None for anything else."""
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


def bind_legacy_arguments(arg_names, args, shape_of):
    """``_legacy_C_ops.op(x, y, 'attr', value, ...)``: leading tensors by
    position, then attribute name/value pairs."""
    tensors, i = [], 0
    while i < len(args) and not isinstance(args[i], str):
        tensors.append(args[i])
        i += 1
    ins, attrs = bind_op_arguments(arg_names, tuple(tensors), {}, shape_of)
    rest = args[i:]
    for name, value in zip(rest[0::2], rest[1::2]):
        attrs[name] = value
    return ins, attrs


_INTEGER_DTYPES: dict = {}   # dtype -> is it integer/bool (str() of a Paddle dtype costs ~1 us)


def is_integer_dtype(dtype) -> bool:
    """int*/uint*/bool (Paddle's eager and PIR dtypes print alike)."""
    try:
        return _INTEGER_DTYPES[dtype]
    except (KeyError, TypeError):   # first sight, or an unhashable dtype
        text = str(dtype).lower()
        found = "int" in text or "bool" in text
        try:
            _INTEGER_DTYPES[dtype] = found
        except TypeError:
            pass
        return found


def _tensors_in(value, dtype_of):
    """``(tensor, dtype)`` of every tensor (anything ``dtype_of`` gives a
    dtype) in a nested list/tuple value, lazily: callers stop at the first
    tensor that decides their question."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            stack.extend(v)
            continue
        dtype = dtype_of(v)
        if dtype is not None:
            yield v, dtype


def all_integer(value, dtype_of) -> bool:
    """Every tensor in a (nested) value has an integer/bool dtype (False if
    there is none)."""
    seen = False
    for _, dtype in _tensors_in(value, dtype_of):
        if not is_integer_dtype(dtype):
            return False
        seen = True
    return seen


def integer_work(inputs, out, dtype_of, numel_of) -> bool:
    """The integer rule of :meth:`Attribution.count`: every tensor the op
    reads and writes is integer/bool (indices, masks, sizes), or it reads
    only integer tensors of at most one element - size arithmetic such as
    ``paddle.shape(x)[3] * stride``, whose float result is a size too (a
    trace computes it in Python). Reads are judged first: an op that reads
    a float tensor (nearly every op) is decided at that tensor."""
    reads = []
    for tensor, dtype in _tensors_in(inputs, dtype_of):
        if not is_integer_dtype(dtype):
            return False
        reads.append(tensor)
    writes = [dtype for _, dtype in _tensors_in(out, dtype_of)]
    if (reads or writes) and all(map(is_integer_dtype, writes)):
        return True
    return bool(reads) and all(numel_of(t) <= 1 for t in reads)


class IntegerRule:
    """The integer rule for a shape reader: subclasses give ``_dtype(v)``
    (None for a non-tensor) and ``_numel(v)``."""

    def integer(self, value) -> bool:
        return all_integer(value, self._dtype)

    def integer_work(self, inputs, out) -> bool:
        return integer_work(inputs, out, self._dtype, self._numel)

    def element_size(self, value) -> int | None:
        """Bytes per element of the first tensor in ``value`` (None: none)."""
        stack = [value]
        while stack:
            v = stack.pop(0)
            if isinstance(v, (list, tuple)):
                stack[:0] = list(v)
                continue
            dtype = self._dtype(v)
            if dtype is not None:
                return DTYPE_BYTES.get(dtype_name(dtype))
        return None


class EagerShapes(IntegerRule):
    """The shape reader for eager tensors."""

    @staticmethod
    def _dtype(v):
        return v.dtype if isinstance(v, _Tensor) else None

    @staticmethod
    def _numel(t) -> int:
        return math.prod(t.shape)

    _shape = staticmethod(eager_shape)
    nested = staticmethod(tensor_shapes)

    def bind(self, arg_names, args, kwargs):
        return bind_op_arguments(arg_names, args, kwargs, self._shape)

    def bind_legacy(self, arg_names, args):
        return bind_legacy_arguments(arg_names, args, self._shape)

    def handler_view(self, value):
        return value


# --------------------------------------------------------------------------
# attribution
# --------------------------------------------------------------------------

class Frame:
    """One layer call in progress (``__slots__``: one per layer call)."""

    __slots__ = ("record", "spec", "counts_ops", "args", "kwargs", "started", "mark")

    def __init__(self, record: LayerRecord, spec, counts_ops: bool, args: tuple, kwargs: dict,
                 started: float = 0.0, mark: int = 0):
        self.record = record
        self.spec = spec              # the layer's formula / handler, or None
        self.counts_ops = counts_ops  # ops run directly inside are charged to ``record``
        self.args = args              # as the forward received them (after pre-hooks)
        self.kwargs = kwargs
        self.started = started
        self.mark = mark              # trace: position in op-creation order at entry


@dataclass
class CompositeToken:
    name: str
    record: LayerRecord | None    # who pays, or None if it is not counted
    mark: int


_UNSEEN = object()


class Attribution:
    """Decides who pays for each event; fills one :class:`LayerRecord` per
    layer. ``mark()`` (trace only) returns the current position in
    op-creation order."""

    def __init__(self, model, shapes, overrides=None, options=None, count_functional=True,
                 time_layers=False, mark: Callable[[], int] | None = None,
                 on_op_record: Callable | None = None):
        self.model = model
        # Optional observer of every op that runs outside a composite, whoever
        # pays for it: ``on_op_record(record, name, args, kwargs, out)`` with the
        # innermost layer's record (None outside the model's layers); legacy
        # ops pass ``kwargs=None`` and their raw ``args``. Off by default.
        self.on_op_record = on_op_record
        self.shapes = shapes
        self._nested, self._handler_view = shapes.nested, shapes.handler_view   # read on every layer call
        self.overrides = overrides or {}
        self.options = {**registry.DEFAULT_OPTIONS, **(options or {})}
        self.count_functional = count_functional
        self.time_layers = time_layers
        self.mark = mark
        self.order = layer_records(model) if model is not None else []
        self.records = {id(rec.layer): rec for rec in self.order}
        self.stack: list[Frame] = []
        self.composite_depth = 0
        self.spans: list[Span] = []
        self._specs: dict[type, Any] = {}

    def spec(self, layer):
        t = type(layer)
        try:
            return self._specs[t]
        except KeyError:
            s = self._specs[t] = registry.lookup_layer(t, self.overrides)
            return s

    # -- layer calls -------------------------------------------------------
    def enter(self, rec: LayerRecord, args: tuple, kwargs: dict) -> Frame:
        spec = self._specs.get(type(rec.layer), _UNSEEN)
        if spec is _UNSEEN:
            spec = self.spec(rec.layer)
        frame = Frame(rec, spec, spec is None and self.count_functional and not self.composite_depth,
                      args, kwargs,
                      time.perf_counter() if self.time_layers else 0.0,
                      self.mark() if self.mark else 0)
        self.stack.append(frame)
        return frame

    def leave(self, frame: Frame, output) -> None:
        self.stack.pop()
        rec = frame.record
        if self.time_layers:
            rec.seconds += time.perf_counter() - frame.started
        if self.mark:
            self.spans.append(Span(frame.mark, self.mark(), rec, frame.counts_ops))
        rec.calls += 1
        nested = self._nested
        in_shapes = nested((frame.args, frame.kwargs) if frame.kwargs else frame.args)
        out_shapes = nested(output)
        if rec.calls == 1:
            rec.input_shapes, rec.output_shapes = in_shapes, out_shapes
        spec = frame.spec
        if spec is not None:
            layer = rec.layer
            try:
                cost, how = spec.evaluate(layer, in_shapes, out_shapes, self._handler_view, frame.args, output)
            except HandlerError as exc:
                raise HandlerError(f"{exc} (layer '{rec.path or '<root>'}', {type(layer).__name__})") from exc
            # paddle_flops follows paddle.flops' coverage: a built-in formula
            # enters it only for the leaf types paddle.flops hooks (their
            # counting mistakes fixed); user handlers always. What
            # paddle.flops itself would add is kept in paddle_reported, the
            # difference by kind. (Inline: this runs on every layer call.)
            if how == "formula":
                reported = PADDLE_FLOPS_TABLE.get(type(layer))
                if reported is None:
                    cost = cost.with_paddle(0)
                elif not layer._sub_layers:
                    printed = reported(layer, in_shapes, out_shapes)
                    rec.paddle_reported += printed
                    if cost.paddle_flops != printed:
                        rec.add_correction(correction_kind(layer) or "other", cost.paddle_flops - printed)
            elif not layer._sub_layers:
                rec.paddle_reported += cost.paddle_flops
            rec.cost = cost if rec.cost is ZERO else rec.cost + cost
            rec.counted_by = how
        elif not self.count_functional and not rec.layer._sub_layers:
            rec.counted_by = "none"

    # -- operations --------------------------------------------------------
    def payer(self) -> LayerRecord | None:
        """The record charged for an op run now, or None (covered by a
        formula or a composite, or outside the model)."""
        if self.stack and not self.composite_depth:
            top = self.stack[-1]
            if top.counts_ops:
                return top.record
        return None

    def on_op(self, name, args, kwargs, out) -> None:
        """Eager: an op ran."""
        if self.on_op_record is not None and not self.composite_depth:
            self.on_op_record(self.stack[-1].record if self.stack else None, name, args, kwargs, out)
        rec = self.payer()
        if rec is not None:
            self.count(rec, name, lambda spec: self.shapes.bind(spec.args, args, kwargs), out,
                       integer=lambda: self.shapes.integer_work((args, list(kwargs.values())), out))

    def on_legacy_op(self, name, args, out) -> None:
        if self.on_op_record is not None and not self.composite_depth:
            self.on_op_record(self.stack[-1].record if self.stack else None, name, args, None, out)
        rec = self.payer()
        if rec is not None:
            self.count(rec, name, lambda spec: self.shapes.bind_legacy(spec.args, args), out,
                       integer=lambda: self.shapes.integer_work(args, out))

    def count(self, rec: LayerRecord, name: str, bind: Callable, out, outs: list | None = None,
              integer: Callable[[], bool] | None = None) -> None:
        """Charge ``rec`` for one op; ``bind(spec) -> (ins, attrs)``.
        ``integer()``: the op does integer work only (default: judged from
        ``out``): every tensor it reads and writes is integer/bool (sizes,
        indices, masks), or it reads only one-element integer tensors (size
        arithmetic: ``paddle.shape(x)[3] * stride`` is an op in eager mode
        and Python arithmetic in a trace). Such ops cost 0, in both modes
        alike; contractions count whatever their dtype (int8 GEMMs), and an
        op that reads floats (NMS on boxes) counts even if it returns
        indices.
        """
        spec = registry.lookup_op(name)
        canon = registry.canonical_op_name(name)
        if spec is None:
            if registry.zero_cost_reason(name) is not None:
                rec.add_zero_op(canon)
            else:
                rec.add_unknown_op(canon)
            return
        if not spec.contraction and (integer() if integer is not None else self.shapes.integer(out)):
            rec.add_zero_op(canon)
            return
        ins, attrs = bind(spec)
        if spec.element_size:
            attrs = {**attrs, "element_size": self.shapes.element_size(out)}
        rec.add_op(spec.name, spec.cost(ins, self.shapes.nested(out) if outs is None else outs, attrs,
                                        self.options))

    # -- composite functions ----------------------------------------------
    def composite_enter(self, name: str) -> CompositeToken:
        token = CompositeToken(name, self.payer(), self.mark() if self.mark else 0)
        self.composite_depth += 1
        return token

    def composite_exit(self, token: CompositeToken, args, kwargs, out, failed: bool) -> None:
        self.composite_depth -= 1
        if self.mark:
            self.spans.append(Span(token.mark, self.mark(), None, False))
        if self.on_op_record is not None and not self.composite_depth and not failed:
            self.on_op_record(self.stack[-1].record if self.stack else None, token.name, args, kwargs, out)
        if token.record is not None and not failed:
            self.count(token.record, token.name, lambda spec: self.shapes.bind(spec.args, args, kwargs), out,
                       integer=lambda: self.shapes.integer_work((args, list(kwargs.values())), out))

    # -- failures ----------------------------------------------------------
    def _input_shapes(self, frame: Frame) -> list | None:
        """The shapes a frame's call received, or None if unreadable (the
        forward may have failed mid-way; only for error messages)."""
        try:
            return self.shapes.nested((frame.args, frame.kwargs) if frame.kwargs else frame.args)
        except Exception:  # noqa: BLE001
            return None

    def where(self) -> str:
        """The innermost layer call in progress, for error messages."""
        if not self.stack:
            return ""
        frame = self.stack[-1]
        rec = frame.record
        found = self._input_shapes(frame)
        shapes = "unknown" if found is None else ", ".join(str(list(s)) for s in found) or "no tensors"
        chain = " > ".join(f.record.path or type(f.record.layer).__name__ for f in self.stack)
        return (f"layer '{rec.path or '<root>'}' ({type(rec.layer).__name__}) called with input shape(s) "
                f"{shapes}; call chain: {chain}")

    def explain(self, exc: BaseException) -> BaseException:
        """The error ``profile`` raises for an exception from the forward."""
        if isinstance(exc, (HandlerError, ProfilingBusy)):
            return exc
        where = self.where()
        original = f"{type(exc).__name__}: {first_line(exc)}"
        if isinstance(exc, MemoryError):
            return MemoryError(f"ran out of memory running the forward{' in ' + where if where else ''}. "
                               f"Count this model without running it: mode='trace'. ({original})")
        if not where:
            return ForwardError(f"the model's forward raised before any layer ran: {original}", cause=exc)
        frame = self.stack[-1]
        return ForwardError(f"forward failed in {where}. Check input_size / inputs against what this "
                            f"layer expects. Original error: {original}",
                            frame.record.path, type(frame.record.layer).__name__,
                            self._input_shapes(frame) or [], exc)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not set(line) <= set("-=_ "):
            return line[:400]
    return text[:400]


# --------------------------------------------------------------------------
# bracketing layer calls: one patch of Layer.__call__ for both engines
# --------------------------------------------------------------------------

def bracket_layer_calls(patches: Patches, attribution: Attribution) -> None:
    """Patch ``Layer.__call__`` (on the class, logged in ``patches``) so that
    every call of one of the model's layers *by the profiling thread* is
    reported to ``attribution``; other threads and other layers pass through.

    Layers that have forward pre-hooks get one more pre-hook (removed on
    restore) that runs last, so formulas see the input the forward really
    receives, in both modes."""
    layer_cls = paddle.nn.Layer
    original = layer_cls.__dict__["__call__"]
    records = attribution.records
    enter, leave = attribution.enter, attribution.leave
    hooked_inputs: dict[int, tuple] = {}

    owner, get_ident = OWNER, threading.get_ident   # observing(), inlined: this runs on every layer call

    def __call__(layer, *args, **kwargs):
        rec = records.get(id(layer))
        if rec is None or rec.layer is not layer or owner.thread != get_ident():
            return original(layer, *args, **kwargs)
        frame = enter(rec, args, kwargs)
        output = original(layer, *args, **kwargs)
        if hooked_inputs:
            seen = hooked_inputs.pop(id(layer), None)
            if seen is not None:
                frame.args, frame.kwargs = seen
        leave(frame, output)
        return output

    def last_pre_hook(layer, args, kwargs):
        if observing():
            hooked_inputs[id(layer)] = (tuple(args), dict(kwargs))
        return None

    __call__.__wrapped__ = original
    patches.setattr(layer_cls, "__call__", __call__)
    for rec in attribution.order:
        layer = rec.layer
        if layer._forward_pre_hooks or layer._forward_post_hooks:
            for table in (layer._forward_pre_hooks, layer._forward_post_hooks):
                for key, hook in list(table.items()):
                    patches.setitem(table, key, _counting_hook(attribution, hook))
        if layer._forward_pre_hooks:
            handle = layer.register_forward_pre_hook(last_pre_hook, with_kwargs=True)
            patches.on_restore(handle.remove)


def _counting_hook(attribution: Attribution, hook):
    """``hook`` run so that the operations it runs are charged to the layer
    whose call runs it - also a layer counted by its formula, which covers
    only its forward: ``weight_norm`` recomputes the weight in a pre-hook on
    every call, and that work is the layer's too. In trace mode the hook's
    operations get a span of their own, nested in the layer's."""
    name = f"{getattr(hook, '__name__', type(hook).__name__)} (forward hook)"

    def counted(*args, **kwargs):
        frame = attribution.stack[-1] if attribution.stack and observing() else None
        if frame is None or frame.counts_ops or attribution.composite_depth:
            return hook(*args, **kwargs)
        if not attribution.count_functional:     # its operations are not observed: say so, not 0
            frame.record.add_unknown_op(name)
            return hook(*args, **kwargs)
        mark = attribution.mark
        lo = mark() if mark else 0
        frame.counts_ops = True
        try:
            return hook(*args, **kwargs)
        finally:
            frame.counts_ops = False
            if mark:
                attribution.spans.append(Span(lo, mark(), frame.record, True))

    counted.__wrapped__ = hook
    return counted


