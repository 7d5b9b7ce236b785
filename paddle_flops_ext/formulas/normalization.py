"""Normalisation layers and ops.

Conventions (FLOPs per element of the input unless said otherwise):

* BatchNorm with running statistics (inference, the normal case when
  profiling): the statistics are constants, so it folds to one scale and one
  shift: 2 per element (also paddle.flops' figure, kept as ``paddle_flops``).
* Normalisations that compute statistics of their input (LayerNorm, GroupNorm,
  InstanceNorm, and BatchNorm when it uses batch statistics):

  - mean: 1 per element (accumulate),
  - variance: 3 per element (subtract the mean, square, accumulate),
  - normalise: 2 per element (subtract the mean, multiply by 1/std),
  - per normalised group: 4 (divide the two sums, add eps, rsqrt),
  - affine: +1 per element for the scale and +1 for the shift, when present.

  So with both affine parameters: ``8 x elements + 4 x groups``.
* RMSNorm (``rms_norm`` op): square + accumulate + scale = 3 per element,
  3 per group (divide, add eps, rsqrt), +1 per element for the weight.
* LocalResponseNorm: ``size + 5`` per element: square (1), the channel-window
  average (``size``: ``size - 1`` adds and one divide), ``k + alpha * avg``
  (2), ``** beta`` (1) and the division (1).
* SpectralNorm (on its weight): ``power_iters`` rounds of two matrix-vector
  products (MACs) and two vector normalisations (``3n + 2`` FLOPs each: square,
  accumulate, divide; sqrt and eps once), then ``sigma = u . (W v)`` (``H W + H``
  MACs) and ``W / sigma`` (1 per weight element).
"""
from __future__ import annotations

import math

import paddle.nn as nn
import paddle.nn.functional as F

from .registry import (Cost, as_layer_cost, composite_function, contraction, layer_formula, numel, param_shape,
                       op_formula, pointwise)

# ---------------------------------------------------------------- formulas

CENTERED_PER_ELEMENT = 6   # mean 1 + variance 3 + normalise 2
CENTERED_PER_GROUP = 4     # mean divide, variance divide, + eps, rsqrt
RMS_PER_ELEMENT = 3        # square, accumulate, scale
RMS_PER_GROUP = 3          # divide, + eps, rsqrt
FOLDED_BN_PER_ELEMENT = 2  # scale + shift


def statistics_norm_cost(elements: int, groups: int, affine_terms: int = 0, centered: bool = True) -> Cost:
    """FLOPs of a normalisation that computes its statistics over ``groups``
    equal slices of ``elements`` values (see module docstring)."""
    per_elem = (CENTERED_PER_ELEMENT if centered else RMS_PER_ELEMENT) + int(affine_terms)
    per_group = CENTERED_PER_GROUP if centered else RMS_PER_GROUP
    return pointwise(int(elements) * per_elem + int(groups) * per_group, 1)


def _present(*values) -> int:
    return sum(1 for v in values if v is not None)


def _channels_last(data_format) -> bool:
    return isinstance(data_format, str) and len(data_format) > 2 and data_format.upper().endswith("C")


def bn_uses_running_stats(is_test, use_global_stats, trainable_statistics) -> bool:
    """Paddle's batch_norm kernel: running statistics are used when
    ``use_global_stats`` or (``is_test`` and not ``trainable_statistics``)."""
    return bool(use_global_stats) or (bool(is_test) and not bool(trainable_statistics))


def lrn_per_element(size: int) -> int:
    return int(size) + 5


def spectral_norm_cost(weight_shape, dim: int, power_iters: int) -> Cost:
    h = int(weight_shape[dim % len(weight_shape)])
    w = numel(weight_shape) // max(1, h)
    iters = int(power_iters)
    macs = iters * 2 * h * w + h * w + h
    extra = iters * (3 * (h + w) + 4) + h * w
    return contraction(macs) + pointwise(extra, 1)


# ---------------------------------------------------------------- ops

@op_formula("batch_norm", "sync_batch_norm",
            args="x, mean, variance, scale, bias, is_test, momentum, epsilon, data_format, "
                 "use_global_stats, trainable_statistics",
            convention="running stats: 2 per element (scale+shift); batch stats: 6/elem + 4/channel "
                       "+ 1/elem per affine param")
def batch_norm_op(ins, outs, attrs):
    x = ins.get("x")
    n = numel(x)
    if bn_uses_running_stats(attrs.get("is_test", True), attrs.get("use_global_stats"),
                             attrs.get("trainable_statistics")):
        return pointwise(n, FOLDED_BN_PER_ELEMENT)
    channels = int(x[-1] if _channels_last(attrs.get("data_format")) else (x[1] if len(x) > 1 else 1))
    groups = channels  # statistics per channel over the batch: count each channel once
    return statistics_norm_cost(n, groups, _present(ins.get("scale"), ins.get("bias")))


@op_formula("layer_norm", args="x, scale, bias, epsilon, begin_norm_axis",
            convention="6/elem (mean, variance, normalise) + 4 per normalised row + 1/elem per affine param")
def layer_norm_op(ins, outs, attrs):
    x = ins.get("x")
    n = numel(x)
    axis = attrs.get("begin_norm_axis")
    if isinstance(axis, int) and x is not None:
        axis = axis % max(1, len(x)) if axis < 0 else axis
        groups = numel(x[:axis])
    elif ins.get("scale") is not None:
        groups = n // max(1, numel(ins["scale"]))
    else:
        groups = n // max(1, int(x[-1])) if x else 0
    return statistics_norm_cost(n, groups, _present(ins.get("scale"), ins.get("bias")))


@op_formula("group_norm", args="x, scale, bias, epsilon, groups, data_format",
            convention="6/elem + 4 per (sample, group) + 1/elem per affine param")
def group_norm_op(ins, outs, attrs):
    x = ins.get("x")
    groups = int(x[0]) * int(attrs.get("groups") or 1)
    return statistics_norm_cost(numel(x), groups, _present(ins.get("scale"), ins.get("bias")))


@op_formula("instance_norm", args="x, scale, bias, epsilon",
            convention="6/elem + 4 per (sample, channel) + 1/elem per affine param")
def instance_norm_op(ins, outs, attrs):
    x = ins.get("x")
    groups = int(x[0]) * int(x[1]) if len(x) > 1 else int(x[0])
    return statistics_norm_cost(numel(x), groups, _present(ins.get("scale"), ins.get("bias")))


@op_formula("rms_norm", args="x, scale, normalized_shape, epsilon",
            convention="3/elem (square, accumulate, scale) + 3 per row + 1/elem for the weight")
def rms_norm_op(ins, outs, attrs):
    x = ins.get("x")
    n = numel(x)
    shape = attrs.get("normalized_shape")
    if isinstance(shape, int):
        shape = [shape]
    if isinstance(shape, (list, tuple)) and shape and all(isinstance(d, int) for d in shape):
        groups = n // max(1, math.prod(shape))
    elif ins.get("scale") is not None:
        groups = n // max(1, numel(ins["scale"]))
    else:
        groups = n // max(1, int(x[-1]))
    return statistics_norm_cost(n, groups, _present(ins.get("scale")), centered=False)


@op_formula("local_response_norm", args="x, size, alpha, beta, k, data_format",
            convention="(size + 5) per element: square, window average, k + alpha*avg, pow, divide")
def local_response_norm_op(ins, outs, attrs):
    return pointwise(numel(ins.get("x")), lrn_per_element(attrs.get("size") or 5))


# F.local_response_norm is a composition of ops; count it as one unit.
composite_function("local_response_norm", lambda: F.local_response_norm)


@op_formula("spectral_norm", args="weight, u, v, dim, power_iters, eps",
            convention="power_iters x 2 matvecs + (HW + H) MACs for sigma; 3n+2 per vector "
                       "normalisation, 1 per weight element for W/sigma", contraction=True)
def spectral_norm_op(ins, outs, attrs):
    return spectral_norm_cost(ins.get("weight"), int(attrs.get("dim") or 0), int(attrs.get("power_iters") or 1))


# ---------------------------------------------------------------- layers

_BATCH_NORMS = tuple(t for t in (nn.BatchNorm, nn.BatchNorm1D, nn.BatchNorm2D, nn.BatchNorm3D,
                                 getattr(nn, "SyncBatchNorm", None)) if t is not None)


def _param(layer, *names):
    for name in names:
        shape = param_shape(layer, name)
        if shape is not None:
            return shape
    return None


def _bn_flags(layer):
    """(is_test, use_global_stats, trainable_statistics) as the layer's forward passes them."""
    is_test = not layer.training
    if isinstance(layer, nn.BatchNorm):
        return (is_test, bool(getattr(layer, "_use_global_stats", False)),
                bool(getattr(layer, "_trainable_statistics", False)))
    if isinstance(layer, getattr(nn, "SyncBatchNorm", ())):
        return is_test, False, False
    ugs = getattr(layer, "_use_global_stats", None)
    if ugs is None:
        return is_test, not layer.training, False
    return is_test, bool(ugs), not bool(ugs)


@layer_formula(*_BATCH_NORMS, convention="eval: 2 FLOPs per element (folded scale + shift); "
                                         "batch statistics as LayerNorm; paddle: 2 per element")
def batch_norm_layer(layer, ins, outs):
    is_test, ugs, trainable = _bn_flags(layer)
    affine = {} if bn_uses_running_stats(is_test, ugs, trainable) else {  # only batch statistics read them
        "scale": _param(layer, "weight"), "bias": _param(layer, "bias")}
    cost = batch_norm_op({"x": ins[0], **affine}, outs,
                         {"is_test": is_test, "use_global_stats": ugs, "trainable_statistics": trainable,
                          "data_format": getattr(layer, "_data_format", "NCHW")})
    return cost.with_paddle(FOLDED_BN_PER_ELEMENT * numel(ins[0]))


@layer_formula(nn.LayerNorm, convention="6/elem + 4 per normalised row + 1/elem per affine param")
def layer_norm_layer(layer, ins, outs):
    x = ins[0]
    shape = layer._normalized_shape
    k = len(shape) if isinstance(shape, (list, tuple)) else 1
    return as_layer_cost(layer_norm_op({"x": x, "scale": _param(layer, "weight"), "bias": _param(layer, "bias")},
                                       outs, {"begin_norm_axis": len(x) - k}))


@layer_formula(nn.GroupNorm, convention="6/elem + 4 per (sample, group) + 1/elem per affine param")
def group_norm_layer(layer, ins, outs):
    return as_layer_cost(group_norm_op({"x": ins[0], "scale": _param(layer, "weight"), "bias": _param(layer, "bias")},
                                       outs, {"groups": layer._num_groups}))


@layer_formula(nn.InstanceNorm1D, nn.InstanceNorm2D, nn.InstanceNorm3D,
               convention="6/elem + 4 per (sample, channel) + 1/elem per affine param")
def instance_norm_layer(layer, ins, outs):
    x = ins[0]
    if _channels_last(getattr(layer, "_data_format", None)):
        x = (x[0], x[-1]) + tuple(x[1:-1])  # only the (sample, channel) count matters
    return as_layer_cost(instance_norm_op({"x": x, "scale": _param(layer, "scale"), "bias": _param(layer, "bias")},
                                          outs, {}))


@layer_formula(nn.LocalResponseNorm, convention="(size + 5) per element")
def local_response_norm_layer(layer, ins, outs):
    return as_layer_cost(local_response_norm_op({"x": ins[0]}, outs, {"size": layer.size}))


@layer_formula(nn.SpectralNorm, convention="power iteration matvecs (MACs) + normalisations + W/sigma")
def spectral_norm_layer(layer, ins, outs):
    return as_layer_cost(spectral_norm_op({"weight": ins[0]}, outs,
                                          {"dim": layer._dim, "power_iters": layer._power_iters}))
