"""Reading PIR programs: what the trace engine, the program counter and the
training engine's trace mode share.

A program value's shape (:class:`ValueShapes`, which sizes unknown -1
dimensions and counts how many it had to), an operation's arguments shaped
as the eager engine passes them to a formula (:func:`op_arguments`,
:func:`op_tensors`), which layer call created an operation (:func:`owners`,
from the id spans the core's bracket marks with :class:`Marks`), which
operations are plumbing, and the notes a program's control flow and unknown
dimensions call for.
"""
from __future__ import annotations

import math

import paddle

from ..errors import TraceError
from ..formulas import registry
from .core import Attribution, IntegerRule, bind_op_arguments, first_line, integer_work
from .records import LayerRecord, Span

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


def is_plumbing(name: str) -> bool:
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


def as_pir(program):
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

def is_value(v) -> bool:
    return isinstance(v, paddle.pir.Value)


def value_numel(v) -> int:
    """Elements of a program value; an unknown (-1) dimension is not small."""
    shape = list(v.shape)
    return math.prod(shape) if all(d >= 0 for d in shape) else 2


class ValueShapes(IntegerRule):
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
            if is_value(v):
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
            if is_value(value) or isinstance(value, paddle.Tensor):
                found = self.nested(value)
                return found[0] if found else ()
            return None
        return bind_op_arguments(arg_names, args, kwargs, shape_of)

    def handler_view(self, value):
        return shape_only(value, self)

    @staticmethod
    def _dtype(v):
        return v.dtype if is_value(v) or isinstance(v, paddle.Tensor) else None

    _numel = staticmethod(value_numel)


class ShapeOnly:
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


def shape_only(value, shapes: ValueShapes):
    if is_value(value):
        s = shapes.of(value)
        return ShapeOnly(s if s is not None else [], getattr(value, "dtype", None))
    if isinstance(value, (list, tuple)):
        return type(value)(shape_only(v, shapes) for v in value)
    if isinstance(value, dict):
        return {k: shape_only(v, shapes) for k, v in value.items()}
    return value


class Marks:
    """Monotonic positions in operation-creation order: each call creates a
    throw-away constant op in the program being built and returns its id."""

    def __init__(self):
        self.place = paddle.CPUPlace()

    def __call__(self) -> int:
        v = paddle._C_ops.full_int_array([0], paddle.int64, self.place)
        return v.get_defining_op().id()


def walk(block):
    for op in block.ops:
        yield op
        if op.num_regions():
            for sub in op.blocks():
                yield from walk(sub)


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


def op_arguments(op, shapes: ValueShapes):
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
        if s is not None and not is_vector(r):
            outs.append(s)
            continue
        for user in r.all_used_ops():
            if user.name() == "builtin.split":
                outs.extend(x for x in (shapes.of(v) for v in user.results()) if x is not None)
                break
    return ins, outs, attrs


def is_vector(value) -> bool:
    try:
        return not value.is_dense_tensor_type() and not value.is_selected_row_type()
    except Exception:
        return False


def control_flow_kinds(ops) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for op in ops:
        kind = _CONTROL_FLOW.get(op.name())
        if kind:
            kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def owners(ops, spans: list[Span]):
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


def program_notes(control_flow: dict, shapes: ValueShapes, how: str | None) -> list[str]:
    notes = []
    if how == "to_static":
        notes.append("traced with paddle.jit.to_static(full_graph=True): forward has Python control flow "
                     "on tensor values")
    if control_flow:
        kinds = ", ".join(f"{n} x{c}" for n, c in sorted(control_flow.items()))
        notes.append(f"program control flow ({kinds}): every branch of an if is counted, a while body once")
    return notes


def inexact_notes(shapes: ValueShapes, saved: bool = False) -> list[str]:
    """Why the counts may be wrong: -1 dimensions that counts depend on and
    that had to be guessed - sizes computed at run time (e.g. from
    ``paddle.shape(x)``), or the variable sizes of a ``saved`` program."""
    if not shapes.replaced:
        return []
    if saved:
        return [f"INEXACT: {shapes.replaced} unknown (-1) dimension(s) of the saved program that counts depend "
                f"on were counted as {shapes.unknown_dim} (the batch size given); a size that is not the "
                f"batch would be wrong. Save the model with a fixed InputSpec (no -1/None) for exact figures"]
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
        return integer_work(reads, writes, lambda v: v.dtype if v.is_dense_tensor_type() else None, value_numel)
    except Exception:  # noqa: BLE001 - a value without a dtype: treat as floating
        return False


def _cost_depends_on_unknown(op, arguments: tuple, shapes: ValueShapes, options) -> bool:
    """Whether the op's count changes with the size given to its unknown
    (-1) dimensions: priced again with another size. An auxiliary output
    of unknown shape that no formula reads leaves the count as it is."""
    spec = registry.lookup_op(op.name())
    ins, outs, attrs = arguments
    other = ValueShapes(shapes.unknown_dim + 7)
    try:
        ins2, outs2, attrs2 = op_arguments(op, other)
        return spec.cost(ins, outs, attrs, options) != spec.cost(ins2, outs2, attrs2, options)
    except Exception:  # noqa: BLE001 - a formula that cannot take the other size: treat as dependent
        return True


def count_program_op(attribution: Attribution, rec: LayerRecord, op, shapes: ValueShapes) -> None:
    name = op.name()
    if registry.lookup_op(name) is None:
        attribution.count(rec, name, None, None, [])
        return
    before = shapes.replaced
    ins, outs, attrs = op_arguments(op, shapes)
    if shapes.replaced != before and not _cost_depends_on_unknown(op, (ins, outs, attrs), shapes,
                                                                   attribution.options):
        shapes.replaced = before   # only shapes no count reads were unknown (e.g. batch_norm's saved statistics)
    attribution.count(rec, name, lambda spec: (ins, attrs), list(op.results()), outs,
                      integer=lambda: _integer_only(op))


def value_key(v):
    """A PIR value's identity (its Python wrappers differ and hash apart)."""
    return v.id


def flat_values(out) -> list:
    if is_value(out):
        return [out]
    if isinstance(out, (list, tuple)):
        return [v for o in out for v in flat_values(o)]
    return []


def op_tensors(op, shapes: ValueShapes):
    """``(tensors by argument name, attrs, output values)`` of a program op."""
    ins, _, attrs = op_arguments(op, shapes)
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
        if is_vector(r):
            for user in r.all_used_ops():
                if user.name() == "builtin.split":
                    outs.extend(user.results())
                    break
        elif shapes.of(r) is not None:
            outs.append(r)
    return tensors, attrs, outs
