"""Activation layers and ops.

Convention: comparisons, clamps and selections are free (ReLU, ReLU6,
Hardtanh, Hardshrink, ThresholdedReLU, Maxout); every other arithmetic step or
transcendental function (exp, log, tanh, erf, sqrt, pow) is 1 FLOP per element.
A negation folded into exp is not counted. Per element of the input:

=================  ====  ==============================================
activation         FLOPs  steps
=================  ====  ==============================================
LeakyReLU/PReLU/    1    slope multiply on the negative side
RReLU (eval)
Softshrink          1    subtract/add the threshold
Tanh                1    tanh
Tanhshrink          2    tanh, subtract
Hardsigmoid         2    multiply by slope, add offset (clamp free)
Hardswish           3    add 3, multiply by x, divide by 6 (clamp free)
ELU                 3    exp, subtract 1, multiply by alpha
Sigmoid             3    exp, add 1, divide
stanh               3    multiply, tanh, multiply
SELU                4    exp, subtract 1, multiply by alpha, by scale
CELU                4    divide by alpha, exp, subtract 1, multiply by alpha
LogSigmoid          4    sigmoid (3) + log
Silu/Swish          4    sigmoid (3) + multiply
Softsign            3    abs, add 1, divide
GELU (erf)          5    divide by sqrt(2), erf, add 1, multiply by x, by 0.5
GELU (tanh)         9    x^3 (2), * 0.044715, add x, * sqrt(2/pi), tanh,
                         add 1, multiply by x, by 0.5
Mish                5    softplus (exp, add 1, log), tanh, multiply
Softplus            5    multiply by beta, exp, add 1, log, divide by beta
=================  ====  ==============================================

Gated units count per *output* element: GLU 4 (sigmoid + multiply),
SwiGLU 5 (silu + multiply).
"""
from __future__ import annotations

import paddle.nn as nn
import paddle.nn.functional as F

from .registry import (as_layer_cost, composite_function, layer_formula, numel, op_formula,
                       pointwise, zero_cost_ops)

# op name -> (FLOPs per element, one-line convention)
PER_ELEMENT: dict[str, tuple[int, str]] = {
    "leaky_relu": (1, "1 per element (negative-slope multiply)"),
    "prelu": (1, "1 per element (learned-slope multiply)"),
    "rrelu": (1, "1 per element (slope multiply; eval uses the mean slope)"),
    "softshrink": (1, "1 per element (subtract/add the threshold)"),
    "tanh": (1, "1 per element (tanh)"),
    "tanh_shrink": (2, "2 per element (tanh, subtract)"),
    "hardsigmoid": (2, "2 per element (multiply, add; clamp free)"),
    "hardswish": (3, "3 per element (add, multiply, divide; clamp free)"),
    "elu": (3, "3 per element (exp, subtract, multiply)"),
    "sigmoid": (3, "3 per element (exp, add, divide)"),
    "stanh": (3, "3 per element (multiply, tanh, multiply)"),
    "selu": (4, "4 per element (exp, subtract, 2 multiplies)"),
    "celu": (4, "4 per element (divide, exp, subtract, multiply)"),
    "logsigmoid": (4, "4 per element (sigmoid 3 + log)"),
    "silu": (4, "4 per element (sigmoid 3 + multiply)"),
    "swish": (4, "4 per element (sigmoid 3 + multiply)"),
    "softsign": (3, "3 per element (abs, add, divide)"),
    "mish": (5, "5 per element (softplus 3, tanh, multiply)"),
    "softplus": (5, "5 per element (multiply, exp, add, log, divide)"),
}
GELU_ERF, GELU_TANH = 5, 9
GLU_PER_OUTPUT = PER_ELEMENT["sigmoid"][0] + 1
SWIGLU_PER_OUTPUT = PER_ELEMENT["silu"][0] + 1

FREE_ACTIVATION_OPS = ("relu", "relu6", "hardtanh", "hardshrink", "thresholded_relu", "maxout")
zero_cost_ops(FREE_ACTIVATION_OPS, "activation made of comparisons/clamps/selection only")


def activation_cost(op_name: str, elements: int):
    """FLOPs of the element-wise activation ``op_name`` on ``elements`` values."""
    if op_name in FREE_ACTIVATION_OPS:
        return pointwise(0, 0)
    return pointwise(elements, PER_ELEMENT[op_name][0])


def gelu_per_element(approximate) -> int:
    tanh = approximate is True or (isinstance(approximate, str) and approximate.lower() == "tanh")
    return GELU_TANH if tanh else GELU_ERF


def _simple_op(name: str, convention: str):
    # Only the first tensor matters; further args are attributes (alpha, slope, ...).
    @op_formula(name, args="x", convention=convention)
    def fn(ins, outs, attrs):
        return activation_cost(name, numel(ins.get("x")))

    fn.__name__ = f"{name}_op"
    return fn


for _name, (_per, _conv) in PER_ELEMENT.items():
    _simple_op(_name, _conv)


@op_formula("gelu", args="x, approximate", convention="5 per element (erf form) / 9 (tanh approximation)")
def gelu_op(ins, outs, attrs):
    return pointwise(numel(ins.get("x")), gelu_per_element(attrs.get("approximate")))


@op_formula("swiglu", args="x, y", convention="5 per output element (silu 4 + multiply)")
def swiglu_op(ins, outs, attrs):
    return pointwise(numel(outs[0]) if outs else numel(ins.get("x")) // 2, SWIGLU_PER_OUTPUT)


@op_formula("glu", args="x, axis", convention="4 per output element (sigmoid 3 + multiply)")
def glu_op(ins, outs, attrs):
    return pointwise(numel(outs[0]) if outs else numel(ins.get("x")) // 2, GLU_PER_OUTPUT)


# F.glu is split + sigmoid + multiply in Python; count it as one unit.
composite_function("glu", lambda: F.glu)


# ---------------------------------------------------------------- layers

LAYER_OPS = {
    nn.LeakyReLU: "leaky_relu", nn.PReLU: "prelu", nn.RReLU: "rrelu", nn.Softshrink: "softshrink",
    nn.Tanh: "tanh", nn.Tanhshrink: "tanh_shrink", nn.Hardsigmoid: "hardsigmoid",
    nn.Hardswish: "hardswish", nn.ELU: "elu", nn.Sigmoid: "sigmoid", nn.SELU: "selu", nn.CELU: "celu",
    nn.LogSigmoid: "logsigmoid", nn.Silu: "silu", nn.Swish: "swish", nn.Softsign: "softsign",
    nn.Mish: "mish", nn.Softplus: "softplus",
    nn.ReLU: "relu", nn.ReLU6: "relu6", nn.Hardtanh: "hardtanh", nn.Hardshrink: "hardshrink",
    nn.ThresholdedReLU: "thresholded_relu", nn.Maxout: "maxout",
}


@layer_formula(nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.Hardshrink, nn.ThresholdedReLU, nn.Maxout,
               convention="0: comparisons/clamps/selection")
def free_activation_layer(layer, ins, outs):
    return pointwise(0, 0)


@layer_formula(*(t for t, op in LAYER_OPS.items() if op not in FREE_ACTIVATION_OPS),
               convention="per-element cost of its op (see activation table); paddle: same "
                          "(LeakyReLU 1 per element as paddle.flops)")
def activation_layer(layer, ins, outs):
    return as_layer_cost(activation_cost(LAYER_OPS[_registered_type(layer)], numel(ins[0])))


def _registered_type(layer):
    for t in type(layer).__mro__:
        if t in LAYER_OPS:
            return t
    raise KeyError(type(layer).__name__)


@layer_formula(nn.GELU, convention="5 per element (erf) / 9 (tanh approximation)")
def gelu_layer(layer, ins, outs):
    return as_layer_cost(gelu_op({"x": ins[0]}, outs, {"approximate": getattr(layer, "_approximate", False)}))


@layer_formula(nn.GLU, convention="4 per output element (sigmoid + multiply)")
def glu_layer(layer, ins, outs):
    return as_layer_cost(glu_op({"x": ins[0]}, outs, {}))
