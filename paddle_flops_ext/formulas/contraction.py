"""Contractions: convolutions, Linear/Bilinear, matmul family, einsum.

Conventions (MACs; FLOPs = 2 x MACs + bias adds):
* convolution: every output element takes ``C_in/groups x prod(kernel)`` MACs,
  i.e. ``numel(out) x prod(weight.shape[1:])`` - layout independent, so NHWC,
  dilation, stride, padding and groups need no special case.
* transposed convolution: every *input* element is scattered to
  ``C_out/groups x prod(kernel)`` outputs: ``numel(x) x prod(weight.shape[1:])``.
* matmul: ``numel(out) x K`` with K the contracted dimension (broadcast batch
  dimensions included through ``numel(out)``).
"""
from __future__ import annotations

import math

import paddle.nn as nn

from .registry import as_layer_cost, contraction, layer_formula, numel, op_formula, param_shape, has_param, Cost


# ---------------------------------------------------------------- formulas

def conv_macs(x_shape, weight_shape, out_shape, transposed: bool = False) -> int:
    """MACs of a (grouped, dilated, strided, any-layout) convolution."""
    return (numel(x_shape) if transposed else numel(out_shape)) * numel(weight_shape[1:])


def matmul_macs(x_shape, y_shape, out_shape, transpose_x=False, transpose_y=False) -> int:
    """MACs of ``matmul(x, y)`` with Paddle's 1-D and broadcasting rules."""
    if len(x_shape) == 1:
        k = x_shape[0]
    else:
        k = x_shape[-2] if transpose_x else x_shape[-1]
    out = numel(out_shape) if out_shape is not None else 1
    return out * int(k)


def einsum_macs(equation: str, shapes) -> int:
    """MACs of an einsum, contracted left to right the way Paddle evaluates it:
    each pairwise step costs the product of the sizes of all letters involved.
    A single-operand einsum (transpose, trace, sum) does no MACs."""
    eq = equation.replace(" ", "")
    lhs, _, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum '{equation}' names {len(terms)} operands, got {len(shapes)}")
    sizes: dict[str, int] = {}
    letters = []
    max_ell = max((len(s) - (len(t) - 3) for t, s in zip(terms, shapes) if "..." in t), default=0)
    for term, shape in zip(terms, shapes):
        if "..." in term:
            n_ell = len(shape) - (len(term) - 3)
            # ellipsis dims, right-aligned so broadcasting matches
            ell = [chr(0x100 + max_ell - n_ell + i) for i in range(n_ell)]
            pre, post = term.split("...")
            chars = list(pre) + ell + list(post)
        else:
            chars = list(term)
        for c, d in zip(chars, shape):
            sizes[c] = max(sizes.get(c, 1), int(d))
        letters.append(chars)
    if not rhs and "->" not in eq:  # implicit output: letters seen once, sorted
        counts = {}
        for chars in letters:
            for c in chars:
                counts[c] = counts.get(c, 0) + 1
        out_letters = set(c for c, n in counts.items() if n == 1)
    else:
        out_letters = set(rhs.replace("...", "")) | {c for c in sizes if ord(c) >= 0x100}
    if len(letters) < 2:
        return 0
    total = 0
    current = set(letters[0])
    for i in range(1, len(letters)):
        nxt = set(letters[i])
        involved = current | nxt
        total += math.prod(sizes[c] for c in involved)
        later = set().union(*[set(l) for l in letters[i + 1:]]) if i + 1 < len(letters) else set()
        current = {c for c in involved if c in out_letters or c in later}
    return total


# ---------------------------------------------------------------- ops

def _first(ins, n=2):
    vals = list(ins.values())
    return vals[:n] + [None] * (n - len(vals[:n]))


@op_formula("conv2d", "conv3d", "depthwise_conv2d", "conv1d",
            args="input, filter, strides, paddings, padding_algorithm, dilations, groups, data_format",
            convention="numel(out) x C_in/groups x prod(kernel) MACs", contraction=True)
def conv_op(ins, outs, attrs):
    x, w = _first(ins)
    return contraction(conv_macs(x, w, outs[0]))


@op_formula("conv2d_transpose", "conv3d_transpose", "depthwise_conv2d_transpose", "conv2d_transpose_bias",
            args="x, filter, strides, paddings, output_padding, output_size, padding_algorithm, groups, dilations, data_format",
            convention="numel(x) x C_out/groups x prod(kernel) MACs", contraction=True)
def conv_transpose_op(ins, outs, attrs):
    x, w = _first(ins)
    return contraction(conv_macs(x, w, outs[0], transposed=True))


@op_formula("matmul", args="x, y, transpose_x, transpose_y",
            convention="numel(out) x K MACs (K = contracted dim)", contraction=True)
def matmul_op(ins, outs, attrs):
    x, y = _first(ins)
    return contraction(matmul_macs(x, y, outs[0], bool(attrs.get("transpose_x")), bool(attrs.get("transpose_y"))))


@op_formula("bmm", "mm", args="x, y", convention="numel(out) x K MACs", contraction=True)
def bmm_op(ins, outs, attrs):
    x, y = _first(ins)
    return contraction(matmul_macs(x, y, outs[0]))


@op_formula("mv", "dot", args="x, y", convention="numel(x) MACs", contraction=True)
def dot_op(ins, outs, attrs):
    x, _ = _first(ins)
    return contraction(numel(x))


@op_formula("addmm", "baddbmm", args="input, x, y, beta, alpha",
            convention="numel(out) x K MACs + 2 per output (scale, add)", contraction=True)
def addmm_op(ins, outs, attrs):
    _, x, y = (list(ins.values()) + [None] * 3)[:3]
    return contraction(matmul_macs(x, y, outs[0]), 2 * numel(outs[0]))


@op_formula("linear", "fc", args="x, weight, bias",
            convention="numel(out) x in_features MACs + 1 per output for bias; paddle: MACs only", contraction=True)
def linear_op(ins, outs, attrs):
    x, w = _first(ins)
    bias = list(ins.values())[2] if len(ins) > 2 else None
    macs = numel(outs[0]) * int(w[0])
    # like nn.Linear (and F.conv2d, whose bias is a separate add): the bias stays out of paddle_flops
    return Cost(macs, 2 * macs + (numel(outs[0]) if bias is not None else 0), macs)


@op_formula("einsum", args="x, equation", convention="pairwise left-to-right: prod of involved letter sizes per step",
            contraction=True)
def einsum_op(ins, outs, attrs):
    operands = list(ins.values())[0]
    if isinstance(operands, tuple):
        operands = [operands]
    eq = attrs.get("equation") or next((v for v in attrs.values() if isinstance(v, str)), "")
    return contraction(einsum_macs(eq, operands))


@op_formula("bilinear", args="x, y, weight, bias",
            convention="batch x out x (in1 x in2 + in1) MACs + 1 per output for bias", contraction=True)
def bilinear_op(ins, outs, attrs):
    x, y, w, b = (list(ins.values()) + [None] * 4)[:4]
    return contraction(bilinear_macs(w, outs[0]), numel(outs[0]) if b is not None else 0)


def bilinear_macs(weight_shape, out_shape) -> int:
    """y_o = x1^T W_o x2: W_o x2 is in1*in2 MACs, the dot with x1 in1 more."""
    out_f, in1, in2 = (int(d) for d in weight_shape)
    return numel(out_shape) * (in1 * in2 + in1)


# ---------------------------------------------------------------- layers

TRANSPOSED_CONVS = (nn.Conv1DTranspose, nn.Conv2DTranspose, nn.Conv3DTranspose)


@layer_formula(nn.Conv1D, nn.Conv2D, nn.Conv3D, nn.Conv1DTranspose, nn.Conv2DTranspose, nn.Conv3DTranspose,
               convention="conv MACs (see conv ops) + 1 per output element for bias; paddle: MACs + bias")
def conv_layer(layer, ins, outs):
    macs = conv_macs(ins[0], param_shape(layer, "weight"), outs[0], isinstance(layer, TRANSPOSED_CONVS))
    bias = numel(outs[0]) if has_param(layer, "bias") else 0
    return as_layer_cost(contraction(macs, bias))


@layer_formula(nn.Linear, convention="numel(out) x in_features MACs + bias adds; paddle: MACs only (no bias)")
def linear_layer(layer, ins, outs):
    outputs = numel(outs[0])
    macs = outputs * int(param_shape(layer, "weight")[0])
    bias = outputs if has_param(layer, "bias") else 0
    return Cost(macs, 2 * macs + bias, macs)


@layer_formula(nn.Bilinear, convention="batch x out x (in1 x in2 + in1) MACs + bias adds")
def bilinear_layer(layer, ins, outs):
    macs = bilinear_macs(tuple(layer.weight.shape), outs[0])
    bias = numel(outs[0]) if getattr(layer, "bias", None) is not None else 0
    return as_layer_cost(contraction(macs, bias))


# ---------------------------------------------------------------- more products

@op_formula("fused_gemm_epilogue", "gemm_epilogue", args="x, y, bias, trans_x, trans_y, activation",
            convention="matmul MACs + 1 per output for the bias (activation not counted)", contraction=True)
def gemm_epilogue_op(ins, outs, attrs):
    x, y = _first(ins)
    macs = matmul_macs(x, y, outs[0], bool(attrs.get("trans_x")), bool(attrs.get("trans_y")))
    return contraction(macs, numel(outs[0]) if ins.get("bias") is not None else 0)


def chain_matmul_macs(shapes) -> int:
    """Cheapest parenthesisation of a matrix chain (what multi_dot evaluates);
    a 1-D first/last operand is a row/column vector."""
    dims = []
    for i, s in enumerate(shapes):
        s = tuple(int(d) for d in s)
        if len(s) == 1:
            s = (1, s[0]) if i == 0 else (s[0], 1)
        if not dims:
            dims.append(s[0])
        dims.append(s[1])
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            cost[i][j] = min(cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                             for k in range(i, j))
    return cost[0][n - 1] if n > 1 else 0


@op_formula("multi_dot", args="x", convention="optimal matrix-chain order: sum of m x k x n per product",
            contraction=True)
def multi_dot_op(ins, outs, attrs):
    shapes = list(ins.values())[0]
    return contraction(chain_matmul_macs(shapes if isinstance(shapes, list) else [shapes]))


@op_formula("matrix_power", args="x, n",
            convention="square-and-multiply: (floor(log2 |n|) + popcount(|n|) - 1) products of m^3 MACs per "
                       "matrix; n < 0 also inverts (inverse not counted)", contraction=True)
def matrix_power_op(ins, outs, attrs):
    x = list(ins.values())[0]
    n = abs(int(attrs.get("n", 1) or 0))
    products = (n.bit_length() - 1 + bin(n).count("1") - 1) if n > 0 else 0
    m = int(x[-1])
    return contraction(products * (numel(x) // (m * m)) * m ** 3)
