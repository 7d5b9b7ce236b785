"""Deformable convolution (v1, and v2 with a modulation mask).

Convention: the convolution over the sampled columns is ``numel(out) x
C_in/groups x kh x kw`` MACs (as for an ordinary convolution). Before it,
every input channel is sampled at every kernel tap of every output position:
``N x C_in x kh x kw x H_out x W_out`` sampled points, each a bilinear
interpolation at a fractional position costing 17 FLOPs: 2 adds of the
offsets, 4 for the fractional parts (``h - floor(h)``, ``1 - lh`` and the same
for ``w``), 4 corner-weight products, 4 multiplies and 3 adds combining the
corners. v2 multiplies each sampled value by its mask: +1 per sampled point.
Bias is a separate add (``paddle.vision.ops.deform_conv2d``) or, for the
``DeformConv2D`` layer, 1 per output element.
"""
from __future__ import annotations

import math

from paddle.vision.ops import DeformConv2D

from .contraction import conv_macs
from .registry import Cost, as_layer_cost, contraction, layer_formula, numel, op_formula

BILINEAR_SAMPLE = 17   # 2 offset adds + 4 fractional parts + 4 weights + 4 mul + 3 add
MASK_MULTIPLY = 1


def sampled_points(x_shape, weight_shape, out_shape) -> int:
    """N x C_in x kh x kw x H_out x W_out (NCHW; C_in = x.shape[1])."""
    n, c_in = int(x_shape[0]), int(x_shape[1])
    taps = math.prod(int(d) for d in weight_shape[2:])
    positions = math.prod(int(d) for d in out_shape[2:])
    return n * c_in * taps * positions


def deformable_conv_cost(x_shape, weight_shape, out_shape, masked: bool, bias: bool = False) -> Cost:
    macs = conv_macs(x_shape, weight_shape, out_shape)
    points = sampled_points(x_shape, weight_shape, out_shape)
    sampling = points * (BILINEAR_SAMPLE + (MASK_MULTIPLY if masked else 0))
    cost = contraction(macs, numel(out_shape) if bias else 0)
    return Cost(cost.macs, cost.flops + sampling, cost.paddle_flops)


_CONVENTION = ("numel(out) x C_in/groups x kh x kw MACs + 17 FLOPs per bilinear sample "
               "(N x C_in x kh x kw x H_out x W_out samples), +1 per sample for v2's mask")


@op_formula("deformable_conv", args="x, offset, filter, mask, strides, paddings, dilations, deformable_groups, "
                                    "groups, im2col_step", convention=_CONVENTION, contraction=True)
def deformable_conv_op(ins, outs, attrs):
    return deformable_conv_cost(ins.get("x"), ins.get("filter"), outs[0], ins.get("mask") is not None)


@op_formula("deformable_conv_v1", args="x, offset, filter", convention="as deformable_conv without a mask (legacy op)",
            contraction=True)
def deformable_conv_v1_op(ins, outs, attrs):
    return deformable_conv_cost(ins.get("x"), ins.get("filter"), outs[0], masked=False)


@layer_formula(DeformConv2D, convention="deformable_conv's count + 1 per output element for bias; "
                                        "paddle: MACs + bias + sampling")
def deform_conv_layer(layer, ins, outs):
    masked = len(ins) > 2 and ins[2] is not None
    cost = deformable_conv_cost(ins[0], tuple(layer.weight.shape), outs[0], masked,
                                bias=getattr(layer, "bias", None) is not None)
    return as_layer_cost(cost)
