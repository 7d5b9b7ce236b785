"""Every forward operation of ``paddle._C_ops`` (and the ``_legacy_C_ops``
names ecosystem code calls) has a formula or a zero-cost reason; the new
formulas give hand-derived figures, also when run through ``profile``."""
import math

import paddle
import paddle.nn as nn
import pytest
from paddle.vision import ops as V

import paddle_flops_ext as pfe
from paddle_flops_ext.formulas import registry

# attributes of paddle._C_ops that are not operations
NOT_OPS = {"core", "name", "legacy", "get_core_ops_args_info", "get_core_ops_args_type_info",
           "get_core_ops_returns_info"}

# the _legacy_C_ops names PaddleDetection / PaddleNLP / PaddleClas / PaddleSeg call
LEGACY_USED = ["multiclass_nms3", "multiclass_nms", "box_coder", "prior_box", "anchor_generator",
               "generate_proposals_v2", "distribute_fpn_proposals", "matrix_nms", "roi_align", "yolo_box",
               "deformable_conv", "deformable_conv_v1", "matmul_v2", "mul", "elementwise_add", "elementwise_sub",
               "elementwise_mul", "elementwise_div", "elementwise_max", "reduce_sum", "reduce_mean", "reshape2",
               "transpose2", "squeeze2", "unsqueeze2", "flatten_contiguous_range", "fill_constant", "top_k_v2",
               "arg_max", "softmax_with_cross_entropy", "bilinear_interp_v2", "nearest_interp_v2",
               "lookup_table_v2", "one_hot_v2", "lrn",
               "hard_swish", "hard_sigmoid", "yolov3_loss", "sparse_momentum"]


def _classified(name):
    return registry.lookup_op(name) is not None or registry.zero_cost_reason(name) is not None


def _forward_ops(module):
    names = [n for n in dir(module) if not n.startswith("_")]
    present = set(names)
    return [n for n in names if n not in NOT_OPS and not n.endswith("_grad")
            and not (n.endswith("_") and n[:-1] in present)]


def test_every_forward_c_op_is_classified():
    ops = _forward_ops(paddle._C_ops)
    assert len(ops) > 600
    missing = [n for n in ops if not _classified(n)]
    assert not missing, f"paddle._C_ops operations with neither a formula nor a zero-cost reason: {missing}"


def test_not_ops_are_not_operations():
    for n in NOT_OPS:
        assert not callable(getattr(paddle._C_ops, n, None)) or n.startswith("get_core_ops_")


def test_used_legacy_ops_are_classified():
    assert set(LEGACY_USED) <= set(dir(paddle._legacy_C_ops))
    missing = [n for n in LEGACY_USED if not _classified(n)]
    assert not missing, missing


def test_no_name_is_both_a_formula_and_zero_cost():
    both = set(registry.op_specs()) & set(registry.zero_cost_table())
    assert not both, both


def test_every_formula_has_a_one_line_convention():
    for name, spec in registry.op_specs().items():
        assert spec.convention and "\n" not in spec.convention, name


def cost(name, ins, outs, **attrs):
    return registry.lookup_op(name).cost(ins, outs, attrs)


def op_counts(net, inputs):
    r = pfe.profile(net, inputs=inputs)
    assert not r.to_dict()["uncounted"]
    ops = {}
    for layer in r.to_dict()["layers"]:
        for k, v in layer.get("ops", {}).items():
            ops[k] = ops.get(k, 0) + v["flops"]
    return r, ops


# ------------------------------------------------------------------ deformable convolution

def deformable_expected(n, c_in, c_out, k, ho, wo, groups=1, masked=False, bias=False):
    macs = n * c_out * ho * wo * (c_in // groups) * k * k
    samples = n * c_in * k * k * ho * wo
    per_sample = 2 + 4 + 4 + 4 + 3 + (1 if masked else 0)
    return macs, 2 * macs + samples * per_sample + (n * c_out * ho * wo if bias else 0)


def test_deformable_conv_layer_and_function():
    paddle.seed(0)

    class Net(nn.Layer):
        def __init__(self):
            super().__init__()
            self.dc = V.DeformConv2D(4, 6, 3, padding=1, groups=2)

        def forward(self, x, off, mask):
            y = V.deform_conv2d(x, off, self.dc.weight, mask=mask, padding=1, groups=2)  # v2, no bias
            return self.dc(x, off) + y                                                   # v1, bias

    x = paddle.rand([2, 4, 5, 5])
    off = paddle.zeros([2, 18, 5, 5])
    mask = paddle.ones([2, 9, 5, 5])
    r = pfe.profile(Net(), inputs=(x, off, mask))
    v1_macs, v1_flops = deformable_expected(2, 4, 6, 3, 5, 5, groups=2, bias=True)
    v2_macs, v2_flops = deformable_expected(2, 4, 6, 3, 5, 5, groups=2, masked=True)
    assert r.macs == v1_macs + v2_macs
    add = 2 * 6 * 5 * 5
    assert r.flops == v1_flops + v2_flops + add
    rows = {row["name"]: row for row in r.to_dict()["layers"]}
    assert rows["dc"]["macs"] == v1_macs and rows["dc"]["flops"] == v1_flops


# ------------------------------------------------------------------ detection

def test_detection_ops_through_profile():
    class Net(nn.Layer):
        def forward(self, x):
            boxes = paddle.to_tensor([[0., 0., 4., 4.], [1., 1., 5., 6.], [2., 2., 7., 7.]])
            num = paddle.to_tensor([3], dtype="int32")
            V.roi_align(x, boxes, num, output_size=(2, 3), sampling_ratio=2)
            V.prior_box(x, paddle.zeros([1, 3, 32, 32]), min_sizes=[4.], aspect_ratios=[1., 2.])
            V.box_coder(paddle.rand([5, 4]), [0.1, 0.1, 0.2, 0.2], paddle.rand([3, 4]),
                        code_type="encode_center_size")
            V.nms(paddle.rand([6, 4]), 0.5)
            return x

    _, ops = op_counts(Net(), [paddle.rand([1, 2, 8, 8])])
    out = 3 * 2 * 2 * 3                         # [rois, C, 2, 3]
    bins = 3 * 2 * 3
    assert ops["roi_align"] == out * (4 * (4 + 3 + 1) + 1) + bins * 4 * (4 + 4)
    assert ops["prior_box"] == 8 * 8 * 2 * 4 * 2      # H x W x priors x 4 coordinates x 2
    assert ops["box_coder"] == 3 * 5 * 4 * 6          # [targets, priors, 4] x 6
    assert ops["nms"] == (6 * 5 // 2) * 12


def test_multiclass_and_matrix_nms_worst_case():
    ins = {"bboxes": (2, 50, 4), "scores": (2, 5, 50), "rois_num": None}
    k = 30
    got = cost("multiclass_nms3", ins, [(10, 6)], nms_top_k=k, background_label=0, normalized=True)
    assert got.flops == 2 * 4 * (k * (k - 1) // 2) * 12
    got = cost("matrix_nms", {"bboxes": (2, 50, 4), "scores": (2, 5, 50)}, [(10, 6)],
               nms_top_k=-1, background_label=-1, use_gaussian=True, normalized=False)
    assert got.flops == 2 * 5 * ((50 * 49 // 2) * (16 + 5) + 50)


def test_generate_proposals_and_yolo_box():
    a, h, w = 3, 4, 5
    got = cost("generate_proposals", {"scores": (2, a, h, w), "bbox_deltas": (2, 4 * a, h, w)}, [(7, 4)],
               pre_nms_top_n=40, pixel_offset=True)
    assert got.flops == 2 * (40 * (24 + 4) + 40 * 39 // 2 * 16)
    c = 3
    got = cost("yolo_box", {"x": (1, 2 * (5 + c), 4, 4)}, [(1, 32, 4)], class_num=c)
    assert got.flops == 2 * 16 * (31 + 4 * c)


# ------------------------------------------------------------------ linear algebra / FFT

def test_linear_algebra_through_profile():
    class Net(nn.Layer):
        def forward(self, x):
            paddle.linalg.cholesky(paddle.eye(6) * 2)
            paddle.linalg.inv(paddle.eye(3).expand([2, 3, 3]))
            paddle.linalg.solve(paddle.eye(4) * 3, paddle.rand([4, 2]))
            paddle.linalg.svd(paddle.rand([5, 3]))
            paddle.linalg.det(paddle.eye(5))
            return x

    _, ops = op_counts(Net(), [paddle.rand([1])])
    assert ops["cholesky"] == 6 ** 3 // 3
    assert ops["inverse"] == 2 * (2 * 3 ** 3)
    assert ops["solve"] == round(2 * 4 ** 3 / 3 + 2 * 4 * 4 * 2)
    assert ops["svd"] == 14 * 5 * 3 * 3 + 8 * 3 ** 3
    assert ops["det"] == round(2 * 5 ** 3 / 3 + 5)


def test_fft_through_profile():
    class Net(nn.Layer):
        def forward(self, x):
            paddle.fft.fft(paddle.complex(x, x))     # c2c, 8 points, 2 rows
            paddle.fft.rfft(x, norm="ortho")         # r2c, scaled outputs
            paddle.fft.ifft(paddle.complex(x, x))    # inverse: 'backward' norm divides
            return x

    _, ops = op_counts(Net(), [paddle.rand([2, 8])])
    n = 8
    assert ops["fft_c2c"] == 2 * (2 * 5 * n * math.log2(n)) + 2 * n
    assert ops["fft_r2c"] == 2 * 2.5 * n * math.log2(n) + 2 * (n // 2 + 1)


# ------------------------------------------------------------------ optimizers, quantisation, fused

def test_optimizer_steps_per_element():
    p = (10, 3)
    assert cost("sgd_", {"param": p}, []).flops == 2 * 30
    assert cost("adam_", {"param": p}, []).flops == (3 + 4 + 5) * 30
    assert cost("adamw_", {"param": p}, []).flops == (3 + 4 + 5 + 1) * 30
    assert cost("momentum_", {"param": p}, [], use_nesterov=True, regularization_method="l2_decay").flops == \
        (4 + 1 + 2) * 30
    assert cost("merged_adam_", {"param": [p, (7,)]}, []).flops == 12 * 37
    assert cost("fused_adam_", {"params": [p, (7,)]}, [], use_adamw=True).flops == 13 * 37


def test_quantised_linears():
    got = cost("weight_only_linear", {"x": (2, 5, 64), "weight": (32, 64), "bias": (32,)}, [(2, 5, 32)])
    macs = 2 * 5 * 32 * 64
    assert (got.macs, got.flops) == (macs, 2 * macs + 2 * 5 * 32 + 32 * 64)
    assert cost("quantize_linear", {"x": (4, 8)}, [(4, 8)]).flops == 4 * 32
    assert cost("dequantize_linear", {"x": (4, 8)}, [(4, 8)]).flops == 3 * 32
    assert cost("fake_quantize_dequantize_abs_max", {"x": (4, 8)}, [(4, 8)]).flops == 6 * 32


def test_fused_kernels():
    # fused_bias_act swiglu: [T, 2H] -> [T, H]: silu 4 + multiply per output, bias on the input
    got = cost("fused_bias_act", {"x": (6, 16), "bias": (16,)}, [(6, 8)], act_method="swiglu")
    assert got.flops == 6 * 8 * 5 + 6 * 16
    # batched_gemm: grouped rows [10, 12] x experts [E, 12, 7]
    got = cost("batched_gemm", {"lhs": (10, 12), "rhs": (3, 12, 7)}, [(10, 7)])
    assert got.macs == 10 * 7 * 12
    # block_multihead_attention: 5 tokens, 4 query heads, 2 kv heads, D = 8, 3 blocks of 16 per sequence
    got = cost("block_multihead_attention", {"qkv": (5, (4 + 2 * 2) * 8), "key_cache": (9, 2, 16, 8),
                                             "block_tables": (2, 3), "rope_emb": None}, [(5, 32)])
    entries = 4 * 5 * 48
    assert got.macs == entries * 16 and got.flops == 2 * got.macs + 4 * entries


def test_legacy_adapters_read_legacy_attributes():
    got = cost("matmul_v2", {"x": (3, 4), "y": (5, 4)}, [(3, 5)], trans_y=True)
    assert got.macs == 3 * 5 * 4
    got = cost("mul", {"x": (2, 3, 4), "y": (12, 7)}, [(2, 7)], x_num_col_dims=1, y_num_col_dims=1)
    assert got.macs == 2 * 12 * 7
    got = cost("generate_proposals_v2", {"scores": (1, 2, 3, 3)}, [], pre_nms_topN=10, pixel_offset=False)
    assert got.flops == 10 * 28 + 45 * 12
    assert cost("elementwise_add", {"x": (2, 3), "y": (3,)}, [(2, 3)], axis=-1).flops == 6
