"""Distance layers: CosineSimilarity and PairwiseDistance (and their
functional forms, each counted as one unit).

Conventions (a reduction of ``K`` values costs ``K - 1`` adds; ``K`` is the
size of the reduced axis, ``M`` the number of outputs):

* cosine similarity along an axis: three products ``x1*x2``, ``x1*x1``,
  ``x2*x2`` (1 per element each), their three sums (``K - 1`` adds per output
  each), then ``w1*w2``, sqrt and the divide (3 per output). Without
  broadcasting that is ``6 x numel(x)``.
* pairwise p-distance along the last axis: ``x - y + eps`` (2 per element),
  then the ``p_norm`` op's figure (elementwise.py): 2 per element for finite
  p != 0 (``|x|^p``, the sum, a root per row), 1 for p = 0 or +-inf.
"""
from __future__ import annotations


import numpy as np
import paddle.nn as nn
import paddle.nn.functional as F

from .elementwise import p_norm_op
from .registry import as_layer_cost, composite_function, layer_formula, numel, op_formula, pointwise


def _broadcast(a, b):
    return tuple(int(d) for d in np.broadcast_shapes(tuple(a), tuple(b)))


def cosine_similarity_flops(x1, x2, axis: int = 1) -> int:
    shape = _broadcast(x1, x2)
    ax = axis % len(shape)
    k = shape[ax]
    m = numel(shape) // max(1, k)
    total = 0
    for s in (shape, tuple(x1), tuple(x2)):
        i = ax - (len(shape) - len(s))   # the reduced axis in this (right-aligned) operand
        k_s = int(s[i]) if 0 <= i < len(s) else 1
        n = numel(s)
        total += n + (n - n // max(1, k_s))   # products + sums
    return total + 3 * m


def pairwise_distance_flops(x, y, p: float = 2.0) -> int:
    """``x - y + eps`` (2 per element) + the ``p_norm`` op's count on the result."""
    shape = _broadcast(x, y)
    rows = shape[:-1]
    return 2 * numel(shape) + p_norm_op({"x": shape}, [rows], {"porder": float(p), "axis": -1}).flops


@op_formula("cosine_similarity", args="x1, x2, axis, eps",
            convention="3 products + 3 sums + 3 per output (6 x numel without broadcasting)")
def cosine_similarity_op(ins, outs, attrs):
    axis = attrs.get("axis")
    return pointwise(cosine_similarity_flops(ins.get("x1"), ins.get("x2"), 1 if axis is None else int(axis)), 1)


@op_formula("pairwise_distance", args="x, y, p, epsilon, keepdim",
            convention="2 per element (sub, + eps) + p_norm (2 per element; p=0/inf: 1)")
def pairwise_distance_op(ins, outs, attrs):
    p = attrs.get("p")
    return pointwise(pairwise_distance_flops(ins.get("x"), ins.get("y"), 2.0 if p is None else float(p)), 1)


composite_function("cosine_similarity", lambda: F.cosine_similarity)
composite_function("pairwise_distance", lambda: F.pairwise_distance)


@layer_formula(nn.CosineSimilarity, convention="3 products + 3 sums + 3 per output (6 x numel)")
def cosine_similarity_layer(layer, ins, outs):
    return as_layer_cost(cosine_similarity_op({"x1": ins[0], "x2": ins[1]}, outs,
                                              {"axis": getattr(layer, "_axis", 1)}))


@layer_formula(nn.PairwiseDistance, convention="2 per element + p_norm (2 per element; p=0/inf: 1)")
def pairwise_distance_layer(layer, ins, outs):
    return as_layer_cost(pairwise_distance_op({"x": ins[0], "y": ins[1]}, outs, {"p": layer.p}))
