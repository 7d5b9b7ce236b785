"""Sparse-tensor operations (``sparse_*`` in ``paddle._C_ops``).

A formula sees shapes only, and a sparse tensor's shape is its *dense* shape:
the number of stored values (nnz) is not visible. Every sparse operation is
therefore counted as its dense counterpart on the dense shape - an upper
bound, exact only for fully populated tensors. Layout changes, casts,
coalescing, masks, relu/relu6 and max pooling are free (in :mod:`.zero_cost`).
"""
from __future__ import annotations

import math

from .attention import attention_cost
from .contraction import matmul_macs
from .elementwise import per_element_op
from .registry import contraction, numel, op_formula, pointwise

_UPPER = " on the dense shape (nnz not visible: an upper bound)"

per_element_op("sparse_abs", "sparse_acos", "sparse_acosh", "sparse_asin", "sparse_asinh", "sparse_atan",
               "sparse_atanh", "sparse_expm1", "sparse_log1p", "sparse_sin", "sparse_sinh", "sparse_sqrt",
               "sparse_square", "sparse_tan", "sparse_tanh", "sparse_leaky_relu", "sparse_pow",
               "sparse_divide_scalar", args="x", per_element=1, convention="1 per element" + _UPPER)
per_element_op("sparse_add", "sparse_subtract", "sparse_multiply", "sparse_divide", args="x, y", per_element=1,
               convention="1 per element" + _UPPER)
per_element_op("sparse_softmax", args="x, axis", per_element=3, convention="3 per element (softmax)" + _UPPER)
per_element_op("sparse_batch_norm", "sparse_sync_batch_norm",
               args="x, mean, variance, scale, bias, is_test, momentum, epsilon, data_format, use_global_stats, "
                    "trainable_statistics",
               per_element=2, convention="2 per element (running statistics)" + _UPPER)


@op_formula("sparse_scale", args="x, scale, bias, bias_after_scale",
            convention="1 per element, +1 if bias != 0" + _UPPER)
def sparse_scale_op(ins, outs, attrs):
    b = attrs.get("bias", 0.0)
    return pointwise(numel(ins.get("x")), 1 + (0 if isinstance(b, (int, float)) and float(b) == 0.0 else 1))


@op_formula("sparse_sum", args="x, axis, dtype, keepdim", convention="n - m" + _UPPER)
def sparse_sum_op(ins, outs, attrs):
    return pointwise(max(numel(ins.get("x")) - (numel(outs[0]) if outs else 1), 0), 1)


@op_formula("sparse_matmul", "sparse_masked_matmul", args="x, y", convention="numel(out) x K MACs" + _UPPER,
            contraction=True)
def sparse_matmul_op(ins, outs, attrs):
    return contraction(matmul_macs(ins.get("x"), ins.get("y"), outs[0]))


@op_formula("sparse_mv", args="x, vec", convention="numel(x) MACs" + _UPPER, contraction=True)
def sparse_mv_op(ins, outs, attrs):
    return contraction(numel(ins.get("x")))


@op_formula("sparse_addmm", args="input, x, y, beta, alpha",
            convention="numel(out) x K MACs + 2 per output" + _UPPER, contraction=True)
def sparse_addmm_op(ins, outs, attrs):
    return contraction(matmul_macs(ins.get("x"), ins.get("y"), outs[0]), 2 * numel(outs[0]))


@op_formula("sparse_conv3d", "sparse_conv3d_implicit_gemm",
            args="x, kernel, paddings, dilations, strides, groups, subm, key",
            convention="every output site x prod(kernel[:-1]) / groups MACs (kernel [kd, kh, kw, C_in, C_out])"
                       + _UPPER, contraction=True)
def sparse_conv3d_op(ins, outs, attrs):
    k = ins.get("kernel")
    groups = int(attrs.get("groups", 1) or 1)
    return contraction(numel(outs[0]) * math.prod(int(d) for d in k[:-1]) // groups)


@op_formula("sparse_fused_attention", args="query, key, value, sparse_mask, key_padding_mask, attn_mask",
            convention="dense attention over [B, H, S, D]: B*H*S*S*2D MACs + 4 per score (+1 per mask)" + _UPPER,
            contraction=True)
def sparse_fused_attention_op(ins, outs, attrs):
    q, k, v = ins.get("query"), ins.get("key"), ins.get("value")
    b, h, sq, d = (int(x) for x in q)
    masked = ins.get("key_padding_mask") is not None or ins.get("attn_mask") is not None
    return attention_cost(b * h, sq, int(k[2]), d, int(v[-1]), causal=False, mode="full", mask=masked)
