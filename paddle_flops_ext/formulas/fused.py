"""Fused inference / training kernels, counted from their argument shapes as
the sum of the unfused operations they replace (each part with its own
module's convention): bias + activation, residual + normalisation, fused
linears and GEMMs, fused attention and transformer blocks, fused recurrent
cells.

Attention inside fused blocks follows :mod:`.attention` (``B*H*Sq*Sk*(D+Dv)``
MACs, +4 per score entry, +1 with a mask). Decoder kernels whose key length
lives in tensors (``block_multihead_attention``, ``masked_multihead_attention``,
``fused_multi_transformer`` with a cache) are counted at the longest key
length their shapes allow - an upper bound - unless a mask's shape gives it.
"""
from __future__ import annotations

import math

from .activation import GELU_ERF, PER_ELEMENT
from .attention import attention_cost
from .contraction import conv_macs, matmul_macs
from .normalization import FOLDED_BN_PER_ELEMENT, statistics_norm_cost
from .recurrent import POINTWISE_PER_HIDDEN
from .registry import Cost, contraction, numel, op_formula, pointwise

ROPE_PER_ELEMENT = 3  # x*cos + rotate(x)*sin


def act_per_element(name) -> int:
    """FLOPs per element of a fused kernel's activation by name (relu & co. free)."""
    name = (name or "").lower()
    if name in ("gelu", "geglu"):
        return GELU_ERF
    if name in ("", "none", "identity", "relu", "relu6", "linear"):
        return 0
    if name in ("swish", "silu", "swiglu"):
        return PER_ELEMENT["silu"][0]
    return PER_ELEMENT.get(name, (1, ""))[0]


def _rows(shape) -> int:
    return numel(shape) // max(int(shape[-1]), 1) if shape else 0


def layer_norm_cost(x, affine_terms=2, centered=True) -> Cost:
    """A normalisation over the last axis of ``x`` (LayerNorm, or RMSNorm when not centered)."""
    return statistics_norm_cost(numel(x), _rows(x), affine_terms, centered)


def _present(ins, *names) -> int:
    return sum(1 for n in names if ins.get(n) is not None)


def _quant(attrs) -> int:
    s = attrs.get("quant_scale")
    return 3 if isinstance(s, (int, float)) and s > 0 else 0


# ------------------------------------------------------------------ bias / act / norm

@op_formula("fused_bias_act", args="x, bias, dequant_scales, shift, smooth, act_method, compute_dtype, quant_scale, "
                                   "quant_round_type, quant_max_bound, quant_min_bound",
            convention="per output: activation (gelu 5, silu 4, relu 0; swiglu 5 / geglu 6 on halves) + 1 each "
                       "for bias, dequant, shift, smooth (per input element) + 3 to quantise")
def fused_bias_act_op(ins, outs, attrs):
    x = ins.get("x")
    out = outs[0] if outs else x
    act = (attrs.get("act_method") or "gelu").lower()
    gated = act in ("swiglu", "geglu")
    per_out = act_per_element(act) + (1 if gated else 0) + _quant(attrs)
    per_in = _present(ins, "bias", "dequant_scales", "shift", "smooth")
    return pointwise(numel(out) * per_out + numel(x) * per_in, 1)


@op_formula("fused_rms_norm_ext", "fast_rms_norm", args="x, scale, epsilon",
            convention="RMSNorm over the last axis: 3/elem + 3 per row + 1/elem for the weight")
def fused_rms_norm_ext_op(ins, outs, attrs):
    return layer_norm_cost(ins.get("x"), 1, centered=False)


@op_formula("fast_ln", args="x, scale, bias, epsilon",
            convention="LayerNorm over the last axis: 6/elem + 4 per row + 2/elem (scale, bias)")
def fast_ln_op(ins, outs, attrs):
    return layer_norm_cost(ins.get("x"), 2)


def _residual_norm(ins, attrs, x_key, centered, adds=("bias", "residual")):
    x = ins.get(x_key)
    affine = _present(ins, "norm_weight", "norm_bias")
    alpha = attrs.get("residual_alpha", 1.0)
    extra = _present(ins, *adds) + (1 if isinstance(alpha, (int, float)) and alpha != 1.0 else 0) + _quant(attrs)
    return layer_norm_cost(x, affine, centered) + pointwise(numel(x), extra)


@op_formula("fused_bias_residual_layernorm", args="x, bias, residual, norm_weight, norm_bias, epsilon, residual_alpha, "
                                                  "begin_norm_axis, quant_scale, quant_round_type, quant_max_bound, "
                                                  "quant_min_bound",
            convention="1/elem per bias / residual add (+1 residual_alpha != 1) + LayerNorm + 3/elem to quantise")
def fused_bias_residual_layernorm_op(ins, outs, attrs):
    return _residual_norm(ins, attrs, "x", True)


@op_formula("fused_rms_norm_quant", args="x, bias, residual, norm_weight, norm_bias, epsilon, begin_norm_axis, "
                                         "quant_scale, quant_round_type, quant_max_bound, quant_min_bound",
            convention="1/elem per bias / residual add + RMSNorm + 3/elem to quantise")
def fused_rms_norm_quant_op(ins, outs, attrs):
    return _residual_norm(ins, attrs, "x", False)


@op_formula("fused_bias_dropout_residual_layer_norm", args="x, residual, bias, ln_scale, ln_bias, dropout_rate, "
                                                           "is_test, dropout_fix_seed, dropout_seed, "
                                                           "dropout_implementation, ln_epsilon",
            convention="bias add + residual add (dropout is the identity) + LayerNorm")
def fused_bias_dropout_residual_ln_op(ins, outs, attrs):
    x = ins.get("x")
    return layer_norm_cost(x, _present(ins, "ln_scale", "ln_bias")) + pointwise(numel(x), 1 + _present(ins, "bias"))


@op_formula("skip_layernorm", args="x, y, scale, bias, epsilon, begin_norm_axis",
            convention="1/elem residual add + LayerNorm")
def skip_layernorm_op(ins, outs, attrs):
    x = ins.get("x")
    return layer_norm_cost(x, _present(ins, "scale", "bias")) + pointwise(numel(x), 1)


@op_formula("add_group_norm_silu", args="x, residual, scale, bias, epsilon, groups, data_format, activation",
            convention="residual add (1/elem) + GroupNorm (6/elem + 4 per group + affine) + silu (4/elem)")
def add_group_norm_silu_op(ins, outs, attrs):
    x = ins.get("x")
    groups = int(x[0]) * int(attrs.get("groups", 1) or 1)
    act = act_per_element(attrs.get("activation") or "")
    return statistics_norm_cost(numel(x), groups, _present(ins, "scale", "bias")) + \
        pointwise(numel(x), _present(ins, "residual") + act)


@op_formula("fused_embedding_eltwise_layernorm", args="ids, embs, bias, scale, epsilon",
            convention="k looked-up embeddings summed (k - 1 per output element) + LayerNorm")
def fused_embedding_eltwise_ln_op(ins, outs, attrs):
    out = outs[0]
    embs = ins.get("embs")
    k = len(embs) if isinstance(embs, list) else 1
    return layer_norm_cost(out, _present(ins, "scale", "bias")) + pointwise(numel(out), k - 1)


@op_formula("fused_batch_norm_act", args="x, scale, bias, mean, variance, momentum, epsilon, act_type",
            convention="BatchNorm with running statistics (2/elem) + activation")
def fused_batch_norm_act_op(ins, outs, attrs):
    return pointwise(numel(ins.get("x")), FOLDED_BN_PER_ELEMENT + act_per_element(attrs.get("act_type")))


@op_formula("fused_bn_add_activation", args="x, z, scale, bias, mean, variance, momentum, epsilon, act_type",
            convention="BatchNorm (2/elem) + add z (1/elem) + activation")
def fused_bn_add_activation_op(ins, outs, attrs):
    return pointwise(numel(ins.get("x")), FOLDED_BN_PER_ELEMENT + 1 + act_per_element(attrs.get("act_type")))


@op_formula("fused_token_prune", args="attn, x, mask, new_mask, keep_first_token, keep_order",
            convention="2 per attention entry (mask add, sum into token scores); sort and gather free")
def fused_token_prune_op(ins, outs, attrs):
    return pointwise(numel(ins.get("attn")), 2)


@op_formula("fused_partial_rope", args="x, cos, sin",
            convention="3 per rotated element: the first cos.shape[-1] channels of each head")
def fused_partial_rope_op(ins, outs, attrs):
    x, cos = ins.get("x"), ins.get("cos")
    rotated = numel(x) * int(cos[-1]) // max(int(x[-1]), 1) if x and cos else 0
    return pointwise(rotated, ROPE_PER_ELEMENT)


# ------------------------------------------------------------------ linears / GEMMs / convs

def _bias(ins, out, *names) -> int:
    return numel(out) if any(ins.get(n) is not None for n in names) else 0


@op_formula("linear_v2", args="input, weight, bias, transpose_weight",
            convention="numel(out) x in_features MACs + 1 per output for bias", contraction=True)
def linear_v2_op(ins, outs, attrs):
    x = ins.get("input")
    return contraction(numel(outs[0]) * int(x[-1]), _bias(ins, outs[0], "bias"))


def flatten_matmul_macs(x, y, y_num_col_dims) -> int:
    """``mul``: x flattened to [rows, K] times y flattened to [K, cols]."""
    k = math.prod(int(d) for d in y[:int(y_num_col_dims or 1)])
    cols = numel(y) // max(k, 1)
    return (numel(x) // max(k, 1)) * k * cols


@op_formula("matmul_with_flatten", args="x, y, x_num_col_dims, y_num_col_dims",
            convention="rows(x) x K x cols(y) MACs, K = prod(y.shape[:y_num_col_dims])", contraction=True)
def matmul_with_flatten_op(ins, outs, attrs):
    return contraction(flatten_matmul_macs(ins.get("x"), ins.get("y"), attrs.get("y_num_col_dims", 1)))


@op_formula("batched_gemm", args="lhs, rhs, batch_sizes, trans_lhs, trans_rhs",
            convention="grouped GEMM: numel(out) x K MACs, K = numel(lhs) / rows of out", contraction=True)
def batched_gemm_op(ins, outs, attrs):
    out = outs[0]
    rows = numel(out) // max(int(out[-1]), 1)
    return contraction(numel(out) * (numel(ins.get("lhs")) // max(rows, 1)))


@op_formula("batch_fc", args="input, w, bias",
            convention="per slot [B, in] x [in, out]: numel(out) x in MACs + bias", contraction=True)
def batch_fc_op(ins, outs, attrs):
    x = ins.get("input")
    return contraction(numel(outs[0]) * int(x[-1]), _bias(ins, outs[0], "bias"))


@op_formula("fused_fc_elementwise_layernorm", args="x, w, y, bias0, scale, bias1, x_num_col_dims, activation_type, "
                                                   "epsilon, begin_norm_axis",
            convention="fc MACs + bias + add y (1/elem) + activation + LayerNorm", contraction=True)
def fused_fc_elementwise_ln_op(ins, outs, attrs):
    out = outs[0]
    w = ins.get("w")
    macs = numel(out) * int(w[0])
    act = act_per_element(attrs.get("activation_type"))
    return contraction(macs, _bias(ins, out, "bias0")) + pointwise(numel(out), 1 + act) + \
        layer_norm_cost(out, _present(ins, "scale", "bias1"))


@op_formula("fusion_repeated_fc_relu", args="x, w, bias",
            convention="chain of fc + relu: rows x sum(numel(W_i)) MACs + bias adds", contraction=True)
def fusion_repeated_fc_relu_op(ins, outs, attrs):
    x, ws, bs = ins.get("x"), ins.get("w") or [], ins.get("bias") or []
    rows = _rows(x)
    return contraction(rows * sum(numel(w) for w in ws), rows * sum(int(w[-1]) for w in ws) if bs else 0)


@op_formula("fusion_squared_mat_sub", args="x, y, scalar",
            convention="((xy)^2 - x^2 y^2) * scalar: 2 M K N MACs + squares of x, y + 3 per output", contraction=True)
def fusion_squared_mat_sub_op(ins, outs, attrs):
    x, y, out = ins.get("x"), ins.get("y"), outs[0]
    macs = 2 * matmul_macs(x, y, out)
    return contraction(macs) + pointwise(numel(x) + numel(y) + 3 * numel(out), 1)


@op_formula("rank_attention", args="x, rank_offset, rank_param, max_rank, max_size",
            convention="N x (max_rank x in) x out MACs (each row times its max_rank parameter blocks)",
            contraction=True)
def rank_attention_op(ins, outs, attrs):
    x = ins.get("x")
    max_rank = int(attrs.get("max_rank", 3) or 3)
    return contraction(numel(outs[0]) * max_rank * int(x[-1]))


@op_formula("match_matrix_tensor", args="x, y, w, dim_t",
            convention="x W (Lx h dim_t h) + (x W) y^T (Lx dim_t h Ly) MACs; one sequence each (LoD batches: "
                       "cross pairs counted, an upper bound)", contraction=True)
def match_matrix_tensor_op(ins, outs, attrs):
    x, y, w = ins.get("x"), ins.get("y"), ins.get("w")
    lx, h = int(x[0]), int(x[-1])
    ly = int(y[0])
    t = int(w[1])
    return contraction(lx * h * t * int(w[-1]) + lx * t * h * ly)


@op_formula("sequence_conv", args="x, padding_data, filter, context_length, padding_trainable, context_start, "
                                  "context_stride",
            convention="T x numel(filter) MACs (context window of T rows times [ctx x D, out])", contraction=True)
def sequence_conv_op(ins, outs, attrs):
    return contraction(int(ins.get("x")[0]) * numel(ins.get("filter")))


@op_formula("fusion_seqconv_eltadd_relu", args="x, filter, bias, context_length, context_start, context_stride",
            convention="sequence_conv MACs + bias add (relu free)", contraction=True)
def fusion_seqconv_eltadd_relu_op(ins, outs, attrs):
    return contraction(int(ins.get("x")[0]) * numel(ins.get("filter")), numel(outs[0]))


def _conv_bias(ins, outs, x_key, w_key, bias_key, extra_per_output=0):
    out = outs[0]
    cost = contraction(conv_macs(ins.get(x_key), ins.get(w_key), out), _bias(ins, out, bias_key))
    return cost + pointwise(numel(out), extra_per_output)


@op_formula("depthwise_conv2d_bias", "depthwise_conv3d_bias",
            args="input, filter, bias, strides, paddings, padding_algorithm, groups, dilations, data_format",
            convention="conv MACs + 1 per output for bias", contraction=True)
def depthwise_conv_bias_op(ins, outs, attrs):
    return _conv_bias(ins, outs, "input", "filter", "bias")


@op_formula("fused_conv2d_add_act", args="input, filter, bias, residual_data, strides, paddings, padding_algorithm, "
                                         "dilations, groups, data_format, activation, split_channels, "
                                         "exhaustive_search, workspace_size_MB, fuse_alpha",
            convention="conv MACs + bias + residual add (1/output) + activation", contraction=True)
def fused_conv2d_add_act_op(ins, outs, attrs):
    extra = _present(ins, "residual_data") + act_per_element(attrs.get("activation"))
    return _conv_bias(ins, outs, "input", "filter", "bias", extra)


@op_formula("resnet_unit", args="x, filter_x, scale_x, bias_x, mean_x, var_x, z, filter_z, scale_z, bias_z, mean_z, "
                                "var_z, stride, stride_z, padding, dilation, group, momentum, epsilon, data_format, "
                                "fuse_add, has_shortcut, use_global_stats, is_test, use_addto, act_type",
            convention="conv + BatchNorm (2/elem) [+ shortcut conv + BatchNorm] [+ add z] + activation",
            contraction=True)
def resnet_unit_op(ins, outs, attrs):
    out = outs[0]
    n = numel(out)
    macs = n * math.prod(int(d) for d in ins.get("filter_x")[1:])
    per = FOLDED_BN_PER_ELEMENT + act_per_element(attrs.get("act_type"))
    if attrs.get("has_shortcut") and ins.get("filter_z") is not None:
        macs += n * math.prod(int(d) for d in ins.get("filter_z")[1:])
        per += FOLDED_BN_PER_ELEMENT + 1
    elif attrs.get("fuse_add"):
        per += 1
    return contraction(macs) + pointwise(n, per)


@op_formula("resnet_basic_block", args="x, filter1, scale1, bias1, mean1, var1, filter2, scale2, bias2, mean2, var2, "
                                       "filter3, scale3, bias3, mean3, var3, stride1, stride2, stride3, padding1, "
                                       "padding2, padding3, dilation1, dilation2, dilation3, group, momentum, epsilon, "
                                       "data_format, has_shortcut, use_global_stats, is_test, trainable_statistics, "
                                       "act_type, find_conv_input_max",
            convention="two convs (conv1's output from outs[1] when given, else the block's) + BatchNorm and "
                       "activation after each + shortcut conv + BatchNorm + the residual add", contraction=True)
def resnet_basic_block_op(ins, outs, attrs):
    out = outs[0]
    mid = outs[1] if len(outs) > 1 and len(outs[1]) == len(out) else out
    act = act_per_element(attrs.get("act_type"))
    macs = numel(mid) * math.prod(int(d) for d in ins.get("filter1")[1:])
    macs += numel(out) * math.prod(int(d) for d in ins.get("filter2")[1:])
    flops = numel(mid) * (FOLDED_BN_PER_ELEMENT + act) + numel(out) * (FOLDED_BN_PER_ELEMENT + act + 1)
    if attrs.get("has_shortcut") and ins.get("filter3") is not None:
        macs += numel(out) * math.prod(int(d) for d in ins.get("filter3")[1:])
        flops += numel(out) * FOLDED_BN_PER_ELEMENT
    return contraction(macs) + pointwise(flops, 1)


@op_formula("squeeze_excitation_block", args="x, filter, filter_max, bias, branch, act_type, act_param, filter_dims",
            convention="global average pool (1/elem) + the two fcs (N x numel(filter) MACs) + sigmoid + rescale "
                       "(1/elem) + branch add", contraction=True)
def squeeze_excitation_block_op(ins, outs, attrs):
    x = ins.get("x")
    n, c = int(x[0]), int(x[1])
    macs = n * numel(ins.get("filter"))
    per = 2 + _present(ins, "branch")
    return contraction(macs, _bias(ins, (n, c), "bias")) + pointwise(numel(x) * per + n * c * PER_ELEMENT["sigmoid"][0], 1)


@op_formula("fused_linear_param_grad_add", args="x, dout, dweight, dbias, multi_precision, has_bias",
            convention="dW += x^T dout: rows x K x N MACs + K x N accumulate + dbias (rows x N adds)",
            contraction=True)
def fused_linear_param_grad_add_op(ins, outs, attrs):
    x, dout = ins.get("x"), ins.get("dout")
    k, n = int(x[-1]), int(dout[-1])
    rows = _rows(x)
    bias = rows * n if attrs.get("has_bias", True) else 0
    return contraction(rows * k * n, k * n * (1 if ins.get("dweight") is not None else 0)) + pointwise(bias, 1)


# ------------------------------------------------------------------ attention / transformer blocks

def _heads_from(hidden: int, head_dim: int) -> int:
    return max(hidden // max(head_dim, 1), 1)


@op_formula("multihead_matmul", args="input, w, bias, bias_qk, transpose_q, transpose_k, transpose_v, alpha, "
                                     "head_number",
            convention="QKV projection (tokens x numel(w) MACs) + bias + attention over S x S (+1 per score with "
                       "bias_qk)", contraction=True)
def multihead_matmul_op(ins, outs, attrs):
    x = ins.get("input")
    b, s, d = int(x[0]), int(x[1]), int(x[-1])
    h = int(attrs.get("head_number", 1) or 1)
    proj = contraction(b * s * numel(ins.get("w")), b * s * 3 * d if ins.get("bias") is not None else 0)
    return proj + attention_cost(b * h, s, s, d // h, d // h, causal=False, mode="full",
                                 mask=ins.get("bias_qk") is not None)


@op_formula("self_dp_attention", args="x, alpha, head_number",
            convention="attention over x [B, S, 3, H, D]: B*H*S*S*2D MACs + 4 per score")
def self_dp_attention_op(ins, outs, attrs):
    b, s, _, h, d = (int(v) for v in ins.get("x"))
    return attention_cost(b * h, s, s, d, d, causal=False, mode="full")


@op_formula("qkv_unpack_mha", args="q, k, v, src_mask",
            convention="attention over [B, S, H, D] q, k, v (+1 per score with src_mask)", contraction=True)
def qkv_unpack_mha_op(ins, outs, attrs):
    q, k, v = ins.get("q"), ins.get("k"), ins.get("v")
    b, sq, h, d = (int(x) for x in q)
    return attention_cost(b * h, sq, int(k[1]), d, int(v[-1]), causal=False, mode="full",
                          mask=ins.get("src_mask") is not None)


def _ffn(tokens, w1, b1, w2, b2, act_name) -> Cost:
    d_ff = int(w1[-1])
    act = act_per_element(act_name)
    gated = (act_name or "").lower() in ("swiglu", "geglu")
    hidden = d_ff // 2 if gated else d_ff
    cost = contraction(tokens * numel(w1), tokens * d_ff if b1 is not None else 0)
    cost = cost + contraction(tokens * numel(w2), tokens * int(w2[-1]) if b2 is not None else 0)
    return cost + pointwise(tokens * hidden * (act + (1 if gated else 0)), 1)


@op_formula("fused_feedforward", args="x, dropout1_seed, dropout2_seed, linear1_weight, linear1_bias, linear2_weight, "
                                      "linear2_bias, ln1_scale, ln1_bias, ln2_scale, ln2_bias, pre_layer_norm, "
                                      "ln1_epsilon, ln2_epsilon, act_method, dropout1_rate, dropout2_rate, "
                                      "dropout1_implementation, dropout2_implementation, is_test, dropout1_fix_seed, "
                                      "dropout2_fix_seed, dropout1_seed_val, dropout2_seed_val, add_residual, "
                                      "ring_id",
            convention="LayerNorm + linear1 (tokens x numel(W1) MACs) + bias + activation + linear2 + bias + "
                       "residual add", contraction=True)
def fused_feedforward_op(ins, outs, attrs):
    x = ins.get("x")
    tokens = _rows(x)
    pre = attrs.get("pre_layer_norm", False)
    ln = layer_norm_cost(x, _present(ins, "ln1_scale", "ln1_bias") if pre else _present(ins, "ln2_scale", "ln2_bias"))
    residual = pointwise(numel(x), 1 if attrs.get("add_residual", True) else 0)
    return ln + residual + _ffn(tokens, ins.get("linear1_weight"), ins.get("linear1_bias"),
                                ins.get("linear2_weight"), ins.get("linear2_bias"), attrs.get("act_method", "relu"))


@op_formula("fused_attention", args="x, ln_scale, ln_bias, qkv_weight, qkv_bias, cache_kv, src_mask, out_linear_weight, "
                                    "out_linear_bias, ln_scale_2, ln_bias_2, num_heads, transpose_qkv_wb, "
                                    "pre_layer_norm, epsilon, attn_dropout_rate, is_test, attn_dropout_fix_seed, "
                                    "attn_dropout_seed, attn_dropout_implementation, dropout_rate, dropout_fix_seed, "
                                    "dropout_seed, dropout_implementation, ln_epsilon, add_residual, ring_id",
            convention="LayerNorm + QKV projection + attention over Sk = S (+ cache length) + out projection + "
                       "bias + residual add", contraction=True)
def fused_attention_op(ins, outs, attrs):
    x = ins.get("x")
    b, s, d = int(x[0]), int(x[1]), int(x[-1])
    qkv_w = ins.get("qkv_weight")
    qkv_out = numel(qkv_w) // d  # [3, H, Dh, D] or [D, 3*H*Dh]
    num_heads = int(attrs.get("num_heads") or (qkv_w[1] if len(qkv_w) == 4 else 1))
    head_dim = qkv_out // 3 // num_heads
    cache = ins.get("cache_kv")
    sk = s + (int(cache[3]) if cache else 0)
    pre = attrs.get("pre_layer_norm", False)
    ln_keys = ("ln_scale", "ln_bias") if pre else ("ln_scale_2", "ln_bias_2")
    tokens = b * s
    cost = layer_norm_cost(x, _present(ins, *ln_keys))
    cost = cost + contraction(tokens * numel(qkv_w), tokens * qkv_out if ins.get("qkv_bias") is not None else 0)
    cost = cost + attention_cost(b * num_heads, s, sk, head_dim, head_dim, causal=False, mode="full",
                                 mask=ins.get("src_mask") is not None)
    out_w = ins.get("out_linear_weight")
    cost = cost + contraction(tokens * numel(out_w), tokens * d if ins.get("out_linear_bias") is not None else 0)
    return cost + pointwise(numel(x), 1 if attrs.get("add_residual", True) else 0)


@op_formula("fused_multi_transformer", args="x, ln_scales, ln_biases, qkv_weights, qkv_biases, cache_kvs, pre_caches, "
                                            "rotary_tensor, beam_offset, time_step, seq_lengths, src_mask, "
                                            "out_linear_weights, out_linear_biases, ffn_ln_scales, ffn_ln_biases, "
                                            "ffn1_weights, ffn1_biases, ffn2_weights, ffn2_biases, pre_layer_norm, "
                                            "epsilon, residual_alpha, dropout_rate, rotary_emb_dims, is_test, "
                                            "dropout_implementation, act_method, trans_qkvw, ring_id, norm_type, "
                                            "use_neox_rotary_style, gqa_group_size",
            convention="per layer: norm + QKV projection + rotary (3/elem of q, k) + attention + out projection + "
                       "residual + norm + FFN + residual; keys Sk = src_mask.shape[-1], else S (+ pre-cache), with "
                       "time_step the cache length (upper bound)", contraction=True)
def fused_multi_transformer_op(ins, outs, attrs):
    x = ins.get("x")
    b, s, d = (int(x[0]), int(x[1]), int(x[-1])) if len(x) == 3 else (1, int(x[0]), int(x[-1]))
    tokens = b * s
    centered = (attrs.get("norm_type") or "layernorm") != "rmsnorm"
    mask, pre = ins.get("src_mask"), ins.get("pre_caches")
    layers = ins.get("qkv_weights") or []
    cost = Cost()
    for i, qkv_w in enumerate(layers):
        qkv_out = numel(qkv_w) // d
        if len(qkv_w) == 4 and attrs.get("trans_qkvw", True):
            heads, head_dim = int(qkv_w[1]), int(qkv_w[2])
        else:
            head_dim = int(qkv_w[-1]) if len(qkv_w) == 4 else 128
            heads = qkv_out // 3 // head_dim
        kv_heads = (qkv_out // head_dim - heads) // 2
        if mask:
            sk = int(mask[-1])
        elif ins.get("time_step") is not None and ins.get("cache_kvs"):
            sk = int(ins["cache_kvs"][i][3])
        else:
            sk = s + (int(pre[i][3]) if pre else 0)
        cost = cost + layer_norm_cost((tokens, d), 1 + (1 if centered else 0), centered)
        cost = cost + contraction(tokens * numel(qkv_w), tokens * qkv_out if ins.get("qkv_biases") else 0)
        if ins.get("rotary_tensor") is not None:
            cost = cost + pointwise(tokens * (heads + kv_heads) * head_dim, ROPE_PER_ELEMENT)
        cost = cost + attention_cost(b * heads, s, sk, head_dim, head_dim, causal=False, mode="full",
                                     mask=mask is not None)
        out_w = ins["out_linear_weights"][i]
        cost = cost + contraction(tokens * numel(out_w), tokens * d if ins.get("out_linear_biases") else 0)
        cost = cost + pointwise(2 * tokens * d, 1)  # two residual adds
        cost = cost + layer_norm_cost((tokens, d), 1 + (1 if centered else 0), centered)
        cost = cost + _ffn(tokens, ins["ffn1_weights"][i], (ins.get("ffn1_biases") or [None])[0],
                           ins["ffn2_weights"][i], (ins.get("ffn2_biases") or [None])[0], attrs.get("act_method"))
    return cost


def _paged_attention(tokens, q_heads, kv_heads, head_dim, sk, rope) -> Cost:
    cost = attention_cost(q_heads, tokens, sk, head_dim, head_dim, causal=False, mode="full")
    if rope:
        cost = cost + pointwise(tokens * (q_heads + kv_heads) * head_dim, ROPE_PER_ELEMENT)
    return cost


@op_formula("block_multihead_attention", "block_multihead_attention_xpu",
            args="qkv, key_cache, value_cache, seq_lens_encoder, seq_lens_decoder, seq_lens_this_time, "
                 "padding_offsets, cum_offsets, cu_seqlens_q, cu_seqlens_k, block_tables, pre_key_cache, "
                 "pre_value_cache, rope_emb, mask, tgt_mask, cache_k_quant_scales, cache_v_quant_scales, "
                 "cache_k_dequant_scales, cache_v_dequant_scales, qkv_out_scale, qkv_bias, out_shift, out_smooth, "
                 "max_enc_len_this_time, max_dec_len_this_time, max_seq_len, block_size, use_neox_style, "
                 "dynamic_cachekv_quant, quant_round_type, quant_max_bound, quant_min_bound, out_scale, "
                 "compute_dtype, rope_theta",
            convention="every packed token attends to the most keys a sequence can hold (blocks per sequence x "
                       "block_size): T*H*Sk_max*2D MACs + 4 per score (upper bound) + rotary 3/elem of q, k + bias",
            contraction=True)
def block_multihead_attention_op(ins, outs, attrs):
    qkv, kc, tables = ins.get("qkv"), ins.get("key_cache"), ins.get("block_tables")
    kv_heads, block, head_dim = int(kc[1]), int(kc[2]), int(kc[3])
    tokens = int(qkv[0])
    q_heads = int(qkv[-1]) // head_dim - 2 * kv_heads
    sk = int(tables[-1]) * block if tables else block
    cost = _paged_attention(tokens, q_heads, kv_heads, head_dim, sk, ins.get("rope_emb") is not None)
    return cost + pointwise(numel(qkv) if ins.get("qkv_bias") is not None else 0, 1)


@op_formula("masked_multihead_attention", args="x, cache_kv, bias, src_mask, cum_offsets, sequence_lengths, "
                                               "rotary_tensor, beam_cache_offset, qkv_out_scale, out_shift, "
                                               "out_smooth, seq_len, rotary_emb_dims, use_neox_rotary_style, "
                                               "compute_dtype, out_scale, quant_round_type, quant_max_bound, "
                                               "quant_min_bound",
            convention="one decode step: B*H*Sk*2D MACs + 4 per score, Sk = src_mask.shape[-1], else the cache "
                       "length (upper bound); + bias and rotary (3/elem of q, k)", contraction=True)
def masked_multihead_attention_op(ins, outs, attrs):
    x, cache, mask = ins.get("x"), ins.get("cache_kv"), ins.get("src_mask")
    _, b, h, max_len, d = (int(v) for v in cache)
    sk = int(mask[-1]) if mask else max_len
    cost = _paged_attention(b, h, h, d, sk, ins.get("rotary_tensor") is not None)
    # the B decode tokens: attention_cost counted B queries over one "head group" of H heads
    return cost + pointwise(numel(x) if ins.get("bias") is not None else 0, 1)


# ------------------------------------------------------------------ recurrent kernels

def _rnn(tokens, hidden, weight_macs, bias_adds, mode) -> Cost:
    return contraction(weight_macs, bias_adds) + pointwise(tokens * hidden * POINTWISE_PER_HIDDEN[mode], 1)


@op_formula("fusion_gru", args="x, h0, weight_x, weight_h, bias, activation, gate_activation, is_reverse, use_seq, "
                               "origin_mode, force_fp32_output",
            convention="T x (numel(Wx) + numel(Wh)) MACs + bias + 14 per hidden unit per step (GRU)", contraction=True)
def fusion_gru_op(ins, outs, attrs):
    x, wh = ins.get("x"), ins.get("weight_h")
    t, hidden = int(x[0]), int(wh[0])
    bias = t * 3 * hidden if ins.get("bias") is not None else 0
    return _rnn(t, hidden, t * (numel(ins.get("weight_x")) + numel(wh)), bias, "GRU")


def _projected_rnn(ins, gates: int, mode: str) -> Cost:
    """Recurrent ops whose input is already projected to ``[rows, gates x D]``
    (rows = time steps, or the batch of one step): the recurrent product,
    the bias and the gate arithmetic per hidden unit per row."""
    x, w = ins.get("input"), ins.get("weight")
    rows, hidden = int(x[0]), int(w[0])
    bias = rows * gates * hidden if ins.get("bias") is not None else 0
    return _rnn(rows, hidden, rows * numel(w), bias, mode)


def _gru_projected(ins, outs, attrs):
    return _projected_rnn(ins, 3, "GRU")


op_formula("gru", args="input, h0, weight, bias, activation, gate_activation, is_reverse, origin_mode, is_test",
           convention="input already projected [T, 3D]: T x numel(W_h) MACs + bias + 14 per hidden unit per step",
           contraction=True)(_gru_projected)
op_formula("gru_unit", args="input, hidden_prev, weight, bias, activation, gate_activation, origin_mode",
           convention="one step on projected input [B, 3D]: B x numel(W_h) MACs + bias + 14 per hidden unit",
           contraction=True)(_gru_projected)


@op_formula("lstm", args="input, h0, c0, weight, bias, use_peepholes, is_reverse, is_test, gate_activation, "
                         "cell_activation, candidate_activation",
            convention="input already projected [T, 4D]: T x numel(W_h) MACs + bias + 19 per hidden unit per step",
            contraction=True)
def lstm_op(ins, outs, attrs):
    return _projected_rnn(ins, 4, "LSTM")


@op_formula("cudnn_lstm", args="x, init_h, init_c, w, weight_list, sequence_length, dropout_prob, is_bidirec, "
                               "hidden_size, num_layers, is_test, seed",
            convention="per step per sample per (layer, direction): (in + H) x 4H MACs + 8H bias adds + 19H",
            contraction=True)
def cudnn_lstm_op(ins, outs, attrs):
    x = ins.get("x")
    t, b, i = (int(v) for v in x)
    h = int(attrs.get("hidden_size"))
    dirs = 2 if attrs.get("is_bidirec") else 1
    layers = int(attrs.get("num_layers", 1) or 1)
    macs = bias = 0
    for layer in range(layers):
        in_size = i if layer == 0 else h * dirs
        macs += dirs * (in_size + h) * 4 * h
        bias += dirs * 8 * h
    return _rnn(t * b * layers * dirs, h, t * b * macs, t * b * bias, "LSTM")


@op_formula("attention_lstm", args="x, c0, h0, attention_weight, attention_bias, attention_scalar, "
                                   "attention_scalar_bias, lstm_weight, lstm_bias, gate_activation, cell_activation, "
                                   "candidate_activation",
            convention="per step over one sequence of T: scores T x (M + D) + context T x M + LSTM (D + M) x 4D MACs, "
                       "softmax 3T, 19 per hidden unit (LoD batches counted as one sequence: upper bound)",
            contraction=True)
def attention_lstm_op(ins, outs, attrs):
    x, w = ins.get("x"), ins.get("lstm_weight")
    t, m = int(x[0]), int(x[-1])
    hidden = int(w[-1]) // 4
    macs = t * (t * (m + hidden) + t * m + numel(w))
    return _rnn(t, hidden, macs, t * 4 * hidden, "LSTM") + pointwise(3 * t * t, 1)
