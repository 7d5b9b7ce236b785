"""Resizing layers and ops: Upsample / interpolate, pixel and channel shuffles.

Conventions (per output element; the interpolation weights depend only on
the output coordinate and are shared by every channel, so they are not
counted):

* nearest: 0 (a copy).
* (bi/tri)linear: nested 1-D lerps as the kernels compute them; a lerp of two
  values is ``a*w0 + b*w1`` = 3 FLOPs and a d-linear sample needs ``2^d - 1``
  of them: linear 3, bilinear 9, trilinear 21.
* bicubic: four 4-tap rows (7 FLOPs each: 4 multiplies + 3 adds) and one
  4-tap column: 35.
  In general, with ``t_1..t_d`` taps per axis the nested weighted sums
  (innermost along the last axis) cost ``c = t_k * c + 2 t_k - 1`` for
  ``k = d .. 1``, starting from ``c = 0``.
* antialiased resize (``interpolate(..., antialias=True)``): separable passes
  as the kernel runs them, last axis first; each pass writes its intermediate
  with ``t``-tap weighted sums (``2t - 1`` each), the filter widened on
  down-sampled axes: ``t = ceil(support * max(1, in/out))``, support 2
  (bilinear) or 4 (bicubic); an axis whose size does not change is skipped.
* area: adaptive average pooling (see pooling).
* grid_sample: bilinear 9 (4-D input) / trilinear 21 (5-D) per output
  element, nearest 0; the grid's un-normalisation (per output location,
  shared by the channels) is not counted, like the interpolation weights.
* PixelShuffle / PixelUnshuffle / ChannelShuffle: 0 (data movement).
"""
from __future__ import annotations

import math

import paddle.nn as nn

from .pooling import channels_last, pool_cost, spatial
from .registry import Cost, as_layer_cost, layer_formula, numel, op_formula, pointwise, zero_cost_ops

_TAPS = {"linear": 2, "bilinear": 2, "trilinear": 2, "bicubic": 4}
_MODE_ND = {"linear": 1, "bilinear": 2, "trilinear": 3, "bicubic": 2}


def nested_weighted_sum_flops(taps_per_axis) -> int:
    """FLOPs of one output sample built by nested weighted sums over the axes,
    the innermost sums running along the last (fastest) axis."""
    c = 0
    for t in reversed(list(taps_per_axis)):
        t = int(t)
        c = t * c + 2 * t - 1
    return c


def interp_per_output(mode: str, nd: int) -> int:
    mode = (mode or "nearest").lower()
    if mode == "nearest":
        return 0
    return nested_weighted_sum_flops([_TAPS[mode]] * nd)


def interp_cost(x, out, mode: str, data_format="NCHW", antialias=False) -> Cost:
    """FLOPs of resizing ``x`` (N, C, *spatial or N, *spatial, C) to ``out``."""
    mode = (mode or "nearest").lower()
    if x is None or not out or mode == "nearest":
        return Cost()
    nd = len(x) - 2
    if mode == "area":
        return pool_cost(x, out, nd, "avg", data_format=data_format, adaptive=True)
    if not antialias:
        return pointwise(numel(out), interp_per_output(mode, nd))
    return pointwise(antialias_flops(x, out, mode, data_format), 1)


def antialias_flops(x, out, mode: str, data_format="NCHW") -> int:
    """Separable antialiased resize: one pass per resized axis, last axis first;
    a pass writes every element of its intermediate with a ``t``-tap weighted
    sum (``2t - 1``), ``t = ceil(support * max(1, in/out))``."""
    nd = len(x) - 2
    last = channels_last(data_format)
    sizes = list(spatial(x, nd, last))
    target = spatial(out, nd, last)
    planes = numel(out) // max(1, numel(target))
    support = _TAPS.get(mode, 2)
    total = 0
    for axis in reversed(range(nd)):
        if sizes[axis] == target[axis]:
            continue
        taps = math.ceil(support * max(1.0, sizes[axis] / max(1, target[axis])))
        sizes[axis] = target[axis]
        total += math.prod(sizes) * (2 * taps - 1)
    return planes * total


_INTERP_ARGS = ("x, out_size, size_tensor, scale_tensor, data_format, out_d, out_h, out_w, scale, "
                "interp_method, align_corners, align_mode")


def _interp_op(mode: str | None):
    def fn(ins, outs, attrs):
        method = mode or attrs.get("interp_method") or "bilinear"
        return interp_cost(ins.get("x"), outs[0] if outs else None, method, attrs.get("data_format") or "NCHW",
                           antialias=mode is None)
    fn.__name__ = f"{mode or 'antialias'}_interp_op"
    return fn


for _mode in ("linear", "bilinear", "trilinear", "bicubic"):
    op_formula(f"{_mode}_interp", args=_INTERP_ARGS,
               convention=f"{interp_per_output(_mode, _MODE_ND[_mode])} per output element "
                          f"(nested weighted sums of {_TAPS[_mode]}-tap axes)")(_interp_op(_mode))

interp_antialias_op = op_formula(
    "interp_antialias", args=_INTERP_ARGS,
    convention="separable passes: (2t - 1) per intermediate element, t = ceil(support x max(1, in/out))")(
    _interp_op(None))

zero_cost_ops(["nearest_interp"], "nearest-neighbour resize copies values")

@op_formula("grid_sample", args="x, grid, mode, padding_mode, align_corners",
            convention="per output element: bilinear 9 (4-D) / trilinear 21 (5-D), nearest 0; "
                       "grid un-normalisation not counted")
def grid_sample_op(ins, outs, attrs):
    mode = str(attrs.get("mode") or "bilinear").lower()
    x = ins.get("x")
    if mode == "nearest" or x is None or not outs:
        return Cost()
    nd = len(x) - 2
    return pointwise(numel(outs[0]), interp_per_output("bilinear" if nd == 2 else "trilinear", nd))

zero_cost_ops(["pixel_shuffle", "pixel_unshuffle", "channel_shuffle"], "rearranges elements")


# ---------------------------------------------------------------- layers

def _upsample_format(layer, x) -> str:
    fmt = getattr(layer, "data_format", None)
    if fmt:
        return fmt
    return {3: "NCW", 4: "NCHW", 5: "NCDHW"}.get(len(x), "NCHW")


@layer_formula(nn.Upsample, nn.UpsamplingNearest2D, nn.UpsamplingBilinear2D,
               convention="per output: nearest 0, linear 3, bilinear 9, trilinear 21, bicubic 35; "
                          "area as adaptive avg pool")
def upsample_layer(layer, ins, outs):
    if isinstance(layer, nn.UpsamplingNearest2D):
        mode = "nearest"
    elif isinstance(layer, nn.UpsamplingBilinear2D):
        mode = "bilinear"
    else:
        mode = getattr(layer, "mode", "nearest")
    return as_layer_cost(interp_cost(ins[0], outs[0], mode, _upsample_format(layer, ins[0])))


@layer_formula(nn.PixelShuffle, nn.PixelUnshuffle, nn.ChannelShuffle, convention="0: rearranges elements")
def shuffle_layer(layer, ins, outs):
    return Cost()
