"""Element-wise arithmetic, reductions, softmax and norms written as functions.

Conventions (FLOPs; none of these ops has MACs, so as operations they enter
``flops`` only and never ``paddle_flops``):

* one FLOP per output element for every arithmetic step or transcendental
  function: ``+ - * /``, ``pow``, ``exp``, ``log``, ``sqrt``, ``rsqrt``,
  ``sin``, ``erf``, ``abs``, ``reciprocal``, ``square``, rounding, ...
  Broadcasting is paid on the output (``x + b`` with ``b`` broadcast costs
  ``numel(out)``).
* comparisons, selections and clamps are free: ``maximum``/``minimum``,
  ``clip``, ``where``, ``masked_fill``, ``sign``, ``max``/``min`` reductions
  (they live in :mod:`.zero_cost`).
* a reduction of ``n`` elements into ``m`` results costs ``n - m`` (the
  additions / multiplications); ``mean`` adds one divide per result, so ``n``.
* softmax / log_softmax: 3 FLOPs per element (exp, the row sum, the divide or
  subtract of the log-sum); the max-shift kernels do for stability and the one
  add fewer per row are not counted. The same figure for the ``nn.Softmax``,
  ``nn.LogSoftmax`` and ``nn.Softmax2D`` layers (layers put it in
  ``paddle_flops`` too, which ``paddle.flops`` itself leaves at 0).
"""
from __future__ import annotations

import math

import paddle.nn as nn

from .registry import Cost, as_layer_cost, layer_formula, numel, op_formula, pointwise

ZERO = Cost()


def _x(ins, key="x"):
    """The shape of the main input: ``ins[key]`` or the first tensor."""
    shape = ins.get(key)
    if shape is None:
        for v in ins.values():
            if isinstance(v, tuple):
                return v
        return None
    return shape


def _out(outs, ins=None):
    if outs:
        return outs[0]
    return _x(ins or {})


def per_element_op(*names, args="x", per_element, convention):
    """Register ops that cost a constant number of FLOPs per output element."""
    def formula(ins, outs, attrs):
        return pointwise(numel(_out(outs, ins)), per_element)
    formula.__name__ = f"{names[0]}_op"
    op_formula(*names, args=args, convention=convention)(formula)


# ------------------------------------------------------------------ element-wise

per_element_op("add", "subtract", "multiply", "divide", "elementwise_pow", "floor_divide", "remainder",
            "trunc_divide", "atan2", "fused_elementwise_add", "fused_elementwise_sub", "fused_elementwise_mul",
            "fused_elementwise_div",
            args="x, y", convention="1 per output element (broadcast paid on the output)", per_element=1)


_UNARY = ("exp", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "square", "reciprocal", "abs",
          "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
          "erf", "erfinv", "floor", "ceil", "round", "rint", "trunc", "frac", "digamma", "lgamma", "gammaln",
          "i0", "i0e", "i1", "i1e", "polygamma", "increment", "angle", "pow")


per_element_op(*_UNARY, args="x", convention="1 per element (one arithmetic step or transcendental function)", per_element=1)


@op_formula("scale", args="x, scale, bias, bias_after_scale",
            convention="scale*x + bias: 1 per element (one multiply-add, whatever the factors: static graphs "
                       "turn x*2, x+1, 1-x and x*1.0 into one scale each, eager runs one op each)")
def scale_op(ins, outs, attrs):
    return pointwise(numel(_out(outs, ins)), 1)


per_element_op("lerp", args="x, y, weight", convention="x + w*(y - x): 3 per output element", per_element=3)


per_element_op("fused_dropout_add", args="x, y, seed_tensor, p, is_test, mode, seed, fix_seed",
            convention="eval: the add, 1 per output element (dropout is the identity)", per_element=1)


per_element_op("logit", args="x, eps", convention="log(x / (1 - x)): 3 per element (clamp free)", per_element=3)


per_element_op("label_smooth", args="label, prior_dist, epsilon",
            convention="(1 - eps) * x + eps / K: 2 per element", per_element=2)


@op_formula("fused_rotary_position_embedding",
            args="q, k, v, sin, cos, position_ids, use_neox_rotary_style, time_major, rotary_emb_base",
            convention="x*cos + rotate(x)*sin: 3 per element of each of q, k, v given (the sign flip folded)")
def fused_rope_op(ins, outs, attrs):
    return pointwise(sum(numel(ins.get(n)) for n in ("q", "k", "v")), 3)


@op_formula("add_n", args="inputs", convention="(k - 1) adds per output element for k operands")
def add_n_op(ins, outs, attrs):
    shapes = ins.get("inputs") or []
    k = len(shapes) if isinstance(shapes, list) else 1
    return pointwise(numel(_out(outs, ins)), max(k - 1, 0))


per_element_op("kron", args="x, y", convention="1 multiply per output element", per_element=1)


per_element_op("cross", args="x, y, axis", convention="3-vector cross product: 2 multiplies + 1 subtract per output", per_element=3)


@op_formula("index_add", args="x, index, add_value, axis",
            convention="1 add per element of the added values")
def index_add_op(ins, outs, attrs):
    return pointwise(numel(ins.get("add_value")), 1)


@op_formula("scatter_nd_add", args="x, index, updates",
            convention="1 add per update element")
def scatter_nd_add_op(ins, outs, attrs):
    return pointwise(numel(ins.get("updates")), 1)


@op_formula("scatter", args="x, index, updates, overwrite",
            convention="overwrite: 0 (data movement); accumulate: 1 add per update element")
def scatter_op(ins, outs, attrs):
    if attrs.get("overwrite", True):
        return ZERO
    return pointwise(numel(ins.get("updates")), 1)


@op_formula("put_along_axis", args="arr, indices, values, axis, reduce, include_self",
            convention="reduce='assign': 0; add/mul/mean...: 1 per scattered element")
def put_along_axis_op(ins, outs, attrs):
    if attrs.get("reduce", "assign") in ("assign", None):
        return ZERO
    return pointwise(numel(ins.get("indices")), 1)


@op_formula("index_put", args="x, indices, value, accumulate",
            convention="accumulate: 1 add per written element; else 0 (data movement)")
def index_put_op(ins, outs, attrs):
    if not attrs.get("accumulate"):
        return ZERO
    return pointwise(numel(ins.get("value")), 1)


# ------------------------------------------------------------------ reductions

def _reduced(ins, outs) -> tuple[int, int]:
    """(elements read, results written) of a reduction."""
    n = numel(_x(ins))
    m = numel(outs[0]) if outs else 1
    return n, max(m, 0)


@op_formula("sum", "nansum", "prod", "reduce_as", args="x, axis, dtype, keepdim",
            convention="n - m for n elements reduced into m results")
def sum_op(ins, outs, attrs):
    n, m = _reduced(ins, outs)
    return pointwise(max(n - m, 0), 1)


@op_formula("mean", "mean_all", args="x, axis, keepdim",
            convention="n: n - m adds + one divide per result")
def mean_op(ins, outs, attrs):
    n, _ = _reduced(ins, outs)
    return pointwise(n, 1)


@op_formula("var", "variance", args="x, axis, unbiased, keepdim",
            convention="4n: mean (n), subtract (n), square (n), sum (n - m), divide (m)")
def var_op(ins, outs, attrs):
    n, _ = _reduced(ins, outs)
    return pointwise(n, 4)


@op_formula("std", args="x, axis, unbiased, keepdim",
            convention="variance (4n) + one sqrt per result")
def std_op(ins, outs, attrs):
    n, m = _reduced(ins, outs)
    return pointwise(4 * n + m, 1)


@op_formula("logsumexp", args="x, axis, keepdim, reduce_all",
            convention="2n: exp per element, sum (n - m), log per result (max-shift not counted)")
def logsumexp_op(ins, outs, attrs):
    n, _ = _reduced(ins, outs)
    return pointwise(n, 2)


def _scan_rows(shape, axis, flatten) -> int:
    n = numel(shape)
    if flatten or axis is None or not shape:
        return 1 if n else 0
    length = int(shape[int(axis) % len(shape)]) if isinstance(axis, int) else 0
    return n // length if length else 0


@op_formula("cumsum", "cumprod", args="x, axis, flatten, exclusive, reverse",
            convention="n - rows: L - 1 adds (multiplies) along each scanned row of length L")
def cumsum_op(ins, outs, attrs):
    x = _x(ins)
    n = numel(x)
    return pointwise(max(n - _scan_rows(x, attrs.get("axis", -1), attrs.get("flatten")), 0), 1)


@op_formula("logcumsumexp", args="x, axis, flatten, exclusive, reverse",
            convention="3 per element: exp, running add, log")
def logcumsumexp_op(ins, outs, attrs):
    return pointwise(numel(_x(ins)), 3)


# ------------------------------------------------------------------ norms

@op_formula("p_norm", args="x, porder, axis, epsilon, keepdim, asvector",
            convention="finite p != 0: 2n (|x|^p and the sum, the root per result); p = +-inf or 0: n")
def p_norm_op(ins, outs, attrs):
    n = numel(_x(ins))
    p = attrs.get("porder", 2.0)
    try:
        p = float(p)
    except (TypeError, ValueError):
        p = 2.0
    if math.isinf(p) or p == 0.0:
        return pointwise(n, 1)
    return pointwise(n, 2)


@op_formula("frobenius_norm", args="x, axis, keepdim, reduce_all",
            convention="2n: square, sum, one sqrt per result")
def frobenius_norm_op(ins, outs, attrs):
    return pointwise(numel(_x(ins)), 2)


def map_then_sum_op(ins, outs, attrs):
    """One step on each element, then the sum: 2n - m for n elements into m results."""
    n, m = _reduced(ins, outs)
    return pointwise(max(2 * n - m, 0), 1)


op_formula("squared_l2_norm", args="x", convention="2n - 1: square each element, sum them")(map_then_sum_op)
op_formula("l1_norm", args="x", convention="2n - 1: abs each element, sum them")(map_then_sum_op)


@op_formula("norm", args="x, axis, epsilon, is_test",
            convention="x / sqrt(sum(x^2) + eps) along axis: 3 per element (square, sum, divide)")
def l2_normalize_op(ins, outs, attrs):
    return pointwise(numel(_x(ins)), 3)


@op_formula("clip_by_norm", args="x, max_norm",
            convention="3 per element: the L2 norm (2n) and the rescale (n)")
def clip_by_norm_op(ins, outs, attrs):
    return pointwise(numel(_x(ins)), 3)


@op_formula("dist", args="x, y, p",
            convention="p-norm of the difference: 3 per broadcast element (subtract + 2n p-norm)")
def dist_op(ins, outs, attrs):
    x, y = ins.get("x"), ins.get("y")
    n = max(numel(x), numel(y))
    if x is not None and y is not None:
        nd = max(len(x), len(y))
        xs = (1,) * (nd - len(x)) + tuple(x)
        ys = (1,) * (nd - len(y)) + tuple(y)
        n = numel(tuple(max(a, b) for a, b in zip(xs, ys)))
    return pointwise(n, 3)


# ------------------------------------------------------------------ softmax family

@op_formula("softmax", "log_softmax", args="x, axis",
            convention="3 per element: exp, row sum, divide (log_softmax: subtract the log-sum)")
def softmax_op(ins, outs, attrs):
    return pointwise(numel(_x(ins)), 3)


@op_formula("fused_softmax_mask", args="x, mask", convention="4 per element: mask add + softmax (3)")
def fused_softmax_mask_op(ins, outs, attrs):
    return pointwise(numel(_x(ins)), 4)


@op_formula("fused_softmax_mask_upper_triangle", args="x",
            convention="4 per element: causal mask + softmax (3), the whole matrix")
def fused_softmax_mask_upper_triangle_op(ins, outs, attrs):
    return pointwise(numel(_x(ins)), 4)


@op_formula("cross_entropy_with_softmax", args="input, label, soft_label, use_softmax, numeric_stable_mode, ignore_index, axis",
            convention="softmax (3 per logit) + per row: log of the picked probability and its negation (2); "
                       "soft labels: + multiply-add per logit (2)")
def cross_entropy_with_softmax_op(ins, outs, attrs):
    x = _x(ins, "input")
    n = numel(x)
    axis = attrs.get("axis", -1)
    length = int(x[int(axis) % len(x)]) if x and isinstance(axis, int) else 1
    rows = n // length if length else 0
    softmax = 3 * n if attrs.get("use_softmax", True) else 0
    per_label = 2 * n if attrs.get("soft_label") else 2 * rows
    return pointwise(softmax + per_label, 1)


_SOFTMAX_LAYERS = tuple(t for t in (nn.Softmax, nn.LogSoftmax, getattr(nn, "Softmax2D", None)) if t is not None)


@layer_formula(*_SOFTMAX_LAYERS, convention="3 per element (exp, sum, divide); paddle_flops: same (paddle.flops: 0)")
def softmax_layer(layer, ins, outs):
    return as_layer_cost(pointwise(numel(ins[0]), 3))
