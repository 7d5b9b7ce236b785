"""Losses, metrics, sequence / graph / mixture-of-experts kernels and other
operations that fit no other module. Each convention counts 1 FLOP per
arithmetic step or transcendental per element (comparisons, gathers, sorting
free), as everywhere.
"""
from __future__ import annotations

from .elementwise import add_n_op, clip_by_norm_op, per_element_op
from .registry import Cost, contraction, numel, op_formula, pointwise


# ------------------------------------------------------------------ element-wise extras

per_element_op("gammaincc", "nextafter", args="x, y", per_element=1,
               convention="1 per output element (one special function / step)")
per_element_op("affine_channel", args="x, scale, bias, data_layout", per_element=2,
               convention="2 per element: per-channel scale and shift")
per_element_op("div_scale", args="x, scale", per_element=1, convention="1 divide per element")
per_element_op("add_position_encoding", args="x, alpha, beta", per_element=5,
               convention="5 per element: alpha x, the angle, sin/cos, beta pe, add")
per_element_op("renorm", args="x, p, axis, max_norm", per_element=3,
               convention="3 per element: p-norm of each slice (2) + rescale (1)")
per_element_op("gumbel_softmax", args="x, temperature, hard, axis", per_element=9,
               convention="9 per element: -log(-log(u)) (4), add, divide by temperature, softmax (3)")
per_element_op("sequence_softmax", args="x", per_element=3, convention="3 per element (softmax)")
per_element_op("bce_loss", args="input, label", per_element=8,
               convention="8 per element: two logs, 1 - y, 1 - p, two products, add, negate")
per_element_op("hinge_loss", args="logits, labels", per_element=4,
               convention="4 per element: 2y - 1 (2), product, 1 - (max free)")
per_element_op("huber_loss", args="input, label, delta", per_element=4,
               convention="4 per element: residual, abs, and the quadratic or linear branch (2)")
per_element_op("log_loss", args="input, label, epsilon", per_element=10,
               convention="10 per element: -y log(p + eps) - (1 - y) log(1 - p + eps)")
per_element_op("cross_entropy_with_softmax_bwd_w_downcast", args="label, softmax, loss_grad", per_element=2,
               convention="2 per softmax element: (softmax - one_hot) * loss_grad")
per_element_op("fused_swiglu_weighted_bwd", args="o1, do2_s, unzipped_probs", per_element=8,
               convention="8 per element of o1 (sigmoid 3 and the products of the swiglu x prob backward)")

op_formula("dgc_clip_by_norm", args="x, current_step, max_norm, rampup_begin_step",
           convention="3 per element (as clip_by_norm)")(clip_by_norm_op)
op_formula("add_n_array", args="inputs", convention="(k - 1) adds per output element (as add_n)")(add_n_op)


@op_formula("kldiv_loss", args="x, label, reduction, log_target",
            convention="3 per element (log, subtract, multiply) + 1 per element to reduce (none: 0)")
def kldiv_loss_op(ins, outs, attrs):
    return pointwise(numel(ins.get("x")), 3 + (0 if attrs.get("reduction") == "none" else 1))


@op_formula("sigmoid_cross_entropy_with_logits", args="x, label, pos_weight, normalize, ignore_index",
            convention="8 per element (max(x,0) - x y + log(1 + exp(-|x|))); +3 with pos_weight; +1 normalize")
def sigmoid_ce_op(ins, outs, attrs):
    per = 8 + (3 if ins.get("pos_weight") is not None else 0) + (1 if attrs.get("normalize") else 0)
    return pointwise(numel(ins.get("x")), per)


@op_formula("nll_loss", args="input, label, weight, ignore_index, reduction",
            convention="per label: weight multiply + negate (2); reduce: sum 1, mean 2 per label (+ weight sum)")
def nll_loss_op(ins, outs, attrs):
    n = numel(ins.get("label"))
    red = attrs.get("reduction", "mean")
    return pointwise(n, 2 + {"none": 0, "sum": 1}.get(red, 2))


@op_formula("identity_loss", args="x, reduction", convention="reduction sum: n - 1, mean: n, none: 0")
def identity_loss_op(ins, outs, attrs):
    n = numel(ins.get("x"))
    red = attrs.get("reduction", 1)
    red = {"sum": 0, "mean": 1, "none": 2}.get(red, red)
    return pointwise({0: max(n - 1, 0), 1: n}.get(red, 0), 1)


def _softmax_ce(logits, per_row=2) -> Cost:
    rows = numel(logits) // max(int(logits[-1]), 1)
    return pointwise(3 * numel(logits) + per_row * rows, 1)


@op_formula("c_softmax_with_cross_entropy", args="logits, label, ignore_index, ring_id, rank, nranks",
            convention="softmax 3 per logit + log and negate of the label's probability (2 per row)")
def c_softmax_ce_op(ins, outs, attrs):
    return _softmax_ce(ins.get("logits"))


@op_formula("c_softmax_with_multi_label_cross_entropy", args="logits, label, smooth_weight, ignore_index, ring_id, "
                                                             "rank, nranks, sum_multi_label_loss",
            convention="softmax 3 per logit + per label: log, negate, smoothing weight (3)")
def c_softmax_multi_label_ce_op(ins, outs, attrs):
    return pointwise(3 * numel(ins.get("logits")) + 3 * numel(ins.get("label")), 1)


@op_formula("margin_cross_entropy", args="logits, label, return_softmax, ring_id, rank, nranks, margin1, margin2, "
                                         "margin3, scale",
            convention="scale 1 per logit + target margin cos(m1 acos(x) + m2) - m3 (5 per row) + softmax CE")
def margin_cross_entropy_op(ins, outs, attrs):
    logits = ins.get("logits")
    rows = numel(logits) // max(int(logits[-1]), 1)
    return _softmax_ce(logits) + pointwise(numel(logits) + 5 * rows, 1)


@op_formula("hsigmoid_loss", args="x, label, w, bias, path, code, num_classes, is_sparse",
            convention="per sample and tree node on its path (custom path's width, else ceil(log2 classes)): "
                       "D MACs + bias + 5 (sigmoid cross-entropy)", contraction=True)
def hsigmoid_loss_op(ins, outs, attrs):
    x, path = ins.get("x"), ins.get("path")
    n, d = int(x[0]), int(x[-1])
    if path is not None:
        depth = int(path[-1])
    else:
        classes = max(int(attrs.get("num_classes", 2) or 2), 2)
        depth = (classes - 1).bit_length()
    nodes = n * depth
    return contraction(nodes * d, nodes if ins.get("bias") is not None else 0) + pointwise(nodes, 5)


CTC_LATTICE = 12  # forward and backward log-space recursions, 6 each per lattice entry


@op_formula("warpctc", args="logits, label, logits_length, labels_length, blank, norm_by_times",
            convention="softmax 3 per logit + 12 per (time, sample, 2L+1 extended label) lattice entry, L = the "
                       "padded label length")
def warpctc_op(ins, outs, attrs):
    logits, label = ins.get("logits"), ins.get("label")
    t, b = int(logits[0]), int(logits[1]) if len(logits) == 3 else 1
    length = int(label[-1]) if label and len(label) == 2 and int(label[-1]) > 1 else numel(label) // max(b, 1)
    return pointwise(3 * numel(logits) + CTC_LATTICE * t * b * (2 * length + 1), 1)


@op_formula("warprnnt", args="input, label, input_lengths, label_lengths, blank, fastemit_lambda",
            convention="log_softmax 3 per logit + 12 per (sample, time, label + 1) lattice entry")
def warprnnt_op(ins, outs, attrs):
    x = ins.get("input")
    return pointwise(3 * numel(x) + CTC_LATTICE * numel(x) // max(int(x[-1]), 1), 1)


@op_formula("auc", args="x, label, stat_pos, stat_neg, ins_tag_weight, curve, num_thresholds, slide_steps",
            convention="1 per prediction (bucket index) + 4 per threshold bucket (trapezoid area)")
def auc_op(ins, outs, attrs):
    x = ins.get("x")
    return pointwise(numel(x) // max(int(x[-1]), 1) + 4 * (int(attrs.get("num_thresholds", 4095) or 0) + 1), 1)


@op_formula("edit_distance", args="hyps, refs, hypslength, refslength, normalized",
            convention="3 adds per dynamic-programming cell: B x Lh x Lr for padded batches, else one sequence pair "
                       "(LoD: cross pairs counted, an upper bound); +1 per pair normalised")
def edit_distance_op(ins, outs, attrs):
    h, r = ins.get("hyps"), ins.get("refs")
    if ins.get("hypslength") is not None and len(h) == 2:
        pairs, cells = int(h[0]), int(h[0]) * int(h[1]) * int(r[1])
    else:
        pairs, cells = 1, numel(h) * numel(r)
    return pointwise(3 * cells + (pairs if attrs.get("normalized") else 0), 1)


@op_formula("viterbi_decode", args="potentials, transition_params, lengths, include_bos_eos_tag",
            convention="1 add per (sample, step, tag, previous tag): B x T x K^2 (max free)")
def viterbi_decode_op(ins, outs, attrs):
    p = ins.get("potentials")
    return pointwise(numel(p) * int(p[-1]), 1)


@op_formula("crf_decoding", args="emission, transition, label, length",
            convention="1 add per (step, tag, previous tag): T x K^2 (max free)")
def crf_decoding_op(ins, outs, attrs):
    e = ins.get("emission")
    return pointwise(numel(e) * int(e[-1]), 1)


@op_formula("beam_search", args="pre_ids, pre_scores, ids, scores, level, beam_size, end_id, is_accumulated",
            convention="not accumulated: pre_score + log(score), 2 per candidate; accumulated: 0 (selection free)")
def beam_search_op(ins, outs, attrs):
    return pointwise(0 if attrs.get("is_accumulated", True) else numel(ins.get("scores")), 2)


@op_formula("top_p_sampling", args="x, ps, threshold, topp_seed, seed, k, mode",
            convention="1 add per probability (running sum up to p; all of them: upper bound); sort free")
def top_p_sampling_op(ins, outs, attrs):
    return pointwise(numel(ins.get("x")), 1)


@op_formula("cvm", args="x, cvm, use_cvm",
            convention="use_cvm: log(show + 1), log(click + 1) - log(show + 1): 5 per row; else 0")
def cvm_op(ins, outs, attrs):
    x = ins.get("x")
    return pointwise(numel(x) // max(int(x[-1]), 1) if attrs.get("use_cvm", True) else 0, 5)


def _pool_adds(pooltype, n_in: int, n_out: int) -> int:
    kind = str(pooltype or "SUM").upper()
    if kind in ("MAX", "MIN", "FIRST", "LAST"):
        return 0
    if kind in ("AVERAGE", "MEAN", "SQRT"):
        return n_in  # n - m adds + one divide (or divide by sqrt) per result
    return max(n_in - n_out, 0)


@op_formula("segment_pool", args="x, segment_ids, pooltype",
            convention="SUM n - m, MEAN n (adds + one divide per result), MAX/MIN 0")
def segment_pool_op(ins, outs, attrs):
    return pointwise(_pool_adds(attrs.get("pooltype"), numel(ins.get("x")), numel(outs[0]) if outs else 0), 1)


@op_formula("sequence_pool", args="x, is_test, pooltype, pad_value",
            convention="SUM n - m, AVERAGE/SQRT n, MAX/FIRST/LAST 0 (n inputs, m results)")
def sequence_pool_op(ins, outs, attrs):
    return pointwise(_pool_adds(attrs.get("pooltype", "AVERAGE"), numel(ins.get("x")),
                                numel(outs[0]) if outs else 0), 1)


def _list_numel(v) -> int:
    return sum(numel(s) for s in v) if isinstance(v, list) else numel(v)


@op_formula("fusion_seqpool_concat", args="x, pooltype, axis",
            convention="1 per input element (the pooled sums; concat free)")
def fusion_seqpool_concat_op(ins, outs, attrs):
    return pointwise(_list_numel(ins.get("x")) if str(attrs.get("pooltype", "SUM")).upper() != "MAX" else 0, 1)


@op_formula("fusion_seqpool_cvm_concat", args="x, cvm, pooltype, use_cvm, axis",
            convention="1 per input element (pooled sums) + cvm's 5 per pooled row")
def fusion_seqpool_cvm_concat_op(ins, outs, attrs):
    xs = ins.get("x") or []
    xs = xs if isinstance(xs, list) else [xs]
    rows = sum(int(s[0]) for s in xs) if attrs.get("use_cvm", True) else 0
    return pointwise(_list_numel(xs) + 5 * rows, 1)


# ------------------------------------------------------------------ graphs

def _edge_features(ins, outs) -> tuple[int, int]:
    x, src = ins.get("x"), ins.get("src_index")
    feat = numel(x) // max(int(x[0]), 1) if x else 0
    return numel(src) * feat, numel(outs[0]) if outs else 0


def _reduce_cost(reduce_op, edge_feats, out) -> int:
    kind = str(reduce_op or "SUM").upper()
    if kind in ("MAX", "MIN"):
        return 0
    return edge_feats + (out if kind == "MEAN" else 0)


@op_formula("send_u_recv", args="x, src_index, dst_index, reduce_op, out_size",
            convention="SUM: 1 add per edge feature; MEAN: + 1 divide per output; MAX/MIN 0")
def send_u_recv_op(ins, outs, attrs):
    e, out = _edge_features(ins, outs)
    return pointwise(_reduce_cost(attrs.get("reduce_op"), e, out), 1)


@op_formula("send_ue_recv", args="x, y, src_index, dst_index, message_op, reduce_op, out_size",
            convention="message (add/mul) 1 per edge feature + the reduction as send_u_recv")
def send_ue_recv_op(ins, outs, attrs):
    e, out = _edge_features(ins, outs)
    return pointwise(e + _reduce_cost(attrs.get("reduce_op"), e, out), 1)


@op_formula("send_uv", args="x, y, src_index, dst_index, message_op",
            convention="1 per output element (one add / multiply per edge feature)")
def send_uv_op(ins, outs, attrs):
    return pointwise(numel(outs[0]) if outs else 0, 1)


@op_formula("embedding_grad_dense", args="x, weight, out_grad, padding_idx, sparse",
            convention="1 add per element of out_grad (rows scattered into the table gradient)")
def embedding_grad_op(ins, outs, attrs):
    return pointwise(numel(ins.get("out_grad")), 1)


op_formula("embedding_grad_add_to", args="token_indices, main_grad_, out_grad",
           convention="1 add per element of out_grad (as embedding_grad_dense)")(embedding_grad_op)


# ------------------------------------------------------------------ mixture of experts

@op_formula("moe_combine", "moe_combine_auto", args="x, combine_weights, scatter_index",
            convention="k weighted expert outputs per token: 2k - 1 per output element")
def moe_combine_op(ins, outs, attrs):
    w = ins.get("combine_weights")
    k = int(w[-1]) if w else 1
    return pointwise(numel(outs[0]) * (2 * k - 1), 1)


@op_formula("moe_combine_no_weight", args="x, combine_weight, scatter_index, epsilon",
            convention="k expert outputs summed per token: k - 1 per output element")
def moe_combine_no_weight_op(ins, outs, attrs):
    w = ins.get("combine_weight")
    k = int(w[-1]) if w else 1
    return pointwise(numel(outs[0]) * max(k - 1, 0), 1)


def _gate(ins, quant=False) -> Cost:
    logits = ins.get("gate_logits")
    per = 3 + (1 if ins.get("corr_bias") is not None else 0)
    return pointwise(numel(logits) * per + (2 * numel(ins.get("x")) if quant else 0), 1)


_GATE = "softmax over the gate logits (3 each) + 1 with corr_bias; top-k and dispatch free"


@op_formula("moe_gate_dispatch", "moe_gate_dispatch_auto", args="x, gate_logits, corr_bias, k, capacity, use_pad",
            convention=_GATE)
def moe_gate_dispatch_op(ins, outs, attrs):
    return _gate(ins)


@op_formula("moe_gate_dispatch_permute", args="x, gate_logits, corr_bias, k, capacity, world_size", convention=_GATE)
def moe_gate_dispatch_permute_op(ins, outs, attrs):
    return _gate(ins)


@op_formula("moe_gate_dispatch_and_quant", args="x, gate_logits, corr_bias, k, capacity, use_pad, use_pow2_scale",
            convention=_GATE + "; + 2 per element of x to quantise")
def moe_gate_dispatch_and_quant_op(ins, outs, attrs):
    return _gate(ins, quant=True)


@op_formula("moe_unpermute", args="hidden_states_unzipped, zipped_expertwise_rowmap, expert_routemap_topk, "
                                  "token_prob_unzipped, total_zipped_tokens_num, num_experts, use_mix_precision, "
                                  "using_weighted_combine",
            convention="per unzipped element: weighted combine 2 (multiply + add), unweighted 1")
def moe_unpermute_op(ins, outs, attrs):
    per = 2 if attrs.get("using_weighted_combine", True) else 1
    return pointwise(numel(ins.get("hidden_states_unzipped")), per)


@op_formula("cal_aux_loss", args="gate_prob, dispatch_mask, tokens_mask, dispatch_tokens_mask, num_experts, "
                                 "use_group, moe_k, clip_min",
            convention="2 per gate probability (mean over tokens, product with the dispatch fraction)")
def cal_aux_loss_op(ins, outs, attrs):
    return pointwise(numel(ins.get("gate_prob")), 2)


@op_formula("affine_grid", args="input, output_shape, align_corners",
            convention="each output coordinate is a 3-term dot product with theta: numel(out) x 3 MACs",
            contraction=True)
def affine_grid_op(ins, outs, attrs):
    theta = ins.get("input")
    return contraction(numel(outs[0]) * int(theta[-1]))
