"""Quantisation: (fake) quantise / dequantise, weight-only and int8 linears,
FP8 GEMMs.

Per-element conventions (1 per arithmetic step; round 1; clamps and casts
free):

* quantise ``round(x / scale * qmax)``: 3 per element; with a zero point +1.
* dequantise ``q * scale / qmax``: 2 per element; with a zero point +1.
* the abs-max statistic a fake-quantiser computes: 1 per element (abs; the max
  is a comparison). Moving-average scale updates are per-tensor scalars (free).
* block / FP8 quantisers that keep their scales in a buffer: abs (1) + scale
  multiply (1) = 2 per element.
* weight-only / int8 linears: matmul MACs + 1 per weight element to dequantise
  the weight on the fly + 1 per output for the bias.
"""
from __future__ import annotations

import math

from .activation import SWIGLU_PER_OUTPUT
from .contraction import matmul_macs
from .elementwise import per_element_op
from .registry import Cost, contraction, numel, op_formula, pointwise

QUANT, DEQUANT, ABS_MAX, BLOCK_QUANT = 3, 2, 1, 2

per_element_op("fake_quantize_abs_max", "fake_channel_wise_quantize_abs_max", "fake_quantize_range_abs_max",
               "fake_quantize_moving_average_abs_max", args="x", per_element=ABS_MAX + QUANT,
               convention="4 per element: abs-max statistic (1) + quantise (3)")
per_element_op("fake_quantize_dequantize_abs_max", "fake_channel_wise_quantize_dequantize_abs_max",
               "fake_quantize_dequantize_moving_average_abs_max", args="x",
               per_element=ABS_MAX + QUANT + DEQUANT,
               convention="6 per element: abs-max statistic (1) + quantise (3) + dequantise (2)")
per_element_op("moving_average_abs_max_scale", args="x, in_accum, in_state, moving_rate, is_test",
               per_element=ABS_MAX, convention="1 per element (abs for the abs-max; the moving average is scalar)")
per_element_op("fake_dequantize_max_abs", "dequantize_abs_max", args="x, scale, max_range",
               per_element=DEQUANT, convention="2 per element: x * scale / max_range")
per_element_op("quantize_linear", args="x, scale, zero_point, in_accum, in_state, quant_axis, bit_length, qmin, qmax, "
                                       "round_type, is_test, only_observer",
               per_element=QUANT + 1, convention="4 per element: divide, scale, round, zero point "
                                                 "(training-time observer statistics not counted)")
per_element_op("dequantize_linear", args="x, scale, zero_point, in_accum, in_state, quant_axis, bit_length, qmin, "
                                         "qmax, round_type, is_test, only_observer",
               per_element=DEQUANT + 1, convention="3 per element: zero point, scale, divide")
per_element_op("weight_quantize", args="x, algo, arch, group_size", per_element=ABS_MAX + QUANT,
               convention="4 per weight element: abs-max statistic (1) + quantise (3)")
per_element_op("weight_dequantize", args="x, scale, algo, group_size", per_element=1,
               convention="1 per output element (multiply by the scale)")
per_element_op("apply_per_channel_scale", args="x, scales", per_element=1, convention="1 multiply per element")
per_element_op("fused_act_dequant", args="x, x_scale", per_element=1, convention="1 multiply per element")
per_element_op("fp8_quant_blockwise", "fused_stack_quant", "fused_stack_transpose_quant",
               "fused_transpose_wlch_split_quant", args="x", per_element=BLOCK_QUANT,
               convention="2 per element: abs for the block max + scale multiply (transposes free)")
per_element_op("lookup_table_dequant", args="w, ids, padding_idx", per_element=2,
               convention="2 per output element: row lookup, then q * scale + min")


@op_formula("fake_channel_wise_dequantize_max_abs", args="x, scales, quant_bits, quant_axis, x_num_col_dims",
            convention="2 per element per scale tensor given (multiply, divide)")
def fake_channel_wise_dequantize_op(ins, outs, attrs):
    scales = ins.get("scales")
    k = len(scales) if isinstance(scales, list) else 1
    return pointwise(numel(ins.get("x")), DEQUANT * k)


@op_formula("fused_transpose_split_quant", args="x, input_scales, tokens_per_expert, pow_2_scales",
            convention="2 per element (abs, scale); +1 when input_scales dequantise first")
def fused_transpose_split_quant_op(ins, outs, attrs):
    return pointwise(numel(ins.get("x")), BLOCK_QUANT + (1 if ins.get("input_scales") is not None else 0))


WEIGHT_BITS = {"int8": 8, "int4": 4}


def quantized_linear_cost(x, weight, out, bias) -> Cost:
    """x @ W^T with an on-the-fly dequantised weight: numel(out) x K MACs
    (K = x.shape[-1]), 1 per weight element (N x K logical weights, N =
    out.shape[-1]: an int4 weight stored packed as [N/2, K] int8 still has
    N x K weights to dequantise), bias adds."""
    k = int(x[-1])
    macs = numel(out) * k
    return contraction(macs, numel(out) if bias is not None else 0) + pointwise(int(out[-1]) * k, 1)


def quantized_weight_bytes(in_features: int, out_features: int, weight_dtype: str = "int8") -> float:
    """Bytes of a weight-only / LLM.int8 linear's weight: ``N x K`` weights
    x their width (int8 1 byte, int4 half a byte; scales not included)."""
    if weight_dtype not in WEIGHT_BITS:
        raise ValueError(f"weight_dtype must be one of {', '.join(WEIGHT_BITS)}, got {weight_dtype!r}")
    return in_features * out_features * WEIGHT_BITS[weight_dtype] / 8


_QLINEAR = "numel(out) x K MACs + 1 per weight element, N x K (dequantise; int4 packs two per stored byte) + 1 per output for bias"


@op_formula("weight_only_linear", args="x, weight, bias, weight_scale, weight_dtype, arch, group_size",
            convention=_QLINEAR, contraction=True)
def weight_only_linear_op(ins, outs, attrs):
    return quantized_linear_cost(ins.get("x"), ins.get("weight"), outs[0], ins.get("bias"))


@op_formula("llm_int8_linear", args="x, weight, bias, weight_scale, threshold",
            convention=_QLINEAR + " (outlier columns split off, same MACs)", contraction=True)
def llm_int8_linear_op(ins, outs, attrs):
    return quantized_linear_cost(ins.get("x"), ins.get("weight"), outs[0], ins.get("bias"))


@op_formula("fp8_fp8_half_gemm_fused", args="x, y, bias, transpose_x, transpose_y, scale, output_dtype, "
                                            "activation_type",
            convention="matmul MACs + 1 per output for the scale + 1 for bias (activation not counted)",
            contraction=True)
def fp8_gemm_fused_op(ins, outs, attrs):
    out = outs[0]
    macs = matmul_macs(ins.get("x"), ins.get("y"), out, bool(attrs.get("transpose_x")),
                       bool(attrs.get("transpose_y")))
    return contraction(macs, numel(out) if ins.get("bias") is not None else 0) + pointwise(numel(out), 1)


@op_formula("fp8_gemm_blockwise", args="A, A_scale, B, B_scale, input_result, bias, pre_gelu, workspace, transa, "
                                       "transb, grad, accumulate, use_split_accumulator, math_sm_count, "
                                       "is_A_1d_scaled, is_B_1d_scaled",
            convention="M x N x K MACs, K = sqrt(numel(A) numel(B) / numel(out)) (layout independent) + bias",
            contraction=True)
def fp8_gemm_blockwise_op(ins, outs, attrs):
    a, b = ins.get("A"), ins.get("B")
    out = outs[0]
    k = math.isqrt(numel(a) * numel(b) // max(numel(out), 1))
    return contraction(numel(out) * k, numel(out) if ins.get("bias") is not None else 0)


per_element_op("fused_weighted_swiglu_act_quant", args="x, prob, using_pow2_scaling", per_element=SWIGLU_PER_OUTPUT + 1 + BLOCK_QUANT,
               convention="8 per output element: swiglu (5), x prob (1), quantise (2)")
