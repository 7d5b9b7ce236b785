"""Pooling layers and ops.

Conventions (per output element):

* max pooling (plain, adaptive, fractional, with index) and max-unpooling:
  comparisons / scatter only: 0.
* average pooling: the window's adds and one divide = ``prod(kernel)`` FLOPs
  (``kernel - 1`` adds + 1 divide), whatever the padding / ``exclusive``.
  Global pooling uses the whole input window.
* adaptive average pooling: each output adds its own window (Paddle's
  ``floor(i*in/out) .. ceil((i+1)*in/out)``) and divides once: the exact sum of
  window sizes over the outputs (non-divisible sizes included).
* LP pooling: ``x**p`` per window element, the adds, one root:
  ``2 x prod(kernel)`` FLOPs.

``paddle_flops`` for the layers keeps paddle.flops' figures: AvgPool 1 per
output element, AdaptiveAvgPool ``(prod(in // out) + 1)`` per output element;
the other layers use their FLOPs. Layouts: ``data_format`` (NCHW / NHWC,
NCL / NLC, NCDHW / NDHWC) picks the spatial axes.
"""
from __future__ import annotations

import math

import paddle.nn as nn

from .registry import Cost, as_layer_cost, layer_formula, numel, op_formula, pointwise, zero_cost_ops


# ---------------------------------------------------------------- helpers

def channels_last(data_format) -> bool:
    return isinstance(data_format, str) and len(data_format) > 2 and data_format.upper().endswith("C")


def spatial(shape, nd: int, last: bool) -> tuple:
    """The ``nd`` spatial sizes of an ``N, C, *spatial`` (or ``N, *spatial, C``) shape."""
    shape = tuple(int(d) for d in shape)
    return shape[1:1 + nd] if last else shape[-nd:]


def _ints(value, nd: int):
    """``value`` as ``nd`` ints, or None when it is not a plain int / int list."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return (value,) * nd
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, int) and not isinstance(v, bool)
                                                            for v in value):
        value = tuple(int(v) for v in value)
        if len(value) == nd:
            return value
        if len(value) == 1:
            return value * nd
    return None


def adaptive_window_sum(in_sizes, out_sizes) -> int:
    """Total window size over all outputs of one (sample, channel) plane of an
    adaptive pool: per axis ``sum_i ceil((i+1) L/O) - floor(i L/O)``, multiplied
    over the axes (the windows are products of per-axis intervals)."""
    total = 1
    for length, o in zip(in_sizes, out_sizes):
        length, o = int(length), int(o)
        total *= sum(-((-(i + 1) * length) // o) - (i * length) // o for i in range(o))
    return total


def _infer_kernel(in_sizes, out_sizes, strides, paddings):
    """Kernel sizes when only shapes are known (e.g. a traced program passes the
    kernel as a tensor): the largest window consistent with the output size."""
    nd = len(in_sizes)
    strides = _ints(strides, nd) or (1,) * nd
    pads = [0] * nd
    if isinstance(paddings, (list, tuple)) and all(isinstance(p, int) for p in paddings):
        if len(paddings) == nd:
            pads = [2 * int(p) for p in paddings]
        elif len(paddings) == 2 * nd:
            pads = [int(paddings[2 * i]) + int(paddings[2 * i + 1]) for i in range(nd)]
    return tuple(max(1, i + p - (o - 1) * s) for i, o, s, p in zip(in_sizes, out_sizes, strides, pads))


def pool_cost(x, out, nd: int, pooling_type: str = "avg", kernel=None, strides=None, paddings=None,
              data_format="NCHW", global_pooling=False, adaptive=False) -> Cost:
    """FLOPs of one ``nd``-D pooling call (see module docstring)."""
    kind = (pooling_type or "avg").lower()
    if kind == "max" or x is None or not out:
        return Cost()
    last = channels_last(data_format)
    xin, yout = spatial(x, nd, last), spatial(out, nd, last)
    planes = numel(out) // max(1, numel(yout))
    if adaptive:
        window_total = planes * adaptive_window_sum(xin, yout)
    else:
        if global_pooling:
            k = xin
        else:
            k = _ints(kernel, nd) or _infer_kernel(xin, yout, strides, paddings)
        window_total = numel(out) * math.prod(k)
    per_window_element = 2 if kind == "lp" else 1
    return pointwise(window_total, per_window_element)


# ---------------------------------------------------------------- ops

_POOL_ARGS = ("x, kernel_size, strides, paddings, ceil_mode, exclusive, data_format, pooling_type, "
              "global_pooling, adaptive, padding_algorithm")


def _pool_op(nd: int):
    def fn(ins, outs, attrs):
        return pool_cost(ins.get("x"), outs[0] if outs else None, nd, attrs.get("pooling_type") or "avg",
                         attrs.get("kernel_size"), attrs.get("strides"), attrs.get("paddings"),
                         attrs.get("data_format") or "NCHW", bool(attrs.get("global_pooling")),
                         bool(attrs.get("adaptive")))
    return fn


pool2d_op = op_formula("pool2d", args=_POOL_ARGS,
                       convention="avg: prod(kernel) per output (adaptive: exact window sizes); max: 0")(_pool_op(2))
pool3d_op = op_formula("pool3d", args=_POOL_ARGS,
                       convention="avg: prod(kernel) per output (adaptive: exact window sizes); max: 0")(_pool_op(3))


@op_formula("lp_pool2d", args=_POOL_ARGS + ", norm_type",
            convention="2 x prod(kernel) per output (power + add per window element, one root)")
def lp_pool2d_op(ins, outs, attrs):
    a = dict(attrs, pooling_type="lp")
    return _pool_op(2)(ins, outs, a)


zero_cost_ops(["max_pool2d_with_index", "max_pool3d_with_index", "fractional_max_pool2d",
               "fractional_max_pool3d", "unpool", "unpool3d"],
              "max pooling / unpooling: comparisons and scatter only")


# ---------------------------------------------------------------- layers

_ND = {nn.AvgPool1D: 1, nn.AvgPool2D: 2, nn.AvgPool3D: 3,
       nn.AdaptiveAvgPool1D: 1, nn.AdaptiveAvgPool2D: 2, nn.AdaptiveAvgPool3D: 3,
       nn.LPPool1D: 1, nn.LPPool2D: 2}


def _nd(layer) -> int:
    for t in type(layer).__mro__:
        if t in _ND:
            return _ND[t]
    raise KeyError(type(layer).__name__)


def _layer_format(layer, nd):
    fmt = getattr(layer, "data_format", None) or getattr(layer, "_data_format", None)
    return fmt or {1: "NCL", 2: "NCHW", 3: "NCDHW"}[nd]


_MAX_LIKE = [nn.MaxPool1D, nn.MaxPool2D, nn.MaxPool3D,
             nn.AdaptiveMaxPool1D, nn.AdaptiveMaxPool2D, nn.AdaptiveMaxPool3D]
_MAX_LIKE += [t for t in (getattr(nn, n, None) for n in ("FractionalMaxPool2D", "FractionalMaxPool3D",
                                                          "MaxUnPool1D", "MaxUnPool2D", "MaxUnPool3D"))
              if t is not None]


@layer_formula(*_MAX_LIKE, convention="0: comparisons / scatter only")
def max_pool_layer(layer, ins, outs):
    return Cost()


@layer_formula(nn.AvgPool1D, nn.AvgPool2D, nn.AvgPool3D,
               convention="prod(kernel) per output element (adds + one divide); paddle: 1 per output")
def avg_pool_layer(layer, ins, outs):
    nd = _nd(layer)
    kernel = getattr(layer, "ksize", None) or getattr(layer, "kernel_size", None)
    cost = pool_cost(ins[0], outs[0], nd, "avg", kernel, getattr(layer, "stride", None), None,
                     _layer_format(layer, nd))
    return cost.with_paddle(numel(outs[0]))


@layer_formula(nn.AdaptiveAvgPool1D, nn.AdaptiveAvgPool2D, nn.AdaptiveAvgPool3D,
               convention="sum of window sizes over outputs (adds + one divide each); "
                          "paddle: (prod(in//out)+1) per output")
def adaptive_avg_pool_layer(layer, ins, outs):
    nd = _nd(layer)
    fmt = _layer_format(layer, nd)
    x, y = ins[0], outs[0]
    cost = pool_cost(x, y, nd, "avg", data_format=fmt, adaptive=True)
    last = channels_last(fmt)
    kernel = math.prod(int(i) // int(o) for i, o in zip(spatial(x, nd, last), spatial(y, nd, last)))
    return cost.with_paddle((kernel + 1) * numel(y))


@layer_formula(nn.LPPool1D, nn.LPPool2D,
               convention="2 x prod(kernel) per output element (power + add per window element, root)")
def lp_pool_layer(layer, ins, outs):
    nd = _nd(layer)
    kernel = getattr(layer, "ksize", None) or getattr(layer, "kernel_size", None)
    return as_layer_cost(pool_cost(ins[0], outs[0], nd, "lp", kernel, getattr(layer, "stride", None), None,
                                   _layer_format(layer, nd)))
