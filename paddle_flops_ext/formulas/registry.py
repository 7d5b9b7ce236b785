"""The single table of counting formulas, keyed by layer type and by operation.

Every formula is a small pure function of *shapes and attributes* that returns
a :class:`Cost`. Two registries live here:

* ``op`` formulas, keyed by Paddle operator name (the names of ``paddle._C_ops``
  and, with a ``pd_op.`` prefix, of PIR operations). Signature::

      fn(ins: dict[str, Shape | list[Shape] | None], outs: list[Shape], attrs: dict) -> Cost

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

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

Shape = tuple  # a tuple of ints


def numel(shape: Sequence[int] | None) -> int:
    """Number of elements of a shape; a scalar (``()``) has one, ``None`` none."""
    if shape is None:
        return 0
    return int(math.prod(int(d) for d in shape))


@dataclass(frozen=True)
class Cost:
    """What one call costs.

    ``macs``: multiply-accumulates of contractions only.
    ``flops``: 2 x macs + every other floating-point operation (bias adds,
    normalisation, activations, ...).
    ``paddle_flops``: the ``paddle.flops`` convention (MACs, plus conv bias and
    the per-element costs paddle uses for the layers it knows).
    """

    macs: int = 0
    flops: int = 0
    paddle_flops: int = 0

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.macs + other.macs, self.flops + other.flops,
                    self.paddle_flops + other.paddle_flops)

    def __mul__(self, k: int) -> "Cost":
        return Cost(self.macs * k, self.flops * k, self.paddle_flops * k)

    __rmul__ = __mul__

    def with_paddle(self, paddle_flops: int) -> "Cost":
        return Cost(self.macs, self.flops, int(paddle_flops))


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
    convention: str             # one line, shown in the README table
    contraction: bool = False   # does it produce MACs (enters paddle_flops)

    def cost(self, ins: dict, outs: list, attrs: dict) -> Cost:
        return self.fn(ins, outs, attrs)


_OPS: dict[str, OpSpec] = {}
_ZERO_OPS: dict[str, str] = {}


def _parse_args(args: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(args, str):
        return tuple(a.strip() for a in args.split(",") if a.strip())
    return tuple(args)


def op_formula(*names: str, args: str | Sequence[str] = "x", convention: str,
               contraction: bool = False):
    """Register ``fn`` as the formula of the operations ``names``."""

    def deco(fn: OpFn) -> OpFn:
        spec_args = _parse_args(args)
        for name in names:
            _OPS[name] = OpSpec(name, fn, spec_args, convention, contraction)
        return fn

    return deco


def zero_cost_ops(names: Iterable[str], why: str) -> None:
    """Declare operations that do no floating-point arithmetic by convention."""
    for name in names:
        _ZERO_OPS[name] = why


# Python functions counted as one operation (their inner ops are not counted
# again): op name -> zero-argument callable returning the function object.
_COMPOSITES: dict[str, Callable[[], Callable | None]] = {}


def composite_function(op_name: str, resolve: Callable[[], Callable | None]) -> None:
    """Count each call of the function ``resolve()`` returns as one ``op_name``
    operation (e.g. ``F.scaled_dot_product_attention``); ``op_name`` needs an
    :func:`op_formula`. Resolved lazily, so missing APIs are simply skipped."""
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


# Counting choices that formulas read from ``attrs`` (the engines merge them in).
DEFAULT_OPTIONS = {"causal": "full"}


def apply_options(attrs: dict, options: Mapping) -> dict:
    """Merge counting options into an op's ``attrs``. An op argument that has an
    option's name (flash_attn's bool ``causal``) is kept as ``is_<name>``."""
    for k, v in options.items():
        if k in attrs:
            attrs.setdefault("is_" + k, attrs[k])
        attrs[k] = v
    return attrs


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
    layer_type: type
    fn: Callable
    convention: str
    kind: str = "builtin"   # builtin | user (pfe.register / custom_ops) | legacy (m.total_ops style)


_LAYERS: dict[type, LayerSpec] = {}


def layer_formula(*types: type, convention: str):
    """Register ``fn(layer, in_shapes, out_shapes) -> Cost`` for layer types."""

    def deco(fn: LayerFn) -> LayerFn:
        for t in types:
            _LAYERS[t] = LayerSpec(t, fn, convention)
        return fn

    return deco


def register_layer_spec(spec: LayerSpec) -> None:
    _LAYERS[spec.layer_type] = spec


def unregister_layer(layer_type: type) -> None:
    _LAYERS.pop(layer_type, None)


def lookup_layer(layer_type: type, overrides: Mapping[type, LayerSpec] | None = None) -> LayerSpec | None:
    """The spec for ``layer_type``: exact match, else the nearest registered base
    class whose ``forward`` the subclass did not override (a subclass that
    rewrites forward does different work and is counted through its ops)."""
    for table in (overrides or {}, _LAYERS):
        spec = table.get(layer_type)
        if spec is not None:
            return spec
    forward = getattr(layer_type, "forward", None)
    for base in layer_type.__mro__[1:]:
        for table in (overrides or {}, _LAYERS):
            spec = table.get(base)
            if spec is not None and getattr(base, "forward", None) is forward and spec.kind == "builtin":
                return spec
    return None


def layer_specs() -> dict[type, LayerSpec]:
    return dict(_LAYERS)


def user_layer_specs(custom_ops) -> dict:
    """``{LayerClass: fn}`` (``profile``'s ``custom_ops``) checked and turned
    into per-call overrides of the layer table."""
    import paddle

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
        specs[t] = LayerSpec(t, fn, f"custom_ops {getattr(fn, '__name__', 'fn')}", kind="user")
    return specs
