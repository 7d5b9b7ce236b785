"""Pooling layers and ops.

Conventions: max pooling is comparisons only (0). Average pooling adds the
window and divides once: ``window`` FLOPs per output element. paddle.flops
counts AvgPool as 1 per output element and AdaptiveAvgPool as
``(prod(in // out) + 1)`` per output element; ``paddle_flops`` keeps those.
"""
from __future__ import annotations

import math

import paddle.nn as nn

from .registry import Cost, layer_formula, numel


def _spatial(shape, nd, channels_last):
    return shape[1:1 + nd] if channels_last else shape[-nd:]


@layer_formula(nn.MaxPool1D, nn.MaxPool2D, nn.MaxPool3D,
               nn.AdaptiveMaxPool1D, nn.AdaptiveMaxPool2D, nn.AdaptiveMaxPool3D,
               convention="0: comparisons only")
def max_pool_layer(layer, ins, outs):
    return Cost()


def _adaptive_nd(layer):
    return {nn.AdaptiveAvgPool1D: 1, nn.AdaptiveAvgPool2D: 2, nn.AdaptiveAvgPool3D: 3}[type(layer)]


@layer_formula(nn.AdaptiveAvgPool1D, nn.AdaptiveAvgPool2D, nn.AdaptiveAvgPool3D,
               convention="sum of window sizes over outputs (adds + one divide each); "
                          "paddle: (prod(in//out)+1) per output")
def adaptive_avg_pool_layer(layer, ins, outs):
    nd = _adaptive_nd(layer)
    fmt = getattr(layer, "_data_format", "NCHW") or "NCHW"
    last = fmt.endswith("C") and len(fmt) > 2
    x, y = ins[0], outs[0]
    xin, yout = _spatial(x, nd, last), _spatial(y, nd, last)
    lead = numel(y) // max(1, numel(yout))
    window_sum = 1
    for i_len, o_len in zip(xin, yout):
        window_sum *= sum(math.ceil((i + 1) * i_len / o_len) - (i * i_len) // o_len for i in range(o_len))
    flops = lead * window_sum
    kernel = math.prod(int(i) // int(o) for i, o in zip(xin, yout))
    return Cost(0, flops, (kernel + 1) * numel(y))
