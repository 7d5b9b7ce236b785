"""Shape-only counting: trace a model into a PIR program, or take a program,
and count its operations without running any kernel.

Entry points (``api.profile`` calls them for ``mode="trace"`` and for
anything that is not a ``paddle.nn.Layer``); both return a
:class:`~paddle_flops_ext.collect.core.Collection`:

* :func:`collect_trace` - a ``paddle.nn.Layer``, traced;
* :func:`collect_program` - a PIR ``Program``, a legacy
  ``paddle.static.Program`` (translated to PIR with
  ``paddle.pir.translate_to_pir``) or a ``ConcreteProgram``;
* :func:`is_program` - does this object look like a program we can walk.

Tracing a Layer
---------------
1. *Direct tracing* (first try): the model's ``forward`` runs once as plain
   Python in Paddle's static-graph mode, inside a fresh PIR program, on
   ``paddle.static.data`` placeholders with the concrete input shapes. Each
   Paddle call appends an operation to the program; no kernel runs and no
   weight is read, so models built under ``paddle.LazyGuard()`` stay
   unmaterialised (parameters become ``builtin.parameter`` placeholders).
   Two exceptions, so the program holds what an eager run does: a Python
   ``if`` on a materialised one-element parameter reads it
   (``parameter_values``), and legacy static-graph code (``LayerHelper``)
   takes its dynamic branch, its legacy operators translated into the
   program (``legacy_static``).
2. If that raises (typically Python control flow on a tensor value,
   ``if x.sum() > 0:``), *AST tracing*: ``paddle.jit.to_static(...,
   full_graph=True)`` rewrites Python control flow into ``pd_op.if`` /
   ``pd_op.while`` operations.
3. If that fails too, :class:`TraceError` says why and suggests
   ``mode="eager"``.

Direct tracing skips the AST rewrite of every sub-layer's ``forward``, which
dominates ``to_static`` time on large models; while tracing, Paddle's
per-layer ``name_struct`` bookkeeping (which lists the whole program on
every layer call, quadratic in model size) is swapped for a no-op and the
per-operation Python call-stack capture is turned off; both are put back
afterwards, for the profiling thread only. The model itself is left as it
was (the core's guards restore anything tracing assigned to a layer, e.g. a
weight built on first call, or the ``forward`` that ``to_static`` converts).

Layer attribution and counting rules (the core's, same as eager)
----------------------------------------------------------------
The core's ``Layer.__call__`` bracket marks each layer call's extent in the
program: at entry and exit we create a throw-away ``full_int_array`` marker
operation whose id (PIR operation ids grow with creation order) bounds the
operations the call created, including those inside control-flow blocks. An
operation belongs to the innermost layer call that created it, so the result
tree has exactly the eager layer paths. Then, as in eager mode:

* a layer with a formula (built-in, ``pfe.register`` or ``custom_ops``) is
  counted by that formula, evaluated on the traced input/output *shapes*
  (user handlers receive shape-only stand-ins with ``shape``, ``dtype``,
  ``numel()`` ...); the operations it creates directly are not counted;
* any other layer is counted through the operations it creates directly,
  each looked up in the same operation table (``pd_op.matmul`` ->
  ``matmul``; a trailing ``_`` of in-place variants is dropped);
* a composite function registered with ``registry.composite_function`` (e.g.
  ``F.scaled_dot_product_attention``) is counted as one operation and the
  operations it expands to in the program are not counted again.

Differences from eager mode (documented in the README):

* Program plumbing is not reported at all: ``builtin.*`` and ``cf.*``
  operations, ``pd_op.data``, constants (``pd_op.full``,
  ``pd_op.full_int_array``, ``pd_op.assign_value``), feed/fetch, and
  control-flow containers (their blocks are walked). Constant operands of an
  operation (an axis, a shape, a scalar) are passed to its formula as
  attributes, as the eager engine sees them.
* ``zero_ops`` may list operations eager mode never sees (indexing with
  ``x[...]`` is a ``pd_op.slice`` in a program but a C-level Tensor method in
  eager mode); counted ``macs``/``flops`` are unaffected.
* Paddle builds ``x * 2.0`` and ``x + eps`` as one ``pd_op.scale`` where
  eager mode sees a ``multiply``/``add`` with a Python scalar: same cost,
  except that a literal ``x * 1.0`` is a free identity ``scale`` here and one
  multiply per element in eager mode.
* Input checks are Paddle's static shape inference, which checks less than
  a run: a wrong rank is reported (naming the layer, as in eager mode), but
  e.g. a conv input with the wrong channel count is not.
* Control flow: both branches of a ``pd_op.if`` are counted and a
  ``pd_op.while`` body once (eager counts what actually ran); a note says so.
* Unknown dimensions: placeholders get the concrete shapes of the input
  (an ``InputSpec`` dimension of ``None``/-1 becomes 1, as eager mode
  synthesises it), so a traced program normally has none. A dimension that
  is still -1 (a data-dependent size, or the batch of a ``paddle.jit.load``-ed
  layer's saved program) is counted as the batch size (first dimension of the
  first input), and a note says so.

Programs given directly
-----------------------
Every operation is attributed to a single root node (type ``Program``):
programs do not carry the layer tree, so only the operation table applies
(a conv/linear bias is its own ``add`` op: same ``flops`` as the layer
formulas; ``paddle_flops`` is the contractions' MACs only, without the
per-layer figures paddle.flops uses for BatchNorm, pooling or conv bias; a
composite such as SDPA is counted through the ops Paddle expanded it to).
Parameters are the ``builtin.parameter`` placeholders, unique by name,
trainable unless marked ``trainable=False``/``stop_gradient`` (a program
built by tracing also holds the model's buffers there, and they count).
-1 dimensions (a ``None`` batch of ``paddle.static.data``) take the size
``input_size`` gives at the position of the first -1 (input_size lists the
program's ``pd_op.data`` placeholders in order), else 1; a note says so.
"""
from __future__ import annotations

import math
import operator
import threading
import traceback
import warnings
from dataclasses import dataclass

import numpy as np
import paddle

from ..formulas import registry
from .core import (Attribution, Collection, IntegerRule, LayerRecord, Span, bind_op_arguments,
                   bracket_layer_calls, first_line, guard_model, guard_process, integer_work)
from .eager import model_modules
from .inputs import check_size, dtype_name, build_call_args
from .intercept import observe_ops, replace_everywhere
from .legacy_static import take_dynamic_branches
from .parameter_values import answer_parameter_truth
from .patch import Patches, observing

__all__ = ["collect_trace", "collect_program", "is_program", "TraceError"]


class TraceError(RuntimeError):
    """The model could not be traced into a static program."""


# Operations that only wire the program together: never reported.
_PLUMBING_PREFIXES = ("builtin.", "cf.")
_PLUMBING = {
    "pd_op.data", "pd_op.full", "pd_op.full_int_array", "pd_op.assign_value", "pd_op.assign_value_",
    "pd_op.feed", "pd_op.fetch", "pd_op.shadow_output", "pd_op.shadow_feed",
    "pd_op.if", "pd_op.while", "pd_op.pylayer", "pd_op.select_input", "pd_op.select_output",
}
_CONTROL_FLOW = {"pd_op.if": "if", "pd_op.while": "while", "pd_op.pylayer": "pylayer"}
# op attributes that are bookkeeping, not arguments of the operation
_META_ATTRS = {"op_callstack", "struct_name", "stop_gradient", "persistable", "op_role",
               "op_namescope", "with_quant_attr", "op_device", "chunk_id"}
# operand names that are real tensors even when fed by a constant op
_TENSOR_NAMES = {"x", "y", "input", "other", "condition", "mask", "index", "weight", "bias"}


def _is_plumbing(name: str) -> bool:
    return name in _PLUMBING or name.startswith(_PLUMBING_PREFIXES)


# --------------------------------------------------------------------------
# what is a program
# --------------------------------------------------------------------------

def _pir_program_type():
    return paddle.base.libpaddle.pir.Program


def _legacy_program_type():
    return paddle.base.framework.Program


def is_program(obj) -> bool:
    """A PIR ``Program``, a legacy ``paddle.static.Program`` or a
    ``ConcreteProgram`` (what ``to_static(...).concrete_program`` returns)."""
    try:
        if isinstance(obj, (_pir_program_type(), _legacy_program_type())):
            return True
    except AttributeError:  # pragma: no cover - other Paddle layouts
        pass
    main = getattr(obj, "main_program", None)
    return main is not None and type(obj).__name__ == "ConcreteProgram"


def _as_pir(program):
    if type(program).__name__ == "ConcreteProgram":
        program = program.main_program
    if isinstance(program, _pir_program_type()):
        return program, False
    if isinstance(program, _legacy_program_type()):
        try:
            return paddle.pir.translate_to_pir(program.desc), True
        except Exception as exc:
            raise TraceError(f"could not translate this legacy (non-PIR) paddle.static.Program to PIR "
                             f"for counting: {type(exc).__name__}: {first_line(exc)}") from exc
    raise TypeError(f"expected a paddle.static.Program or a PIR Program, got {type(program).__name__}")


# --------------------------------------------------------------------------
# shapes of program values
# --------------------------------------------------------------------------

def _is_value(v) -> bool:
    return isinstance(v, paddle.pir.Value)


def _value_numel(v) -> int:
    """Elements of a program value; an unknown (-1) dimension is not small."""
    shape = list(v.shape)
    return math.prod(shape) if all(d >= 0 for d in shape) else 2


class _Shapes(IntegerRule):
    """Reads shapes off values, replacing unknown (-1) dimensions."""

    def __init__(self, unknown_dim: int = 1):
        self.unknown_dim = int(unknown_dim)
        self.replaced = 0

    def of(self, v):
        try:
            dims = v.shape
        except Exception:
            return None
        if dims is None:
            return None
        out = []
        for d in dims:
            d = int(d)
            if d < 0:
                self.replaced += 1
                d = self.unknown_dim
            out.append(d)
        return tuple(out)

    def nested(self, value) -> list[tuple]:
        """Shapes of every value/tensor in a (nested) structure, in order."""
        out: list[tuple] = []
        stack = [value]
        while stack:
            v = stack.pop(0)
            if _is_value(v):
                s = self.of(v)
                if s is not None:
                    out.append(s)
            elif isinstance(v, paddle.Tensor):
                out.append(tuple(int(d) for d in v.shape))
            elif isinstance(v, (list, tuple)):
                stack[0:0] = list(v)
            elif isinstance(v, dict):
                stack[0:0] = list(v.values())
        return out

    def bind(self, arg_names, args, kwargs):
        """``eager.bind_op_arguments`` for program values."""
        def shape_of(value):
            if _is_value(value) or isinstance(value, paddle.Tensor):
                found = self.nested(value)
                return found[0] if found else ()
            return None
        return bind_op_arguments(arg_names, args, kwargs, shape_of)

    def handler_view(self, value):
        return _shape_only(value, self)

    @staticmethod
    def _dtype(v):
        return v.dtype if _is_value(v) or isinstance(v, paddle.Tensor) else None

    _numel = staticmethod(_value_numel)


class _ShapeOnly:
    """What a user handler receives for a tensor in trace mode: the shape and
    dtype, ``numel()``, ``dim()`` - no data."""

    def __init__(self, shape, dtype=None):
        self.shape = list(shape)
        self.dtype = dtype

    def numel(self):
        return int(math.prod(self.shape))

    @property
    def size(self):
        return self.numel()

    def dim(self):
        return len(self.shape)

    ndim = property(dim)

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return f"ShapeOnly(shape={self.shape}, dtype={self.dtype})"


def _shape_only(value, shapes: _Shapes):
    if _is_value(value):
        s = shapes.of(value)
        return _ShapeOnly(s if s is not None else [], getattr(value, "dtype", None))
    if isinstance(value, (list, tuple)):
        return type(value)(_shape_only(v, shapes) for v in value)
    if isinstance(value, dict):
        return {k: _shape_only(v, shapes) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------
# inputs -> placeholders
# --------------------------------------------------------------------------

@dataclass
class _Placeholder:
    name: str
    shape: list
    dtype: str


def _input_plan(net, input_size, inputs, input_spec, dtype=None):
    """``(args, kwargs)`` where tensors are :class:`_Placeholder` and any other
    value is passed to ``forward`` unchanged."""
    counter = iter(range(1 << 30))

    def ph(shape, dtype):
        return _Placeholder(f"input_{next(counter)}", [int(d) for d in shape], dtype_name(dtype))

    args, kwargs = build_call_args(net, input_size, inputs, input_spec, make_input=ph,
                                   convert_tensor=lambda t: ph(t.shape, t.dtype), dtype=dtype)
    return list(args), kwargs


# --------------------------------------------------------------------------
class _Marks:
    """Monotonic positions in operation-creation order: each call creates a
    throw-away constant op in the program being built and returns its id."""

    def __init__(self):
        self.place = paddle.CPUPlace()

    def __call__(self) -> int:
        v = paddle._C_ops.full_int_array([0], paddle.int64, self.place)
        return v.get_defining_op().id()


def _quiet_tracing(patches: Patches, fast: bool) -> None:
    """Paddle-side settings for fast tracing, logged in ``patches`` and
    effective for the profiling thread only (other threads see the originals).

    * ``paddle.nn.layer.layers.name_struct`` (records ``struct_name`` by
      listing every op of the program on every layer call: quadratic) becomes
      a no-op; we attribute operations with our own brackets.
    * ``fast``: ``traceback.extract_stack``, which Paddle's C++ op builders call
      for every operation to store its Python call stack, returns an empty
      stack (2-3x faster tracing). Not done for the to_static path, whose error
      messages use those stacks.
    * Paddle's own warnings (e.g. "Tensor do not have 'place' interface for pir
      graph mode") are silenced.
    """
    import paddle.nn.layer.layers as layers_mod

    me = threading.get_ident()
    saved_struct = layers_mod.__dict__.get("name_struct")
    if saved_struct is not None:
        def name_struct(*args, **kwargs):
            if threading.get_ident() == me:
                return _NULL_CONTEXT
            return saved_struct(*args, **kwargs)
        patches.setitem(layers_mod.__dict__, "name_struct", name_struct)
    if fast:
        saved_stack = traceback.extract_stack

        def extract_stack(*args, **kwargs):
            if threading.get_ident() == me:
                return traceback.StackSummary()
            return saved_stack(*args, **kwargs)
        patches.setattr(traceback, "extract_stack", extract_stack)
    catcher = warnings.catch_warnings()
    catcher.__enter__()
    patches.on_restore(lambda: catcher.__exit__(None, None, None))
    warnings.filterwarnings("ignore", module=r"paddle(\.|$)")


class _NullContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_NULL_CONTEXT = _NullContext()


def _placeholders(value) -> list:
    """Every placeholder in a nested structure, in order."""
    if isinstance(value, _Placeholder):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return [p for v in items for p in _placeholders(v)]


def _make_args(plan_args, plan_kwargs, make):
    def build(v):
        if isinstance(v, _Placeholder):
            return make(v)
        if isinstance(v, dict):
            return {k: build(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return type(v)(build(x) for x in v)
        return v
    args = [build(a) for a in plan_args]
    kwargs = {k: build(v) for k, v in plan_kwargs.items()}
    return args, kwargs


def _trace_direct(net, plan_args, plan_kwargs, to_static_view):
    """Run forward as plain Python in static-graph mode (no AST rewrite); a
    ``@to_static`` forward runs as Python here (the core's guard shows the
    profiling thread ``enable_to_static = False``)."""
    from paddle.base import framework
    import paddle.pir.core as ir_static
    from paddle.jit.dy2static.utils import graph_tracing_guard

    with framework._dygraph_guard(None):
        main, startup = ir_static.Program(), ir_static.Program()
        with ir_static.program_guard(main, startup), graph_tracing_guard(main):
            args, kwargs = _make_args(plan_args, plan_kwargs,
                                      lambda p: paddle.static.data(p.name, p.shape, p.dtype))
            out = net(*args, **kwargs)
    return main, out


def _trace_ast(net, plan_args, plan_kwargs, to_static_view):
    """``paddle.jit.to_static(full_graph=True)``: Python control flow on tensors
    becomes program control flow. We convert a function that calls the model;
    what dy2static attaches to the layers (converted ``forward`` methods) is
    removed by the core's model guard."""
    from paddle.static import InputSpec

    holders = _placeholders((plan_args, plan_kwargs))
    specs = [InputSpec(p.shape, p.dtype, p.name) for p in holders]
    index = {id(p): i for i, p in enumerate(holders)}

    @paddle.jit.not_to_static
    def assemble(tensors):
        return _make_args(plan_args, plan_kwargs, lambda p: tensors[index[id(p)]])

    def traced_forward(tensors):
        call_args, call_kwargs = assemble(tensors)
        return net(*call_args, **call_kwargs)

    to_static_view.forced = True
    try:
        static_fn = paddle.jit.to_static(traced_forward, input_spec=[specs], full_graph=True)
        concrete = static_fn.concrete_program
    finally:
        to_static_view.forced = False
    return concrete.main_program, concrete.outputs


def _elementwise(op):
    def method(self, other):
        if isinstance(other, (list, tuple, np.ndarray)):
            return StaticShape(op(a, b) for a, b in zip(self, other))
        return StaticShape(op(a, other) for a in self)
    return method


def _elementwise_reflected(op):
    def method(self, other):
        return StaticShape(op(other, a) for a in self)
    return method


class StaticShape(list):
    """What ``paddle.shape(x)`` returns while tracing when ``x``'s shape is
    fully known: the concrete sizes, so code that computes sizes from it
    (``b = paddle.shape(x)[0]; x.reshape([b, -1, 64])``, ``size=paddle.shape(x)[2:]``)
    builds a program with concrete shapes - as eager mode sees them - instead
    of -1. A list (Paddle APIs take it as a shape) whose arithmetic is
    element-wise like the int64 tensor's (``shape * 2`` doubles every size; a
    plain list would repeat). Where a real tensor is needed the trace fails
    and the next attempt runs without it."""

    __add__, __sub__, __mul__ = _elementwise(operator.add), _elementwise(operator.sub), _elementwise(operator.mul)
    __floordiv__, __truediv__, __mod__ = (_elementwise(operator.floordiv), _elementwise(operator.truediv),
                                         _elementwise(operator.mod))
    __radd__, __rsub__, __rmul__ = (_elementwise_reflected(operator.add), _elementwise_reflected(operator.sub),
                                    _elementwise_reflected(operator.mul))
    __rfloordiv__ = _elementwise_reflected(operator.floordiv)

    def __getitem__(self, index):
        item = list.__getitem__(self, index)
        return StaticShape(item) if isinstance(index, slice) else item

    def numpy(self):
        return np.asarray(self, dtype=np.int64)

    def tolist(self):
        return list(self)

    @property
    def shape(self):
        return [len(self)]


def _value_names(patches: Patches) -> None:
    """``Value.name`` raises for an intermediate value of a PIR program; code
    that records names of its outputs (PaddleNLP's OPT keeps
    ``output.name`` for recomputation checkpoints) would stop the trace. For
    the profiling thread such a value answers a placeholder name."""
    value_cls = paddle.pir.Value
    original = value_cls.__dict__.get("name")
    if not isinstance(original, property):
        return

    def name(value):
        try:
            return original.fget(value)
        except ValueError:
            if observing():
                return f"pfe_value_{id(value)}"
            raise

    patches.setattr(value_cls, "name", property(name, original.fset, original.fdel, original.__doc__))


def _static_shapes(patches: Patches, modules) -> None:
    """``paddle.shape`` (every alias, in Paddle and the model's modules)
    answers :class:`StaticShape` for a program value of known shape, for the
    profiling thread only."""
    import paddle.tensor.attribute as attribute

    original = attribute.shape

    def shape(input):
        if observing() and _is_value(input):
            dims = [int(d) for d in input.shape]
            if all(d >= 0 for d in dims):
                return StaticShape(dims)
        return original(input)

    shape.__wrapped__ = original
    replace_everywhere(patches, original, shape, modules)


def _trace(patches: Patches, net, plan_args, plan_kwargs, overrides, options, count_functional, batch,
           on_op_record=None):
    """Trace ``net``: ``(program, attribution, how)``. Attempts, in order:
    direct tracing with concrete ``paddle.shape`` answers, plain direct
    tracing, ``to_static``. Each attempt's changes to the model are undone
    before the next attempt (and by ``patches``)."""
    errors = []
    to_static_view = guard_process(patches)
    attempts = (("direct", _trace_direct, True), ("direct", _trace_direct, False), ("to_static", _trace_ast, False))
    for how, fn, static_shapes in attempts:
        attempt = Patches()
        patches.on_restore(attempt.restore)
        attribution = Attribution(net, _Shapes(batch), overrides, options, count_functional, mark=_Marks(),
                                  on_op_record=on_op_record)
        try:
            modules = model_modules(rec.layer for rec in attribution.order)
            guard_model(attempt, [rec.layer for rec in attribution.order])
            bracket_layer_calls(attempt, attribution)
            _quiet_tracing(attempt, how == "direct")
            observe_ops(attempt, attribution, modules, composites_only=True)
            take_dynamic_branches(attempt)
            answer_parameter_truth(attempt, net)
            if static_shapes:
                _static_shapes(attempt, modules)
                _value_names(attempt)
            program, _ = fn(net, plan_args, plan_kwargs, to_static_view)
            attempt.restore()
            return program, attribution, how
        except (Exception, MemoryError) as exc:  # noqa: BLE001 - reported below
            if isinstance(exc, registry.HandlerError):
                raise
            errors.append((how, exc, attribution.where()))
        finally:
            attempt.restore()
    # report the plain direct trace's error (the static-shape attempt's may be
    # only about StaticShape) and the to_static one
    (_, first, where), (_, last, _) = errors[-2] if len(errors) > 2 else errors[0], errors[-1]
    plain, converted = _error_summary(first), _error_summary(last)
    detail = plain if plain == converted else f"{plain.rstrip('.: ')}; with paddle.jit.to_static: {converted}"
    detail = detail.rstrip(".: ") + (f" (in {where})" if where else "")
    raise TraceError(
        f"mode='trace' could not trace {type(net).__name__}.forward into a static program: {detail}. "
        f"Trace mode builds the program from shapes only, so forward must not need tensor values in "
        f"Python (.numpy(), .item(), .tolist(), float()/int() of a tensor, control flow that "
        f"paddle.jit.to_static cannot convert). If the input shape is wrong, fix input_size/input_spec; "
        f"otherwise count this model with mode='eager', which runs it."
    ) from last


def _error_summary(exc: Exception) -> str:
    """``Type: message`` of an exception; for dy2static's multi-line reports,
    the line that names the underlying error."""
    lines = [l.strip() for l in str(exc).splitlines() if l.strip()]
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if head.isidentifier() and head.endswith(("Error", "Exception")) and ":" in line:
            return line[:400]
    return f"{type(exc).__name__}: {first_line(exc)}"


# --------------------------------------------------------------------------
# walking a program
# --------------------------------------------------------------------------

def _walk(block):
    for op in block.ops:
        yield op
        if op.num_regions():
            for sub in op.blocks():
                yield from _walk(sub)


def _const_value(op):
    """A constant operand's value, as eager mode would pass it: ``pd_op.full``
    stores a float even for an integer constant (an ``axis``), so one of an
    integer dtype comes back as an int."""
    try:
        attrs = op.attrs()
    except Exception:  # pragma: no cover
        return None
    value = attrs.get("value")
    if isinstance(value, float) and value.is_integer() and "int" in str(attrs.get("dtype", "")).lower():
        return int(value)
    return value


def _op_arguments(op, shapes: _Shapes):
    """``(ins, outs, attrs)`` of a program operation, shaped like what the
    eager engine passes to a formula."""
    try:
        names = list(op.get_input_names())
    except Exception:
        names = []
    ins, attrs = {}, {}
    for i in range(op.num_operands()):
        name = names[i] if i < len(names) else f"arg{i}"
        src = op.operand_source(i)
        if src is None or not src.initialized():
            ins[name] = None
            continue
        producer = src.get_defining_op()
        pname = producer.name() if producer is not None else ""
        if pname == "pd_op.full_int_array":
            attrs[name] = _const_value(producer)
            continue
        if pname == "pd_op.full" and name not in _TENSOR_NAMES:
            attrs[name] = _const_value(producer)
            continue
        if pname == "builtin.combine":
            ins[name] = [shapes.of(v) for v in producer.operands_source()]
            continue
        ins[name] = shapes.of(src)
    for k, v in op.attrs().items():
        if k not in _META_ATTRS and k not in attrs:
            attrs[k] = v
    outs = []
    for r in op.results():
        s = shapes.of(r)
        if s is not None and not _is_vector(r):
            outs.append(s)
            continue
        for user in r.all_used_ops():
            if user.name() == "builtin.split":
                outs.extend(x for x in (shapes.of(v) for v in user.results()) if x is not None)
                break
    return ins, outs, attrs


def _is_vector(value) -> bool:
    try:
        return not value.is_dense_tensor_type() and not value.is_selected_row_type()
    except Exception:
        return False


def _control_flow_kinds(ops) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for op in ops:
        kind = _CONTROL_FLOW.get(op.name())
        if kind:
            kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def _owners(ops, spans: list[Span]):
    """Yield ``(op, span | None)``: the innermost call whose id span
    (lo, hi) contains the op (spans nest like the calls that made them)."""
    ivs = sorted(spans, key=lambda iv: (iv.lo, -iv.hi))
    ordered = sorted(ops, key=lambda op: op.id())
    stack: list[Span] = []
    j = 0
    for op in ordered:
        x = op.id()
        while stack and stack[-1].hi <= x:
            stack.pop()
        while j < len(ivs) and ivs[j].lo < x:
            iv = ivs[j]
            j += 1
            while stack and stack[-1].hi <= iv.lo:
                stack.pop()
            if iv.hi > x:
                stack.append(iv)
        yield op, (stack[-1] if stack else None)


def _notes(control_flow: dict, shapes: _Shapes, how: str | None) -> list[str]:
    notes = []
    if how == "to_static":
        notes.append("traced with paddle.jit.to_static(full_graph=True): forward has Python control flow "
                     "on tensor values")
    if control_flow:
        kinds = ", ".join(f"{n} x{c}" for n, c in sorted(control_flow.items()))
        notes.append(f"program control flow ({kinds}): every branch of an if is counted, a while body once")
    return notes


def _inexact(shapes: _Shapes) -> list[str]:
    """Why the counts may be wrong: -1 dimensions (sizes computed at run
    time, e.g. from ``paddle.shape(x)``) that had to be guessed."""
    if not shapes.replaced:
        return []
    return [f"INEXACT: {shapes.replaced} unknown (-1) dimension(s) in the traced program (sizes computed "
            f"at run time, e.g. with paddle.shape(x)) were counted as {shapes.unknown_dim}; counts that "
            f"depend on them may be wrong. Count this model with mode='eager' (it runs the model) for "
            f"exact figures"]


_CONSTANTS = {"pd_op.full", "pd_op.full_int_array", "pd_op.assign_value", "pd_op.assign_value_"}


def _integer_only(op) -> bool:
    """The integer rule of ``Attribution.count`` on a program operation;
    constant operands (a ``scale`` factor) do not count, as eager mode
    passes them as Python numbers."""
    try:
        reads = [v for v in op.operands_source() if v is not None and v.initialized()
                 and (v.get_defining_op() is None or v.get_defining_op().name() not in _CONSTANTS)]
        writes = [r for r in op.results() if r.initialized()]
        return integer_work(reads, writes, lambda v: v.dtype if v.is_dense_tensor_type() else None, _value_numel)
    except Exception:  # noqa: BLE001 - a value without a dtype: treat as floating
        return False


def _count_program_op(attribution: Attribution, rec: LayerRecord, op, shapes: _Shapes) -> None:
    name = op.name()
    if registry.lookup_op(name) is None:
        attribution.count(rec, name, None, None, [])
        return
    ins, outs, attrs = _op_arguments(op, shapes)
    attribution.count(rec, name, lambda spec: (ins, attrs), None, outs, integer=lambda: _integer_only(op))


# --------------------------------------------------------------------------
# entry points
# --------------------------------------------------------------------------

@dataclass
class Traced:
    """A traced forward, for counts built on top of it (training): the
    program, the attribution that bracketed it, every operation in walk
    order and the batch size unknown dimensions are counted as."""
    program: object
    attribution: Attribution
    ops: list
    batch: int


def collect_trace(patches: Patches, net, input_size=None, inputs=None, input_spec=None, *, overrides=None,
                  options=None, count_functional=True, dtype=None) -> Collection:
    """Trace ``net`` (see the module docstring) and attribute every operation
    of the program; changes are logged in ``patches`` (the caller owns the
    session and restores)."""
    return trace_and_collect(patches, net, input_size, inputs, input_spec, overrides=overrides, options=options,
                             count_functional=count_functional, dtype=dtype)[0]


def trace_and_collect(patches: Patches, net, input_size=None, inputs=None, input_spec=None, *, overrides=None,
                      options=None, count_functional=True, dtype=None, on_op_record=None) -> tuple:
    """:func:`collect_trace`, also returning the :class:`Traced` forward;
    ``on_op_record`` is the core's per-op callback (composite calls while
    tracing)."""
    _defer_interrupts(patches)
    plan_args, plan_kwargs = _input_plan(net, input_size, inputs, input_spec, dtype)
    input_shapes = [tuple(p.shape) for p in _placeholders((plan_args, plan_kwargs))]
    # a -1 left in the traced program (a data-dependent size) -> the batch size
    batch = input_shapes[0][0] if input_shapes and input_shapes[0] else 1
    program, attribution, how = _trace(patches, net, plan_args, plan_kwargs, overrides, options,
                                       count_functional, batch, on_op_record)
    shapes = attribution.shapes
    all_ops = list(_walk(program.global_block()))
    ops = [op for op in all_ops if not _is_plumbing(op.name())]
    for op, span in _owners(ops, attribution.spans):
        if span is not None and span.counts_ops and span.record is not None:
            _count_program_op(attribution, span.record, op, shapes)
    collection = Collection(net, attribution.order, input_shapes, "trace")
    collection.notes.extend(_notes(_control_flow_kinds(all_ops), shapes, how))
    collection.inexact.extend(_inexact(shapes))
    return collection, Traced(program, attribution, all_ops, batch)


def _defer_interrupts(patches: Patches) -> None:
    """Hold Ctrl-C back until the session is restored, then raise it.

    Paddle's C++ program builders call back into Python (the op call-stack
    capture); a KeyboardInterrupt raised inside such a callback aborts the
    interpreter (``std::bad_alloc``, SIGABRT) instead of unwinding. Signals
    reach only the main thread, so only there is anything to defer."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return
    pending: list[int] = []

    def hold(signum, frame):
        pending.append(signum)

    previous = signal.signal(signal.SIGINT, hold)

    def undo():
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
        if pending:
            pending.clear()
            raise KeyboardInterrupt

    patches.on_restore(undo)


def _unknown_dim(program, input_size) -> int:
    """The size to use for -1 dims of a bare program: matched from
    ``input_size`` against the program's data placeholders, else 1."""
    if input_size is None:
        return 1
    sizes = input_size
    if not (isinstance(sizes, (list, tuple)) and sizes and all(isinstance(s, (list, tuple)) for s in sizes)):
        sizes = [sizes]
    sizes = [check_size(s, "input_size") for s in sizes]
    found = []
    data_ops = [op for op in program.global_block().ops if op.name() == "pd_op.data"]
    for op, given in zip(data_ops, sizes):
        dims = list(op.results()[0].shape)
        for d, g in zip(dims, given):
            if int(d) < 0:
                found.append(int(g))
    return found[0] if found else int(sizes[0][0])


def collect_program(program, input_size=None, options=None) -> Collection:
    """Count a program's operations, all attributed to one root record; its
    parameters are the ``builtin.parameter`` placeholders."""
    pir_program, translated = _as_pir(program)
    shapes = _Shapes(_unknown_dim(pir_program, input_size))
    attribution = Attribution(None, shapes, options=options)
    rec = LayerRecord("", None, calls=1, counted_by="ops")
    seen_params = set()
    inputs = []
    all_ops = list(_walk(pir_program.global_block()))
    for op in all_ops:
        name = op.name()
        if name == "builtin.parameter":
            attrs = op.attrs()
            pname = attrs.get("parameter_name")
            if pname in seen_params:
                continue
            seen_params.add(pname)
            n = registry.numel(shapes.of(op.results()[0]) or ())
            rec.params += n
            train = attrs.get("trainable")
            stop = attrs.get("stop_gradient")
            train = train[0] if isinstance(train, list) and train else train
            stop = stop[0] if isinstance(stop, list) and stop else stop
            if (train if train is not None else not stop):
                rec.trainable_params += n
            continue
        if name == "pd_op.data":
            inputs.append(shapes.of(op.results()[0]))
            continue
        if _is_plumbing(name):
            continue
        _count_program_op(attribution, rec, op, shapes)
    rec.input_shapes = list(inputs)
    collection = Collection(None, [rec], list(inputs), "program")
    if translated:
        collection.notes.append("legacy paddle.static.Program translated to PIR with paddle.pir.translate_to_pir")
    collection.notes.extend(_notes(_control_flow_kinds(all_ops), shapes, None))
    if shapes.replaced:  # a bare program's -1 dims: sized from input_size when given
        collection.notes.append(f"unknown (-1) dimensions in the program were counted as {shapes.unknown_dim}"
                                + ("" if input_size is not None else " (give input_size to size them)"))
    return collection
