"""Convolution / Linear / Bilinear layers against formulas written here.

Every expected count is derived in this file from the textbook definitions:
an output element of a convolution takes C_in/groups x prod(kernel) MACs; a
transposed convolution scatters each input element to C_out/groups x
prod(kernel) outputs.
"""
import math

import paddle
import paddle.nn as nn
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import paddle_flops_ext as pfe

CONV = {1: nn.Conv1D, 2: nn.Conv2D, 3: nn.Conv3D}
CONV_T = {1: nn.Conv1DTranspose, 2: nn.Conv2DTranspose, 3: nn.Conv3DTranspose}
FORMAT = {1: ("NCL", "NLC"), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}


def conv_out_len(n, k, s, p, d, mode=None):
    if mode == "SAME":
        return -(-n // s)
    if mode == "VALID":
        p = 0
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def conv_t_out_len(n, k, s, p, d, op):
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


@st.composite
def conv_configs(draw):
    nd = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 2, 4]))
    cin = groups * draw(st.integers(1, 3))
    cout = groups * draw(st.integers(1, 3))  # cout=groups*m also covers depthwise x multiplier
    k = draw(st.integers(1, 3))
    s = draw(st.integers(1, 3))
    d = draw(st.integers(1, 2))
    mode = draw(st.sampled_from([None, "SAME", "VALID"]))
    p = draw(st.integers(0, 2)) if mode is None else 0
    size = draw(st.integers(d * (k - 1) + 1, 9 if nd < 3 else 6))
    batch = draw(st.integers(1, 2))
    last = draw(st.booleans())
    bias = draw(st.booleans())
    return nd, groups, cin, cout, k, s, d, mode, p, size, batch, last, bias


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_configs())
def test_conv_any_configuration(cfg):
    nd, groups, cin, cout, k, s, d, mode, p, size, batch, last, bias = cfg
    fmt = FORMAT[nd][1 if last else 0]
    padding = mode if mode is not None else p
    layer = CONV[nd](cin, cout, k, stride=s, padding=padding, dilation=d, groups=groups,
                     data_format=fmt, bias_attr=None if bias else False)
    spatial_in = [size] * nd
    x_shape = [batch] + spatial_in + [cin] if last else [batch, cin] + spatial_in
    spatial_out = [conv_out_len(n, k, s, p, d, mode) for n in spatial_in]
    out_elems = batch * cout * math.prod(spatial_out)
    macs = out_elems * (cin // groups) * k ** nd
    r = pfe.profile(layer, x_shape)
    node = r.find("")
    expected_out = [batch] + spatial_out + [cout] if last else [batch, cout] + spatial_out
    assert list(node.output_shape[0]) == expected_out
    assert r.macs == macs
    assert r.flops == 2 * macs + (out_elems if bias else 0)
    assert r.paddle_flops == macs + (out_elems if bias else 0)
    assert r.params == cout * (cin // groups) * k ** nd + (cout if bias else 0)


@st.composite
def conv_t_configs(draw):
    nd = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 2]))
    cin = groups * draw(st.integers(1, 3))
    cout = groups * draw(st.integers(1, 3))
    k = draw(st.integers(1, 4))
    s = draw(st.integers(1, 3))
    d = draw(st.integers(1, 2))
    p = draw(st.integers(0, 1))
    op = draw(st.integers(0, max(0, min(s, d) - 1)))  # output_padding < max(stride, dilation)
    size = draw(st.integers(2, 6))
    last = draw(st.booleans())
    return nd, groups, cin, cout, k, s, d, p, op, size, last


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_t_configs())
def test_transposed_conv_any_configuration(cfg):
    nd, groups, cin, cout, k, s, d, p, op, size, last = cfg
    out_len = conv_t_out_len(size, k, s, p, d, op)
    if out_len <= 0:
        return
    fmt = FORMAT[nd][1 if last else 0]
    layer = CONV_T[nd](cin, cout, k, stride=s, padding=p, output_padding=op, dilation=d,
                       groups=groups, data_format=fmt)
    x_shape = [1] + [size] * nd + [cin] if last else [1, cin] + [size] * nd
    r = pfe.profile(layer, x_shape)
    in_elems = cin * size ** nd
    out_elems = cout * out_len ** nd
    macs = in_elems * (cout // groups) * k ** nd
    assert r.macs == macs
    assert r.flops == 2 * macs + out_elems
    assert r.paddle_flops == macs + out_elems


def test_nhwc_depthwise_and_transposed_convs_match_hand_derived_figures():
    """Channels-last, depthwise and transposed convolutions, where paddle.flops
    miscounts: each figure is derived by hand from the shapes."""
    r = pfe.profile(nn.Conv2D(16, 32, 3, padding=1, data_format="NHWC"), [1, 56, 56, 16])
    assert r.paddle_flops == 56 * 56 * 32 * (16 * 9 + 1) == 14_551_040
    r = pfe.profile(nn.Conv2D(32, 32, 3, groups=32, padding=1, data_format="NHWC"), [1, 56, 56, 32])
    assert r.paddle_flops == 56 * 56 * 32 * (9 + 1) == 1_003_520
    r = pfe.profile(nn.Conv2DTranspose(16, 8, 4, stride=2, padding=1), [1, 16, 16, 16])
    assert r.macs == 16 * 16 * 16 * 8 * 4 * 4 == 524_288


@pytest.mark.parametrize("dilation,stride,padding", [(2, 1, 2), (3, 2, 0), (2, 2, "SAME")])
def test_dilated_conv_matches_seed_formula(dilation, stride, padding):
    # effective kernel k_e = k + (k-1)(d-1); output = floor((n + 2p - k_e)/s) + 1
    k, n = 3, 17
    layer = nn.Conv2D(4, 6, k, stride=stride, padding=padding, dilation=dilation)
    r = pfe.profile(layer, [1, 4, n, n])
    if padding == "SAME":
        out = -(-n // stride)
    else:
        k_e = k + (k - 1) * (dilation - 1)
        out = (n + 2 * padding - k_e) // stride + 1
    assert r.macs == 6 * out * out * 4 * k * k


@pytest.mark.parametrize("shape", [[3, 20], [2, 5, 20], [2, 3, 4, 20]])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_any_rank(shape, bias):
    layer = nn.Linear(20, 7, bias_attr=None if bias else False)
    r = pfe.profile(layer, shape)
    rows = math.prod(shape[:-1])
    assert r.macs == rows * 20 * 7
    assert r.flops == 2 * rows * 20 * 7 + (rows * 7 if bias else 0)
    assert r.paddle_flops == rows * 20 * 7  # paddle.flops leaves Linear's bias out
    assert r.params == 20 * 7 + (7 if bias else 0)


def test_bilinear():
    layer = nn.Bilinear(5, 6, 4)
    r = pfe.profile(layer, inputs=(paddle.randn([3, 5]), paddle.randn([3, 6])))
    # y_o = x1^T W_o x2: W_o x2 (5*6 MACs) then a dot with x1 (5 MACs), per sample per output
    assert r.macs == 3 * 4 * (5 * 6 + 5)
    assert r.flops == 2 * r.macs + 3 * 4


def test_param_shape_reads_what_the_attribute_gives():
    """Formulas read parameter shapes from the layer's table for speed; a
    subclass whose ``weight`` is a property, or a plain attribute, still wins."""
    from paddle_flops_ext.formulas.registry import param_shape

    plain = paddle.nn.Linear(3, 5, bias_attr=False)
    assert param_shape(plain, "weight") == (3, 5) and param_shape(plain, "bias") is None

    class Tied(paddle.nn.Linear):
        # a property shadows the parameter table (its setter lets Linear.__init__ register the weight)
        weight = property(lambda self: self._parameters["bias"],
                          lambda self, value: self._parameters.__setitem__("weight", value))

    tied = Tied(3, 5)
    assert param_shape(tied, "weight") == (5,)

    attr = paddle.nn.Linear(3, 5)
    attr.__dict__["bias"] = paddle.zeros([7])   # an instance attribute shadows the table too
    assert param_shape(attr, "bias") == (7,)
    assert param_shape(attr, "missing") is None
    # and the Linear formula reads them alike: 15 MACs per row
    assert pfe.profile(paddle.nn.Linear(3, 5), [2, 3]).macs == 2 * 5 * 3
