"""Normalisation, activation, pooling, resize, distance and structural layers
against counts derived in this file.

Expected figures are written here from the conventions (one FLOP per
arithmetic step or transcendental function; comparisons and data movement
free), never taken from the library. Where Paddle itself can tell the truth
(adaptive-pool windows, Fold overlaps) the test measures it with Paddle.
"""
import inspect
import math

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import paddle_flops_ext as pfe
from paddle_hooks import paddle_view
from paddle_flops_ext.formulas import registry
from formula_helpers import through_ops

HYP = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def prod(xs):
    return int(math.prod(int(x) for x in xs))


def run(layer, *shapes, inputs=None):
    """Profile ``nn.Sequential(layer)`` (or ``layer`` with real inputs)."""
    if inputs is not None:
        return pfe.profile(layer, inputs=inputs)
    return pfe.profile(nn.Sequential(layer), input_size=list(shapes[0]) if len(shapes) == 1 else
                       [list(s) for s in shapes])


def figures(r):
    return r.macs, r.flops, r.paddle_flops


def counts(r):
    """(macs, flops, paddle figure): see tests/paddle_hooks.py's paddle_view."""
    return r.macs, r.flops, paddle_view(r)


# ============================================================== normalisation
# statistics norms: 1 (mean) + 3 (variance) + 2 (normalise) per element,
# 4 per normalised group, +1 per element per affine parameter present.

def stats_norm(n, groups, affine):
    return n * (6 + affine) + 4 * groups


@pytest.mark.parametrize("cls,shape,fmt", [
    (nn.BatchNorm1D, (3, 4), "NCL"),
    (nn.BatchNorm1D, (3, 4, 5), "NCL"),
    (nn.BatchNorm1D, (3, 5, 4), "NLC"),
    (nn.BatchNorm2D, (2, 4, 3, 5), "NCHW"),
    (nn.BatchNorm2D, (2, 3, 5, 4), "NHWC"),
    (nn.BatchNorm3D, (2, 4, 2, 3, 2), "NCDHW"),
    (nn.BatchNorm3D, (2, 2, 3, 2, 4), "NDHWC"),
])
def test_batch_norm_eval_is_two_per_element(cls, shape, fmt):
    r = run(cls(4, data_format=fmt), shape)
    assert counts(r) == (0, 2 * prod(shape), 2 * prod(shape))


def test_legacy_batch_norm_and_sync_batch_norm():
    shape = (2, 4, 3, 3)
    assert counts(run(nn.BatchNorm(4), shape)) == (0, 2 * prod(shape), 2 * prod(shape))
    # SyncBatchNorm has no CPU kernel: evaluate its registered formula on a real layer.
    layer = nn.SyncBatchNorm(4)
    layer.eval()
    cost = registry.lookup_layer(nn.SyncBatchNorm).fn(layer, [shape], [shape])
    assert (cost.macs, cost.flops, cost.paddle_flops) == (0, 2 * prod(shape), 2 * prod(shape))


def test_batch_norm_with_batch_statistics_in_eval():
    # use_global_stats=False: batch statistics even in eval (per channel groups).
    shape = (2, 4, 3, 3)
    r = run(nn.BatchNorm2D(4, use_global_stats=False), shape)
    assert r.flops == stats_norm(prod(shape), 4, 2)
    assert r.paddle_flops == 2 * prod(shape)  # paddle.flops' BatchNorm figure


@pytest.mark.parametrize("shape,norm_shape,affine", [
    ((2, 5, 8), [8], 2),
    ((2, 5, 8), 8, 2),
    ((2, 3, 4, 6), [4, 6], 2),
    ((2, 3, 4, 6), [3, 4, 6], 2),
    ((4, 7), [7], 0),
    ((2, 5, 8), [8], 1),
])
def test_layer_norm(shape, norm_shape, affine):
    kw = {}
    if affine == 0:
        kw = dict(weight_attr=False, bias_attr=False)
    elif affine == 1:
        kw = dict(bias_attr=False)
    k = len(norm_shape) if isinstance(norm_shape, list) else 1
    rows = prod(shape[:len(shape) - k])
    r = run(nn.LayerNorm(norm_shape, **kw), shape)
    expected = stats_norm(prod(shape), rows, affine)
    assert counts(r) == (0, expected, expected)


@pytest.mark.parametrize("shape,groups,fmt", [
    ((2, 6, 4, 4), 3, "NCHW"),
    ((2, 4, 4, 6), 2, "NHWC"),
    ((3, 4, 5), 4, "NCL"),
    ((2, 4, 2, 3, 2), 1, "NCDHW"),
])
def test_group_norm(shape, groups, fmt):
    channels = shape[-1] if fmt.endswith("C") else shape[1]
    r = run(nn.GroupNorm(groups, channels, data_format=fmt), shape)
    expected = stats_norm(prod(shape), shape[0] * groups, 2)
    assert counts(r) == (0, expected, expected)


@pytest.mark.parametrize("cls,shape", [
    (nn.InstanceNorm1D, (2, 3, 7)),
    (nn.InstanceNorm2D, (2, 3, 4, 5)),
    (nn.InstanceNorm3D, (2, 3, 2, 3, 4)),
])
@pytest.mark.parametrize("affine", [True, False])
def test_instance_norm(cls, shape, affine):
    kw = {} if affine else dict(weight_attr=False, bias_attr=False)
    r = run(cls(shape[1], **kw), shape)
    expected = stats_norm(prod(shape), shape[0] * shape[1], 2 if affine else 0)
    assert counts(r) == (0, expected, expected)


@pytest.mark.parametrize("size", [1, 3, 5])
def test_local_response_norm(size):
    shape = (2, 6, 3, 4)
    # x^2, window average (size), k + alpha*avg (2), pow (1), divide (1)
    expected = prod(shape) * (1 + size + 2 + 1 + 1)
    assert counts(run(nn.LocalResponseNorm(size), shape)) == (0, expected, expected)


@pytest.mark.parametrize("wshape,dim,iters", [((4, 6), 0, 1), ((4, 6), 1, 2), ((3, 2, 5), 1, 3)])
def test_spectral_norm(wshape, dim, iters):
    h = wshape[dim]
    w = prod(wshape) // h
    macs = iters * (h * w + w * h) + h * w + h         # W^T u, W v per round; W v and u.(Wv) for sigma
    # each round normalises v (w values) and u (h values): square, accumulate and
    # divide per value, one sqrt and one eps add per vector; then W / sigma
    other = iters * ((3 * w + 2) + (3 * h + 2)) + h * w
    r = run(nn.SpectralNorm(list(wshape), dim=dim, power_iters=iters), wshape)
    assert r.macs == macs
    assert r.flops == 2 * macs + other
    assert r.paddle_flops == 0   # paddle.flops does not hook SpectralNorm


# ================================================================ activations

ACT_PER_ELEMENT = [
    (nn.ReLU, {}, 0), (nn.ReLU6, {}, 0), (nn.Hardtanh, {}, 0), (nn.Hardshrink, {}, 0),
    (nn.ThresholdedReLU, {}, 0),
    (nn.LeakyReLU, {}, 1), (nn.PReLU, {}, 1), (nn.RReLU, {}, 1), (nn.Softshrink, {}, 1),
    (nn.Tanh, {}, 1), (nn.Tanhshrink, {}, 2), (nn.Hardsigmoid, {}, 2), (nn.Hardswish, {}, 3),
    (nn.ELU, {}, 3), (nn.Sigmoid, {}, 3), (nn.Softsign, {}, 3),
    (nn.SELU, {}, 4), (nn.CELU, {}, 4), (nn.LogSigmoid, {}, 4), (nn.Silu, {}, 4), (nn.SiLU, {}, 4),
    (nn.Swish, {}, 4), (nn.Mish, {}, 5), (nn.Softplus, {}, 5), (nn.Softplus, {"beta": 2.0}, 5),
    (nn.GELU, {}, 5), (nn.GELU, {"approximate": True}, 9),
]


@pytest.mark.parametrize("cls,kw,per", ACT_PER_ELEMENT, ids=lambda v: getattr(v, "__name__", None))
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (7, 3)])
def test_activation_per_element(cls, kw, per, shape):
    r = run(cls(**kw), shape)
    assert counts(r) == (0, per * prod(shape), per * prod(shape))


def test_prelu_channels_and_nhwc():
    shape = (2, 3, 4, 5)
    assert run(nn.PReLU(3), shape).flops == prod(shape)
    assert run(nn.PReLU(5, data_format="NHWC"), shape).flops == prod(shape)


@pytest.mark.parametrize("groups,axis", [(2, 1), (3, -1)])
def test_maxout_is_free(groups, axis):
    shape = (2, 6, 3, 6)
    assert counts(run(nn.Maxout(groups, axis=axis), shape)) == (0, 0, 0)


@pytest.mark.parametrize("axis,shape", [(-1, (2, 3, 8)), (1, (2, 4, 3)), (0, (6, 5))])
def test_glu_four_per_output(axis, shape):
    out = prod(shape) // 2
    assert counts(run(nn.GLU(axis=axis), shape)) == (0, 4 * out, 4 * out)


# ==================================================================== pooling

def pool_len(n, k, s, p, ceil=False):
    span = n + 2 * p - k
    return (-(-span // s) if ceil else span // s) + 1


def adaptive_windows(length, out):
    """Paddle's adaptive window [floor(i L / O), ceil((i+1) L / O)) lengths."""
    return [math.ceil((i + 1) * length / out) - math.floor(i * length / out) for i in range(out)]


def adaptive_window_total(in_sizes, out_sizes):
    per_axis = [adaptive_windows(i, o) for i, o in zip(in_sizes, out_sizes)]
    total = 0
    for combo in np.ndindex(*[len(w) for w in per_axis]):
        total += prod(per_axis[a][c] for a, c in enumerate(combo))
    return total


@pytest.mark.parametrize("length,out", [(7, 3), (5, 4), (8, 3), (6, 6), (3, 5), (10, 1)])
def test_adaptive_window_rule_matches_paddle(length, out):
    # one-hot inputs: the output i is non-zero exactly for inputs inside window i
    eye = paddle.eye(length).reshape([length, 1, length])
    y = F.adaptive_avg_pool1d(eye, out).numpy()[:, 0, :]   # [input j, output i]
    measured = [(y[:, i] > 0).sum() for i in range(out)]
    assert measured == adaptive_windows(length, out)


POOL_CASES = [
    (nn.AvgPool1D, (2, 3, 9), dict(kernel_size=3), "NCL"),
    (nn.AvgPool1D, (2, 3, 9), dict(kernel_size=2, stride=1, padding=1), "NCL"),
    (nn.AvgPool2D, (2, 3, 7, 6), dict(kernel_size=3, stride=2, padding=1), "NCHW"),
    (nn.AvgPool2D, (2, 7, 6, 3), dict(kernel_size=(2, 3), stride=(2, 1), data_format="NHWC"), "NHWC"),
    (nn.AvgPool2D, (1, 2, 7, 7), dict(kernel_size=2, ceil_mode=True, exclusive=False), "NCHW"),
    (nn.AvgPool3D, (1, 2, 4, 5, 6), dict(kernel_size=2), "NCDHW"),
    (nn.AvgPool3D, (1, 4, 5, 6, 2), dict(kernel_size=(1, 2, 3), data_format="NDHWC"), "NDHWC"),
]


@pytest.mark.parametrize("cls,shape,kw,fmt", POOL_CASES)
def test_avg_pool(cls, shape, kw, fmt):
    r = run(cls(**kw), shape)
    out = r.root.children[0].output_shape[0]
    nd = len(shape) - 2
    k = kw["kernel_size"]
    k = (k,) * nd if isinstance(k, int) else tuple(k)
    # the output shape itself, from the textbook formula
    s = kw.get("stride", k)
    s = (s,) * nd if isinstance(s, int) else tuple(s)
    p = kw.get("padding", 0)
    sp_in = shape[1:-1] if fmt.endswith("C") else shape[2:]
    sp_out = tuple(pool_len(n, kk, ss, p, kw.get("ceil_mode", False)) for n, kk, ss in zip(sp_in, k, s))
    assert tuple(out[1:-1] if fmt.endswith("C") else out[2:]) == sp_out
    n_out = prod(out)
    assert counts(r) == (0, prod(k) * n_out, n_out)


@given(nd=st.integers(1, 3), size=st.integers(3, 6), k=st.integers(1, 3), s=st.integers(1, 3),
       last=st.booleans())
@HYP
def test_avg_pool_hypothesis(nd, size, k, s, last):
    cls = {1: nn.AvgPool1D, 2: nn.AvgPool2D, 3: nn.AvgPool3D}[nd]
    kw = dict(kernel_size=k, stride=s)
    spatial = tuple(size + i for i in range(nd))   # every axis >= kernel
    if nd > 1 and last:
        kw["data_format"] = {2: "NHWC", 3: "NDHWC"}[nd]
        shape = (1,) + spatial + (2,)
    else:
        shape = (1, 2) + spatial
    n_out = 2 * prod(pool_len(n, k, s, 0) for n in spatial)
    assert counts(run(cls(**kw), shape)) == (0, k ** nd * n_out, n_out)


ADAPTIVE_CASES = [
    (nn.AdaptiveAvgPool1D, (2, 3, 7), 3, None),
    (nn.AdaptiveAvgPool1D, (2, 3, 8), 8, None),
    (nn.AdaptiveAvgPool2D, (2, 3, 7, 5), (3, 4), "NCHW"),
    (nn.AdaptiveAvgPool2D, (2, 7, 5, 3), (3, 2), "NHWC"),
    (nn.AdaptiveAvgPool2D, (1, 2, 6, 6), 1, "NCHW"),
    (nn.AdaptiveAvgPool3D, (1, 2, 5, 4, 7), (2, 3, 3), "NCDHW"),
    (nn.AdaptiveAvgPool3D, (1, 5, 4, 7, 2), (4, 3, 2), "NDHWC"),
]


@pytest.mark.parametrize("cls,shape,out,fmt", ADAPTIVE_CASES)
def test_adaptive_avg_pool_non_divisible(cls, shape, out, fmt):
    kw = {} if fmt is None else {"data_format": fmt}
    nd = len(shape) - 2
    out_sizes = (out,) * nd if isinstance(out, int) else tuple(out)
    last = fmt is not None and fmt.endswith("C")
    sp_in = shape[1:-1] if last else shape[2:]
    planes = shape[0] * (shape[-1] if last else shape[1])
    flops = planes * adaptive_window_total(sp_in, out_sizes)
    n_out = planes * prod(out_sizes)
    paddle_fig = n_out * (prod(i // o for i, o in zip(sp_in, out_sizes)) + 1)
    assert counts(run(cls(out, **kw), shape)) == (0, flops, paddle_fig)


@given(length=st.integers(1, 9), out=st.integers(1, 9), width=st.integers(1, 6), out_w=st.integers(1, 6))
@HYP
def test_adaptive_avg_pool2d_hypothesis(length, out, width, out_w):
    shape = (1, 2, length, width)
    flops = 2 * adaptive_window_total((length, width), (out, out_w))
    assert run(nn.AdaptiveAvgPool2D((out, out_w)), shape).flops == flops


@pytest.mark.parametrize("layer,shape", [
    (nn.MaxPool1D(2), (2, 3, 8)), (nn.MaxPool2D(3, 2, 1), (2, 3, 7, 7)),
    (nn.MaxPool2D(2, data_format="NHWC"), (2, 6, 6, 3)), (nn.MaxPool3D(2), (1, 2, 4, 4, 4)),
    (nn.MaxPool2D(2, return_mask=True), (1, 2, 4, 4)),
    (nn.AdaptiveMaxPool1D(3), (2, 3, 7)), (nn.AdaptiveMaxPool2D((3, 2)), (2, 3, 7, 5)),
    (nn.AdaptiveMaxPool3D(2), (1, 2, 5, 4, 3)),
    (nn.FractionalMaxPool2D(3), (1, 2, 7, 7)), (nn.FractionalMaxPool3D(2), (1, 2, 5, 5, 5)),
])
def test_max_pools_are_free(layer, shape):
    assert counts(run(layer, shape)) == (0, 0, 0)


def test_max_unpool_is_free():
    x = paddle.randn([1, 2, 4, 4])
    y, idx = F.max_pool2d(x, 2, return_mask=True)
    assert counts(pfe.profile(nn.MaxUnPool2D(2), inputs=(y, idx))) == (0, 0, 0)


@pytest.mark.parametrize("cls,shape,kw", [
    (nn.LPPool1D, (2, 3, 9), dict(norm_type=2, kernel_size=3)),
    (nn.LPPool1D, (2, 9, 3), dict(norm_type=3, kernel_size=2, stride=1, data_format="NLC")),
    (nn.LPPool2D, (2, 3, 6, 7), dict(norm_type=2, kernel_size=(2, 3))),
    (nn.LPPool2D, (2, 6, 6, 3), dict(norm_type=1.5, kernel_size=2, stride=1, data_format="NHWC")),
])
def test_lp_pool(cls, shape, kw):
    r = run(cls(**kw), shape)
    out = r.root.children[0].output_shape[0]
    k = kw["kernel_size"]
    kk = k ** (len(shape) - 2) if isinstance(k, int) else prod(k)
    # x^p and an add per window element, one root per output: 2 x window
    expected = 2 * kk * prod(out)
    assert counts(r) == (0, expected, expected)


# ===================================================================== resize

# nested lerps: linear 3, bilinear 3*3, trilinear 3*7; bicubic 5 four-tap sums
PER_OUTPUT = {"nearest": 0, "linear": 3, "bilinear": 9, "trilinear": 21, "bicubic": 35}


@pytest.mark.parametrize("shape,kw", [
    ((2, 3, 4, 5), dict(scale_factor=2)),
    ((2, 3, 4, 5), dict(scale_factor=2, mode="bilinear")),
    ((2, 3, 4, 5), dict(size=[7, 3], mode="bilinear", align_corners=True)),
    ((2, 4, 5, 3), dict(scale_factor=1.5, mode="bilinear", data_format="NHWC")),
    ((2, 3, 4, 5), dict(scale_factor=(2, 3), mode="bicubic")),
    ((2, 3, 6), dict(scale_factor=2.5, mode="linear", data_format="NCW")),
    ((2, 6, 3), dict(size=[4], mode="linear", data_format="NWC")),
    ((1, 2, 3, 4, 2), dict(scale_factor=2, mode="trilinear")),
    ((1, 2, 3, 4, 2), dict(scale_factor=2, mode="nearest")),
])
def test_upsample_modes(shape, kw):
    r = run(nn.Upsample(**kw), shape)
    out = r.root.children[0].output_shape[0]
    expected = PER_OUTPUT[kw.get("mode", "nearest")] * prod(out)
    assert counts(r) == (0, expected, expected)


def test_upsample_area_is_adaptive_average():
    shape = (2, 3, 7, 5)
    r = run(nn.Upsample(size=[3, 4], mode="area"), shape)
    expected = 6 * adaptive_window_total((7, 5), (3, 4))
    assert r.flops == expected


@pytest.mark.parametrize("cls,per", [(nn.UpsamplingNearest2D, 0), (nn.UpsamplingBilinear2D, 9)])
@pytest.mark.parametrize("kw", [dict(scale_factor=2), dict(size=[5, 7])])
def test_upsampling_2d(cls, per, kw):
    r = run(cls(**kw), (2, 3, 4, 4))
    out = r.root.children[0].output_shape[0]
    assert counts(r) == (0, per * prod(out), per * prod(out))


def test_antialias_interpolate_widens_the_filter():
    class Down(nn.Layer):
        def forward(self, x):
            return F.interpolate(x, size=[3, 4], mode="bilinear", antialias=True)

    r = pfe.profile(Down(), input_size=[1, 2, 9, 8])
    # separable passes, taps ceil(2 * in/out): W 8->4 with 4 taps into a 9x4
    # intermediate, then H 9->3 with 6 taps into 3x4; 2t - 1 per element written
    assert r.flops == 2 * (9 * 4 * 7 + 3 * 4 * 11)


@pytest.mark.parametrize("mode,per", [("bilinear", 9), ("nearest", 0)])
@pytest.mark.parametrize("x_shape,grid_shape", [((2, 3, 5, 6), (2, 4, 7, 2)), ((1, 2, 3, 4, 5), (1, 2, 3, 4, 3))])
def test_grid_sample(mode, per, x_shape, grid_shape):
    # 5-D input: trilinear, 3 * (2^3 - 1) per output
    per = per if len(x_shape) == 4 or per == 0 else 21
    x = paddle.randn(x_shape)
    grid = paddle.rand(grid_shape) * 2 - 1
    r = pfe.profile(functional(lambda a, g: F.grid_sample(a, g, mode=mode)), inputs=(x, grid))
    n_out = x_shape[0] * x_shape[1] * prod(grid_shape[1:-1])
    assert (r.macs, r.flops) == (0, per * n_out)


def test_rms_norm_op_formula():
    # no CPU kernel for rms_norm: evaluate the registered op formula on shapes
    spec = registry.lookup_op("pd_op.rms_norm")
    x = (2, 3, 8)
    # square, accumulate, scale per element (+1 for the weight); divide, + eps, rsqrt per row
    with_weight = spec.cost({"x": x, "scale": (8,)}, [x], {"normalized_shape": [8]})
    assert with_weight.flops == 48 * (3 + 1) + 6 * 3
    no_weight = spec.cost({"x": x, "scale": None}, [x], {"normalized_shape": [3, 8]})
    assert no_weight.flops == 48 * 3 + 2 * 3


@pytest.mark.parametrize("layer,shape", [
    (nn.PixelShuffle(2), (1, 8, 3, 3)), (nn.PixelUnshuffle(2), (1, 2, 4, 4)),
    (nn.ChannelShuffle(2), (1, 4, 3, 3)),
])
def test_shuffles_are_free(layer, shape):
    assert counts(run(layer, shape)) == (0, 0, 0)


# ========================================================= structural / misc

@pytest.mark.parametrize("layer,shape", [
    (nn.Flatten(), (2, 3, 4)), (nn.Unflatten(1, [2, 2]), (2, 4, 3)), (nn.Identity(), (2, 3)),
    (nn.Dropout(0.5), (2, 3)), (nn.Dropout2D(), (2, 3, 4, 4)), (nn.Dropout3D(), (1, 2, 3, 3, 3)),
    (nn.AlphaDropout(0.5), (2, 3)), (nn.FeatureAlphaDropout(0.5), (2, 3, 4)),
    (nn.Pad1D(1), (1, 2, 5)), (nn.Pad2D(1, mode="reflect"), (1, 2, 4, 4)), (nn.Pad3D(1), (1, 2, 3, 3, 3)),
    (nn.ZeroPad1D(2), (1, 2, 5)), (nn.ZeroPad2D(1), (1, 2, 4, 4)), (nn.ZeroPad3D(1), (1, 2, 3, 3, 3)),
    (nn.ConstantPad2D(1, 0.5), (1, 2, 4, 4)), (nn.ReflectionPad1D(1), (1, 2, 5)),
    (nn.ReplicationPad2D(1), (1, 2, 4, 4)), (nn.CircularPad3D(1), (1, 2, 3, 3, 3)),
    (nn.Unfold(2), (1, 2, 4, 4)),
])
def test_data_movement_layers_are_free(layer, shape):
    assert counts(run(layer, shape)) == (0, 0, 0)


def test_embedding_is_a_lookup():
    ids = paddle.to_tensor([[1, 2, 3], [0, 4, 2]])
    assert counts(pfe.profile(nn.Embedding(5, 8), inputs=(ids,))) == (0, 0, 0)


@pytest.mark.parametrize("out,k,s,p,d", [
    ((4, 4), 2, 1, 0, 1), ((4, 4), 2, 2, 0, 1), ((5, 6), (2, 3), (1, 2), 0, 1),
    ((5, 5), 3, 1, 1, 1), ((6, 6), 2, 1, 0, 2), ((4, 5), 3, 2, [1, 0], 1),
])
def test_fold_counts_overlap_adds(out, k, s, p, d):
    kk = (k, k) if isinstance(k, int) else k
    layer = nn.Fold(list(out), k, strides=s, paddings=p, dilations=d)
    c = 3
    # blocks from a matching Unfold
    blocks = F.unfold(paddle.zeros([1, c, *out]), k, strides=s, paddings=p, dilations=d).shape[-1]
    cols = paddle.ones([2, c * kk[0] * kk[1], blocks])
    hits = layer(cols).numpy()                 # each output = number of contributions
    adds = int(hits.sum() - (hits > 0).sum())  # every contribution after the first is an add
    r = pfe.profile(layer, inputs=(cols,))
    assert counts(r) == (0, adds, adds)


@pytest.mark.parametrize("s1,s2,axis", [((2, 5, 3), (2, 5, 3), 1), ((2, 5, 3), (2, 5, 3), -1),
                                        ((4, 6), (1, 6), 1), ((3, 4, 5), (3, 1, 5), 2)])
def test_cosine_similarity(s1, s2, axis):
    b = np.broadcast_shapes(s1, s2)
    ax = axis % len(b)

    def part(shape):
        i = ax - (len(b) - len(shape))
        k = shape[i] if i >= 0 else 1
        return prod(shape) + prod(shape) - prod(shape) // k   # products, then K-1 adds per row

    m = prod(b) // b[ax]
    expected = part(b) + part(s1) + part(s2) + 3 * m
    r = pfe.profile(nn.CosineSimilarity(axis=axis), inputs=(paddle.randn(s1), paddle.randn(s2)))
    assert counts(r) == (0, expected, expected)
    if s1 == s2:
        assert expected == 6 * prod(s1)


@pytest.mark.parametrize("p,per", [(2.0, 2), (1.0, 2), (3.0, 2), (float("inf"), 1), (0.0, 1)])
def test_pairwise_distance(p, per):
    shape = (3, 4, 6)
    n = prod(shape)
    expected = 2 * n + per * n   # x - y + eps, then the p_norm op's convention
    r = pfe.profile(nn.PairwiseDistance(p=p), inputs=(paddle.randn(shape), paddle.randn(shape)))
    assert counts(r) == (0, expected, expected)


# ============================================ op-level formulas (PIR names etc.)

def test_op_names_resolve_like_pir():
    for name in ("pd_op.batch_norm_", "pd_op.layer_norm", "pd_op.group_norm", "pd_op.instance_norm",
                 "pd_op.pool2d", "pd_op.pool3d", "pd_op.lp_pool2d", "pd_op.gelu", "pd_op.silu", "pd_op.sigmoid",
                 "pd_op.bilinear_interp", "pd_op.rnn", "sigmoid_", "pd_op.hardswish", "pd_op.spectral_norm"):
        assert registry.lookup_op(name) is not None, name
    for name in ("pd_op.relu", "relu_", "pd_op.max_pool2d_with_index", "pd_op.nearest_interp",
                 "pd_op.pixel_shuffle", "pd_op.embedding"):
        assert registry.lookup_op(name) is None and registry.zero_cost_reason(name), name


def test_pool_op_without_kernel_attribute_infers_it():
    # a PIR pool2d carries kernel_size as a tensor input: only its shape is known
    spec = registry.lookup_op("pd_op.pool2d")
    cost = spec.cost({"x": (2, 4, 6, 6), "kernel_size": (2,)}, [(2, 4, 3, 3)],
                     {"strides": [2, 2], "paddings": [0, 0], "pooling_type": "avg", "data_format": "NCHW",
                      "global_pooling": False, "adaptive": False})
    assert cost.flops == 4 * 2 * 4 * 3 * 3
    glob = spec.cost({"x": (2, 5, 5, 4)}, [(2, 1, 1, 4)],
                     {"pooling_type": "avg", "data_format": "NHWC", "global_pooling": True})
    assert glob.flops == 2 * 4 * 25


def test_batch_norm_op_training_statistics():
    spec = registry.lookup_op("pd_op.batch_norm_")
    ins = {"x": (2, 3, 4, 4), "mean": (3,), "variance": (3,), "scale": (3,), "bias": (3,)}
    shape = [(2, 3, 4, 4)]
    assert spec.cost(ins, shape, {"is_test": True, "use_global_stats": False}).flops == 2 * 96
    train = spec.cost(ins, shape, {"is_test": False, "use_global_stats": False, "trainable_statistics": False,
                                   "data_format": "NCHW"})
    assert train.flops == stats_norm(96, 3, 2)
    nhwc = spec.cost({**ins, "x": (2, 4, 4, 3)}, shape, {"is_test": False, "data_format": "NHWC"})
    assert nhwc.flops == stats_norm(96, 3, 2)


def test_functional_dropout_in_training_mode():
    class Drop(nn.Layer):
        def forward(self, x):
            return F.dropout(x, 0.5, training=True) + F.dropout(x, 0.5, training=False)

    r = pfe.profile(Drop(), input_size=[2, 8])
    assert r.flops == 16 + 16   # the training mask multiply + the add; eval dropout is free


# ======================== same computation: layer formula vs the ops it runs
# A subclass whose forward only calls the parent's forward has no formula
# (it "rewrote" forward), so it is counted through the ops Paddle runs.



def functional(fn):
    class Fn(nn.Layer):
        def forward(self, *args):
            return fn(*args)
    return Fn()


CONSISTENCY = [
    ("BatchNorm2D", lambda: nn.BatchNorm2D(3), (2, 3, 4, 4)),
    ("BatchNorm1D-NLC", lambda: nn.BatchNorm1D(3, data_format="NLC"), (2, 5, 3)),
    ("LayerNorm", lambda: nn.LayerNorm([4, 5]), (2, 3, 4, 5)),
    ("LayerNorm-noaffine", lambda: nn.LayerNorm(5, weight_attr=False, bias_attr=False), (2, 3, 5)),
    ("GroupNorm-NHWC", lambda: nn.GroupNorm(2, 4, data_format="NHWC"), (2, 3, 3, 4)),
    ("InstanceNorm2D", lambda: nn.InstanceNorm2D(3), (2, 3, 4, 4)),
    ("InstanceNorm3D", lambda: nn.InstanceNorm3D(2), (1, 2, 3, 3, 3)),
    ("SpectralNorm", lambda: nn.SpectralNorm([4, 6], power_iters=2), (4, 6)),
    ("GELU", lambda: nn.GELU(), (2, 3, 4)),
    ("GELU-tanh", lambda: nn.GELU(approximate=True), (2, 3, 4)),
    ("Silu", lambda: nn.Silu(), (2, 3, 4)),
    ("Sigmoid", lambda: nn.Sigmoid(), (2, 3, 4)),
    ("Hardswish", lambda: nn.Hardswish(), (2, 3, 4)),
    ("Mish", lambda: nn.Mish(), (2, 3, 4)),
    ("ELU", lambda: nn.ELU(), (2, 3, 4)),
    ("PReLU", lambda: nn.PReLU(3), (2, 3, 4)),
    ("Tanhshrink", lambda: nn.Tanhshrink(), (2, 3, 4)),
    ("AvgPool1D", lambda: nn.AvgPool1D(3, 2, 1), (2, 3, 9)),
    ("AvgPool2D-NHWC", lambda: nn.AvgPool2D(2, data_format="NHWC"), (2, 6, 4, 3)),
    ("AvgPool3D", lambda: nn.AvgPool3D(2), (1, 2, 4, 4, 4)),
    ("AdaptiveAvgPool1D", lambda: nn.AdaptiveAvgPool1D(3), (2, 3, 7)),
    ("AdaptiveAvgPool2D-NHWC", lambda: nn.AdaptiveAvgPool2D((3, 2), data_format="NHWC"), (2, 7, 5, 3)),
    ("AdaptiveAvgPool3D", lambda: nn.AdaptiveAvgPool3D((2, 3, 2)), (1, 2, 5, 4, 3)),
    ("LPPool2D", lambda: nn.LPPool2D(2, 2), (1, 2, 4, 6)),
    ("MaxPool2D", lambda: nn.MaxPool2D(2), (1, 2, 4, 4)),
    ("Upsample-bilinear", lambda: nn.Upsample(scale_factor=2, mode="bilinear"), (1, 2, 3, 4)),
    ("Upsample-bicubic", lambda: nn.Upsample(size=[5, 7], mode="bicubic"), (1, 2, 3, 4)),
    ("Upsample-trilinear", lambda: nn.Upsample(scale_factor=2, mode="trilinear"), (1, 2, 2, 3, 2)),
    ("Upsample-area", lambda: nn.Upsample(size=[3, 2], mode="area"), (1, 2, 7, 5)),
    ("Upsample-linear-NWC", lambda: nn.Upsample(scale_factor=2, mode="linear", data_format="NWC"), (1, 5, 2)),
    ("Fold", lambda: nn.Fold([4, 4], 2), (2, 8, 9)),
    ("LSTM-2-bidirect", lambda: nn.LSTM(3, 4, num_layers=2, direction="bidirect"), (2, 5, 3)),
    ("GRU-time-major", lambda: nn.GRU(3, 4, time_major=True), (5, 2, 3)),
    ("SimpleRNN", lambda: nn.SimpleRNN(3, 4, num_layers=2), (2, 4, 3)),
]


@pytest.mark.parametrize("name,make,shape", CONSISTENCY, ids=[c[0] for c in CONSISTENCY])
def test_layer_formula_matches_its_ops(name, make, shape):
    by_formula = run(make(), shape)
    by_ops = pfe.profile(through_ops(make()), input_size=list(shape))
    assert by_ops.root.counted_by == "ops"
    assert not by_ops.uncounted
    assert (by_formula.macs, by_formula.flops) == (by_ops.macs, by_ops.flops)


FUNCTIONAL = [
    ("layer_norm", lambda: nn.LayerNorm(6, weight_attr=False, bias_attr=False),
     lambda x: F.layer_norm(x, 6), (2, 3, 6)),
    ("group_norm", lambda: nn.GroupNorm(2, 4, weight_attr=False, bias_attr=False),
     lambda x: F.group_norm(x, 2), (2, 4, 3, 3)),
    ("instance_norm", lambda: nn.InstanceNorm2D(3, weight_attr=False, bias_attr=False),
     lambda x: F.instance_norm(x), (2, 3, 4, 4)),
    ("gelu", lambda: nn.GELU(), lambda x: F.gelu(x), (2, 8)),
    ("silu", lambda: nn.Silu(), lambda x: F.silu(x), (2, 8)),
    ("sigmoid", lambda: nn.Sigmoid(), lambda x: F.sigmoid(x), (2, 8)),
    ("softplus", lambda: nn.Softplus(), lambda x: F.softplus(x), (2, 8)),
    ("glu", lambda: nn.GLU(), lambda x: F.glu(x), (2, 8)),
    ("lrn", lambda: nn.LocalResponseNorm(3), lambda x: F.local_response_norm(x, 3), (1, 5, 2, 2)),
    ("avg_pool2d", lambda: nn.AvgPool2D(3, 1, 1), lambda x: F.avg_pool2d(x, 3, 1, 1), (1, 2, 5, 5)),
    ("max_pool2d", lambda: nn.MaxPool2D(2), lambda x: F.max_pool2d(x, 2), (1, 2, 4, 4)),
    ("adaptive_avg_pool2d", lambda: nn.AdaptiveAvgPool2D(3), lambda x: F.adaptive_avg_pool2d(x, 3),
     (1, 2, 7, 5)),
    ("interpolate", lambda: nn.Upsample(scale_factor=3, mode="bilinear"),
     lambda x: F.interpolate(x, scale_factor=3, mode="bilinear"), (1, 2, 3, 3)),
]


@pytest.mark.parametrize("name,make,fn,shape", FUNCTIONAL, ids=[c[0] for c in FUNCTIONAL])
def test_layer_formula_matches_functional(name, make, fn, shape):
    a = run(make(), shape)
    b = pfe.profile(functional(fn), input_size=list(shape))
    assert (a.macs, a.flops) == (b.macs, b.flops)
    assert b.paddle_flops == 0   # element-wise ops do not enter paddle_flops


@pytest.mark.parametrize("variant", ["formula", "ops"])
@pytest.mark.parametrize("name,make,shape", CONSISTENCY, ids=[c[0] for c in CONSISTENCY])
def test_trace_mode_counts_the_same(name, make, shape, variant):
    # shape-only counting of the traced PIR program: layer formulas on traced
    # shapes, and the pd_op.* formulas with PIR argument names
    net = nn.Sequential(make()) if variant == "formula" else through_ops(make())
    eager = pfe.profile(net, input_size=list(shape))
    traced = pfe.profile(net, input_size=list(shape), mode="trace")
    assert not traced.uncounted
    assert figures(traced) == figures(eager)


@pytest.mark.parametrize("name,make,fn,shape", FUNCTIONAL, ids=[c[0] for c in FUNCTIONAL])
def test_trace_mode_functional(name, make, fn, shape):
    eager = pfe.profile(functional(fn), input_size=list(shape))
    traced = pfe.profile(functional(fn), input_size=list(shape), mode="trace")
    assert not traced.uncounted
    assert figures(traced) == figures(eager)


@pytest.mark.parametrize("s1,s2", [((2, 5, 3), (2, 5, 3)), ((4, 6), (1, 6))])
def test_distance_layers_match_functional(s1, s2):
    x, y = paddle.randn(s1), paddle.randn(s2)
    a = pfe.profile(nn.CosineSimilarity(axis=1), inputs=(x, y))
    b = pfe.profile(functional(lambda u, v: F.cosine_similarity(u, v, axis=1)), inputs=(x, y))
    assert a.flops == b.flops
    if s1 == s2:
        a = pfe.profile(nn.PairwiseDistance(), inputs=(x, y))
        b = pfe.profile(functional(lambda u, v: F.pairwise_distance(u, v)), inputs=(x, y))
        assert a.flops == b.flops


# ============================================================ coverage walk

# Layers with no arithmetic of their own or counted by other modules' tests.
NOT_ARITHMETIC = {
    "Layer", "Module", "Sequential", "LayerList", "ModuleList", "LayerDict", "ModuleDict",
    "ParameterList", "ParameterDict",
    "RNNCellBase",          # abstract; concrete cells have formulas, user cells count through ops
}
# Counted through the operations they run (attention / transformer compositions);
# MultiHeadAttention belongs to the attention module.
COUNTED_THROUGH_OPS = {"MultiHeadAttention",
    "Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
    "TransformerDecoderLayer",
}


def _nn_layer_classes():
    out = {}
    for name in dir(nn):
        obj = getattr(nn, name)
        if inspect.isclass(obj) and issubclass(obj, nn.Layer):
            out[name] = obj
    return out


def test_every_arithmetic_nn_layer_has_a_formula():
    missing = []
    for name, cls in sorted(_nn_layer_classes().items()):
        if name in NOT_ARITHMETIC or name in COUNTED_THROUGH_OPS or name.endswith("Loss"):
            continue
        if registry.lookup_layer(cls) is None:
            missing.append(name)
    assert not missing, f"paddle.nn layers without a formula: {missing}"


def test_allow_lists_name_real_classes():
    names = _nn_layer_classes()
    assert (NOT_ARITHMETIC | COUNTED_THROUGH_OPS) <= set(names)
