"""Activation layers and ops.

Convention: comparisons and clamps are free (ReLU, ReLU6, Hardtanh); every
arithmetic step or transcendental function is 1 FLOP per element.
"""
from __future__ import annotations

import paddle.nn as nn

from .registry import as_layer_cost, layer_formula, numel, pointwise


@layer_formula(nn.ReLU, nn.ReLU6, convention="0: a comparison")
def relu_layer(layer, ins, outs):
    return pointwise(0, 0)


@layer_formula(nn.LeakyReLU, convention="1 per element (the negative-slope multiply); paddle: same")
def leaky_relu_layer(layer, ins, outs):
    return as_layer_cost(pointwise(numel(ins[0]), 1))
