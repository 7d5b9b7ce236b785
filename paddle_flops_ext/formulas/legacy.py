"""``paddle._legacy_C_ops`` names whose arguments differ from the modern op.

A legacy call passes its tensors positionally (in the old operator's input
order, bound to ``args`` here) and its attributes as name/value pairs
(``op(x, y, 'trans_x', False, 'trans_y', True)``, given to the formula as
``attrs``). Each entry is a thin adapter over the modern op's cost function,
so the convention is the modern one. Legacy names equal to a modern name with
the same argument order (``multiclass_nms3``, ``box_coder``, ``prior_box``,
``anchor_generator``, ``distribute_fpn_proposals``, ``matrix_nms``,
``roi_align``, ``yolo_box``, ``deformable_conv``, ``fused_attention``,
``fused_feedforward``, ...) use the modern formula directly.
"""
from __future__ import annotations

from .activation import activation_cost
from .contraction import bilinear_op, matmul_macs
from .detection import generate_proposals_op, multiclass_nms_op, yolo_loss_op
from .elementwise import cross_entropy_with_softmax_op, mean_op, sum_op
from .fused import flatten_matmul_macs
from .linalg import det_op
from .misc import hsigmoid_loss_op
from .normalization import local_response_norm_op
from .optimizer import PER_ELEMENT as OPTIMIZER_PER_ELEMENT
from .elementwise import per_element_op
from .registry import contraction, lookup_op, numel, op_formula, pointwise, zero_cost_ops


@op_formula("matmul_v2", args="x, y", convention="numel(out) x K MACs (attrs trans_x / trans_y)", contraction=True)
def matmul_v2_op(ins, outs, attrs):
    return contraction(matmul_macs(ins.get("x"), ins.get("y"), outs[0], bool(attrs.get("trans_x")),
                                   bool(attrs.get("trans_y"))))


@op_formula("mul", args="x, y", convention="rows(x) x K x cols(y) MACs, K = prod(y.shape[:y_num_col_dims])",
            contraction=True)
def mul_op(ins, outs, attrs):
    return contraction(flatten_matmul_macs(ins.get("x"), ins.get("y"), attrs.get("y_num_col_dims", 1)))


per_element_op("elementwise_add", "elementwise_sub", "elementwise_mul", "elementwise_div", "elementwise_floordiv",
               "elementwise_mod", "grad_add", args="x, y",
               convention="1 per output element (as add / subtract / multiply / divide)", per_element=1)
op_formula("reduce_sum", "reduce_prod", args="x", convention="n - m for n elements reduced into m results")(sum_op)
op_formula("reduce_mean", args="x", convention="n: n - m adds + one divide per result")(mean_op)
op_formula("determinant", "slogdeterminant", args="x", convention="as det: LU (2n^3/3) + n")(det_op)
op_formula("bilinear_tensor_product", args="x, y, weight, bias",
           convention="as bilinear: batch x out x (in1 x in2 + in1) MACs + bias", contraction=True)(bilinear_op)
op_formula("softmax_with_cross_entropy", args="input, label",
           convention="as cross_entropy_with_softmax")(cross_entropy_with_softmax_op)
op_formula("generate_proposals_v2", args="scores, bbox_deltas, im_shape, anchors, variances",
           convention="as generate_proposals (attr pre_nms_topN)")(generate_proposals_op)
op_formula("multiclass_nms", args="bboxes, scores", convention="as multiclass_nms3 (worst case)")(multiclass_nms_op)
op_formula("yolov3_loss", args="x, gt_box, gt_label, gt_score", convention="as yolo_loss")(yolo_loss_op)
op_formula("hierarchical_sigmoid", args="x, w, label, path, code, bias",
           convention="as hsigmoid_loss", contraction=True)(hsigmoid_loss_op)


@op_formula("lrn", args="x", convention="as local_response_norm ((size + 5) per element; attr n is the size)")
def lrn_op(ins, outs, attrs):
    return local_response_norm_op(ins, outs, {**attrs, "size": attrs.get("n", 5)})


def _activation(name):
    def fn(ins, outs, attrs):
        return activation_cost(name, numel(ins.get("x")))
    return fn


op_formula("hard_sigmoid", args="x", convention="as hardsigmoid: 2 per element")(_activation("hardsigmoid"))
op_formula("hard_swish", args="x", convention="as hardswish: 3 per element")(_activation("hardswish"))


def _interp(method):
    def fn(ins, outs, attrs):
        spec = lookup_op(method + "_interp")
        return spec.fn(ins, outs, {**attrs, "data_format": attrs.get("data_layout", "NCHW")})
    return fn


for _m in ("linear", "bilinear", "trilinear", "bicubic"):
    op_formula(f"{_m}_interp_v2", args="x, out_size, size_tensor, scale_tensor",
               convention=f"as {_m}_interp (attr data_layout)")(_interp(_m))


@op_formula("sparse_momentum", args="param, grad, velocity, index, learning_rate",
            convention="as momentum: 4 per parameter element")
def sparse_momentum_op(ins, outs, attrs):
    return pointwise(numel(ins.get("param")), OPTIMIZER_PER_ELEMENT["momentum"])


zero_cost_ops([
    "reshape2", "transpose2", "squeeze2", "unsqueeze2", "flatten2", "flatten_contiguous_range", "expand_v2",
    "expand_as_v2", "crop_tensor", "diag_v2", "one_hot_v2", "lookup_table", "tril_triu", "share_buffer",
    "transfer_layout", "lod_reset", "fill_constant", "fill_any_like", "fill_any", "fill_constant_batch_size_like",
    "gaussian_random", "uniform_random", "uniform_random_inplace", "range", "seed", "size",
    "top_k", "top_k_v2", "arg_max", "arg_min", "where_index", "isfinite_v2", "isinf_v2", "isnan_v2",
    "elementwise_max", "elementwise_min", "elementwise_fmax", "elementwise_fmin", "elementwise_heaviside",
    "reduce_max", "reduce_min", "reduce_amax", "reduce_amin", "reduce_all", "reduce_any", "max_pool2d_v2",
    "nearest_interp_v2", "hard_shrink", "brelu", "assert", "load", "load_combine", "save", "save_combine",
    "fetch_v2", "fetch_barrier", "c_sync_calc_stream", "c_sync_comm_stream", "comm_init_all", "p_send", "p_recv",
    "p_send_array", "p_recv_array", "partial_send", "partial_recv", "dist_concat",
], "legacy names of data-movement, creation, comparison, selection, I/O and communication ops")
