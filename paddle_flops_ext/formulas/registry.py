"""The single table of counting formulas, keyed by layer type and by operation.

Every formula is a small pure function of *shapes and attributes* that returns
a :class:`Cost`. Two registries live here:

* ``op`` formulas, keyed by Paddle operator name (the names of ``paddle._C_ops``
  and, with a ``pd_op.`` prefix, of PIR operations). Signature::

      fn(ins: dict[str, Shape | list[Shape] | None], outs: list[Shape], attrs: dict) -> Cost
      fn(ins, outs, attrs, options) -> Cost       # reads profile's counting options

  ``ins`` maps each tensor argument's name (as in Paddle's op definition) to its
  shape, ``attrs`` maps each non-tensor argument to its value. The eager engine
  binds positional ``_C_ops`` arguments to those names with the ``args`` given
  at registration; the program walker reads them off the operation.

* ``layer`` formulas, keyed by ``paddle.nn.Layer`` subclass. Signature::

      fn(layer, ins: list[Shape], outs: list[Shape]) -> Cost

  They read hyper-parameters from the layer (groups, data_format, ...) and
  shapes from what flowed through it.

Operations that do no arithmetic by convention (reshape, transpose, concat,
slicing, casts, comparisons, ...) are registered with :func:`zero_cost_ops`
so the coverage report can tell "free" from "unknown".
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import paddle

from ..errors import DuplicateFormula, HandlerError

Shape = tuple  # a tuple of ints


def numel(shape: Sequence[int] | None) -> int:
    """Number of elements of a shape; a scalar (``()``) has one, ``None`` none."""
    if shape is None:
        return 0
    try:
        return int(math.prod(shape))
    except TypeError:  # dims that are not ints (numpy ints, strings of digits)
        return int(math.prod(int(d) for d in shape))


_CLASS_NAMES: dict[type, frozenset] = {}


def _parameter(layer, name: str):
    """``layer.<name>``, read straight from the layer's parameter table when
    that is where it comes from: ``Layer.__getattr__`` is Python code that
    costs about half a microsecond per read, and the hot formulas
    (convolution, linear, batch norm) read several parameters per call."""
    d = layer.__dict__
    table = d.get("_parameters")
    if table is not None and name in table and name not in d:
        names = _CLASS_NAMES.get(type(layer))
        if names is None:
            names = _CLASS_NAMES[type(layer)] = frozenset(dir(type(layer)))
        if name not in names:   # no property or class attribute of that name shadows the table
            return table[name]
    return getattr(layer, name, None)


def param_shape(layer, name: str) -> tuple | None:
    """The shape of ``layer.<name>`` (a parameter such as ``weight``), None if
    it is unset."""
    value = _parameter(layer, name)
    return None if value is None else tuple(value.shape)


def has_param(layer, name: str) -> bool:
    """Is ``layer.<name>`` set (a bias, say)?"""
    return _parameter(layer, name) is not None


class Cost:
    """What one call costs.

    ``macs``: multiply-accumulates of contractions only.
    ``flops``: 2 x macs + every other floating-point operation (bias adds,
    normalisation, activations, ...).
    ``paddle_flops``: the ``paddle.flops`` convention (MACs, plus conv bias and
    the per-element costs paddle uses for the layers it knows).
    ``comm_bytes``: bytes a rank sends for a collective or point-to-point
    operation (:mod:`.communication`); 0 for every computation.

    A value: never modified after creation (arithmetic returns a new one).
    A plain class with ``__slots__`` rather than a frozen dataclass, because
    one is created per layer call and per operation, and a frozen
    dataclass's ``__init__`` costs three times as much.
    """

    __slots__ = ("macs", "flops", "paddle_flops", "comm_bytes")

    def __init__(self, macs: int = 0, flops: int = 0, paddle_flops: int = 0, comm_bytes: int = 0):
        self.macs = macs
        self.flops = flops
        self.paddle_flops = paddle_flops
        self.comm_bytes = comm_bytes

    def _key(self) -> tuple:
        return (self.macs, self.flops, self.paddle_flops, self.comm_bytes)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Cost):
            return NotImplemented
        return self.macs == other.macs and self.flops == other.flops and self.paddle_flops == other.paddle_flops \
            and self.comm_bytes == other.comm_bytes

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        comm = f", comm_bytes={self.comm_bytes!r}" if self.comm_bytes else ""
        return f"Cost(macs={self.macs!r}, flops={self.flops!r}, paddle_flops={self.paddle_flops!r}{comm})"

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.macs + other.macs, self.flops + other.flops,
                    self.paddle_flops + other.paddle_flops, self.comm_bytes + other.comm_bytes)

    def __mul__(self, k: int) -> "Cost":
        return Cost(self.macs * k, self.flops * k, self.paddle_flops * k, self.comm_bytes * k)

    __rmul__ = __mul__

    def with_paddle(self, paddle_flops: int) -> "Cost":
        return Cost(self.macs, self.flops, int(paddle_flops), self.comm_bytes)


ZERO = Cost()


def contraction(macs: int, bias_adds: int = 0) -> Cost:
    """A product: 2 FLOPs per MAC plus one per bias add; paddle counts MACs + bias."""
    macs, bias_adds = int(macs), int(bias_adds)
    return Cost(macs, 2 * macs + bias_adds, macs + bias_adds)


def pointwise(elements: int, per_element: float) -> Cost:
    """Non-contraction work: ``per_element`` FLOPs on each of ``elements``.

    As an *op* this enters ``flops`` only; layer formulas that want the same
    figure in ``paddle_flops`` call :func:`as_layer_cost`.
    """
    return Cost(0, int(round(elements * per_element)), 0)


def as_layer_cost(cost: Cost) -> Cost:
    """Layer convention for paddle_flops: MACs (+bias) plus all non-MAC work.

    paddle.flops counts a layer's non-contraction work at face value (BatchNorm
    as 2 per element, LeakyReLU as 1); functional ops outside layers only
    contribute their MACs. ``flops - 2*macs`` is exactly the non-MAC work.
    """
    return cost.with_paddle(cost.macs + (cost.flops - 2 * cost.macs))


# --------------------------------------------------------------------------
# operation formulas
# --------------------------------------------------------------------------

OpFn = Callable[[dict, list, dict], Cost]


@dataclass
class OpSpec:
    name: str
    fn: OpFn
    args: tuple[str, ...]       # positional argument names, in _C_ops order
    convention: str             # one line, shown in the docs' formula table
    contraction: bool = False   # does it produce MACs (enters paddle_flops)

    takes_options: bool = False  # fn(ins, outs, attrs, options): reads counting options
    element_size: bool = False   # attrs["element_size"]: bytes per element of its output, set by the engine

    def cost(self, ins: dict, outs: list, attrs: dict, options: Mapping | None = None) -> Cost:
        """What one call costs; ``options`` are the counting options of
        ``profile`` (``causal``), passed only to formulas that take them."""
        if self.takes_options:
            return self.fn(ins, outs, attrs, {**DEFAULT_OPTIONS, **(options or {})})
        return self.fn(ins, outs, attrs)


_OPS: dict[str, OpSpec] = {}
_ZERO_OPS: dict[str, str] = {}


def _parse_args(args: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(args, str):
        return tuple(a.strip() for a in args.split(",") if a.strip())
    return tuple(args)


def op_formula(*names: str, args: str | Sequence[str] = "x", convention: str,
               contraction: bool = False, element_size: bool = False):
    """Register ``fn`` as the formula of the operations ``names``;
    ``element_size``: the engines pass the bytes per element of the
    operation's output as ``attrs["element_size"]`` (a formula that counts
    bytes, not arithmetic)."""

    def deco(fn: OpFn) -> OpFn:
        spec_args = _parse_args(args)
        takes_options = len(inspect.signature(fn).parameters) >= 4
        for name in names:
            _check_new_op(name)
            _OPS[name] = OpSpec(name, fn, spec_args, convention, contraction, takes_options, element_size)
        return fn

    return deco


def zero_cost_ops(names: Iterable[str], why: str) -> None:
    """Declare operations that do no floating-point arithmetic by convention."""
    for name in names:
        _check_new_op(name)
        _ZERO_OPS[name] = why


def _check_new_op(name: str) -> None:
    if name in _OPS:
        raise DuplicateFormula(f"operation {name!r} already has a formula ({_OPS[name].convention!r})")
    if name in _ZERO_OPS:
        raise DuplicateFormula(f"operation {name!r} is already declared zero-cost ({_ZERO_OPS[name]!r})")


# Python functions counted as one operation (their inner ops are not counted
# again): op name -> zero-argument callable returning the function object.
_COMPOSITES: dict[str, Callable[[], Callable | None]] = {}


def composite_function(op_name: str, resolve: Callable[[], Callable | None]) -> None:
    """Count each call of the function ``resolve()`` returns as one ``op_name``
    operation (e.g. ``F.scaled_dot_product_attention``); ``op_name`` needs an
    :func:`op_formula` or a :func:`zero_cost_ops` entry. Resolved lazily, so
    missing APIs are simply skipped."""
    if op_name in _COMPOSITES:
        raise DuplicateFormula(f"composite function {op_name!r} is already registered")
    _COMPOSITES[op_name] = resolve


def composite_functions() -> dict[str, Callable]:
    out = {}
    for name, resolve in _COMPOSITES.items():
        try:
            fn = resolve()
        except Exception:
            fn = None
        if fn is not None:
            out[name] = fn
    return out


# Counting choices of ``profile`` (``causal``): a formula that takes a fourth
# argument ``options`` receives them; they are never mixed into ``attrs``.
DEFAULT_OPTIONS = {"causal": "full"}


def canonical_op_name(name: str) -> str:
    """``pd_op.matmul`` / ``matmul_`` / ``final_state_matmul`` -> ``matmul``."""
    if "." in name:
        name = name.split(".", 1)[1]
    if name not in _OPS and name not in _ZERO_OPS and name.endswith("_"):
        name = name[:-1]  # in-place variant costs what the op costs
    return name


def lookup_op(name: str) -> OpSpec | None:
    return _OPS.get(canonical_op_name(name))


def zero_cost_reason(name: str) -> str | None:
    return _ZERO_OPS.get(canonical_op_name(name))


def op_specs() -> dict[str, OpSpec]:
    return dict(_OPS)


def zero_cost_table() -> dict[str, str]:
    return dict(_ZERO_OPS)


# --------------------------------------------------------------------------
# layer formulas
# --------------------------------------------------------------------------

LayerFn = Callable[[Any, list, list], Cost]


@dataclass
class LayerSpec:
    """A built-in layer formula ``fn(layer, in_shapes, out_shapes) -> Cost``."""
    layer_type: type
    fn: LayerFn
    convention: str
    counted_by = "formula"
    inherited_by_subclasses = True   # when the subclass keeps ``forward``

    def evaluate(self, layer, in_shapes: list, out_shapes: list, view, inputs: tuple, output) -> tuple[Cost, str]:
        """``(cost, counted_by)`` of one call. Built-in formulas read shapes
        only; ``view(value)`` maps the values the forward received and
        returned to what a user handler is given (tensors in eager mode,
        shape-only stand-ins in trace mode)."""
        return self.fn(layer, in_shapes, out_shapes), self.counted_by


@dataclass
class UserHandler:
    """A user handler ``fn(layer, inputs, output)`` (``pfe.register`` or
    ``custom_ops``). It returns a :class:`Cost`, a dict with ``macs`` /
    ``flops`` / ``paddle_flops``, an int (MACs), or ``None`` after doing
    ``layer.total_ops += n`` the way ``paddle.flops`` handlers do."""
    layer_type: type
    fn: Callable
    convention: str
    counted_by = "user"
    inherited_by_subclasses = True

    @property
    def name(self) -> str:
        return getattr(self.fn, "__qualname__", None) or getattr(self.fn, "__name__", repr(self.fn))

    def evaluate(self, layer, in_shapes: list, out_shapes: list, view, inputs: tuple, output) -> tuple[Cost, str]:
        """See :meth:`LayerSpec.evaluate`; the handler runs on ``view(inputs)``
        and ``view(output)``."""
        d = layer.__dict__
        had = {k: d[k] for k in ("total_ops", "total_params") if k in d}
        object.__setattr__(layer, "total_ops", 0)
        object.__setattr__(layer, "total_params", [0])
        try:
            try:
                result = self.fn(layer, view(inputs), view(output))
            except HandlerError:
                raise
            except Exception as exc:
                raise HandlerError(f"custom handler {self.name} for {type(layer).__name__} raised "
                                   f"{type(exc).__name__}: {exc}") from exc
            legacy_ops = d.get("total_ops", 0)
        finally:
            for k in ("total_ops", "total_params"):
                d.pop(k, None)
            d.update(had)
        if result is None:
            n = self._count(legacy_ops, "layer.total_ops")
            return Cost(0, n, n), "legacy"
        return self._cost(result), "user"

    def _count(self, value, what: str) -> int:
        """A non-negative integer from an int, an integral float, or a
        one-element tensor/array; anything else is a :class:`HandlerError`."""
        v = value
        if hasattr(v, "numpy") and callable(v.numpy):  # paddle.Tensor
            v = v.numpy()
        if hasattr(v, "shape") and hasattr(v, "reshape"):  # numpy array / scalar
            if int(math.prod(v.shape)) != 1:
                raise HandlerError(f"custom handler {self.name}: {what} must be a single number, "
                                   f"got an array of shape {list(v.shape)}")
            v = v.reshape(-1)[0].item()
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise HandlerError(f"custom handler {self.name}: {what} must be a non-negative integer, "
                               f"got {type(value).__name__} {value!r}")
        if isinstance(v, float) and not (math.isfinite(v) and v == int(v)):
            raise HandlerError(f"custom handler {self.name}: {what} must be a whole number, got {v!r}")
        if v < 0:
            raise HandlerError(f"custom handler {self.name}: {what} must be >= 0, got {v!r}")
        return int(v)

    def _cost(self, result) -> Cost:
        if isinstance(result, Cost):
            return Cost(*(self._count(getattr(result, f), f"Cost.{f}") for f in ("macs", "flops", "paddle_flops")))
        if isinstance(result, dict):
            unknown = set(result) - {"macs", "flops", "paddle_flops"}
            if unknown:
                raise HandlerError(f"custom handler {self.name} returned unknown keys {sorted(unknown)}; "
                                   f"use macs, flops, paddle_flops")
            macs = self._count(result.get("macs", 0), "['macs']")
            flops = self._count(result.get("flops", 2 * macs), "['flops']")
            return Cost(macs, flops, self._count(result.get("paddle_flops", macs), "['paddle_flops']"))
        if isinstance(result, bool) or not (isinstance(result, (int, float)) or hasattr(result, "shape")):
            raise HandlerError(f"custom handler {self.name} must return a Cost, a dict, an int (MACs) "
                               f"or None (paddle.flops style); got {type(result).__name__}")
        return contraction(self._count(result, "the returned MACs"))


_LAYERS: dict[type, LayerSpec] = {}
_USER_LAYERS: dict[type, UserHandler] = {}   # pfe.register: shadows _LAYERS


def layer_formula(*types: type, convention: str):
    """Register ``fn(layer, in_shapes, out_shapes) -> Cost`` for layer types."""

    def deco(fn: LayerFn) -> LayerFn:
        for t in types:
            if t in _LAYERS:
                raise DuplicateFormula(f"layer type {t.__name__} already has a formula")
            _LAYERS[t] = LayerSpec(t, fn, convention)
        return fn

    return deco


def register_user_handler(layer_type: type, fn: Callable) -> None:
    """``pfe.register``: a process-wide handler that shadows the built-in."""
    _USER_LAYERS[layer_type] = UserHandler(layer_type, fn, f"user handler {getattr(fn, '__name__', 'fn')}")


def unregister_user_handler(layer_type: type) -> None:
    """Remove a ``pfe.register`` handler; the built-in formula (if any) applies again."""
    if layer_type not in _USER_LAYERS:
        raise KeyError(f"{getattr(layer_type, '__name__', layer_type)} has no handler added with "
                       f"paddle_flops_ext.register; built-in formulas cannot be removed (override "
                       f"one with register() or custom_ops instead)")
    del _USER_LAYERS[layer_type]


def lookup_layer(layer_type: type, overrides: Mapping[type, Any] | None = None):
    """The formula or handler for ``layer_type``, from the per-call
    ``overrides`` (``custom_ops``), then ``pfe.register`` handlers, then the
    built-ins: an exact match first, else the nearest base class whose
    ``forward`` the subclass did not override (a subclass that rewrites
    forward does different work and is counted through its ops)."""
    tables = (overrides or {}, _USER_LAYERS, _LAYERS)
    for table in tables:
        spec = table.get(layer_type)
        if spec is not None:
            return spec
    forward = getattr(layer_type, "forward", None)
    for base in layer_type.__mro__[1:]:
        if getattr(base, "forward", None) is not forward:
            continue
        for table in tables:
            spec = table.get(base)
            if spec is not None and spec.inherited_by_subclasses:
                return spec
    return None


def layer_specs() -> dict[type, LayerSpec]:
    """The built-in layer formulas."""
    return dict(_LAYERS)


def user_layer_specs(custom_ops) -> dict:
    """``{LayerClass: fn}`` (``profile``'s ``custom_ops``) checked and turned
    into per-call overrides of the layer table."""
    if custom_ops is None:
        return {}
    if not isinstance(custom_ops, dict):
        raise TypeError("custom_ops must be a dict {LayerClass: fn(layer, inputs, output)}")
    specs = {}
    for t, fn in custom_ops.items():
        if not (isinstance(t, type) and issubclass(t, paddle.nn.Layer)):
            raise TypeError(f"custom_ops keys must be paddle.nn.Layer subclasses, got {t!r}")
        if not callable(fn):
            raise TypeError(f"custom_ops[{t.__name__}] must be callable, got {type(fn).__name__}")
        specs[t] = UserHandler(t, fn, f"custom_ops {getattr(fn, '__name__', 'fn')}")
    return specs
