"""The backward counts what Paddle's eager backward runs, in both modes
alike: a tensor indexed several times receives one full-size gradient per
use, summed (``q, k, v = qkv``), and fused activations have gradient
formulas (``swiglu``). Expected figures are written out from the shapes."""
from __future__ import annotations

import paddle
import pytest

import paddle_flops_ext as pfe

TOKENS, DIM = 4, 16


class UnpackedQKV(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.qkv = paddle.nn.Linear(DIM, 3 * DIM)

    def forward(self, x):
        qkv = self.qkv(x).reshape([TOKENS, 3, DIM]).transpose([1, 0, 2])
        q, k, v = qkv
        return q + k * v


@pytest.mark.parametrize("mode", ["eager", "trace"])
def test_unpacking_a_tensor_sums_one_gradient_per_use(mode):
    r = pfe.profile(UnpackedQKV(), [TOKENS, DIM], mode=mode, training=True)
    n = 3 * TOKENS * DIM                       # the unpacked tensor
    linear_macs = TOKENS * DIM * 3 * DIM
    # dW of the projection (its MACs; the synthesized input needs no gradient), its bias (a sum
    # over rows), k * v (dK and dV), and the three slices' gradients summed into the unpacked
    # tensor: 2 additions per element
    expected = 2 * linear_macs + (TOKENS - 1) * 3 * DIM + 2 * TOKENS * DIM + 2 * n
    assert r.backward.flops == expected
    assert r.backward.macs == linear_macs
    accumulated = [v for node in r.layers() for k, v in node.backward_ops.items() if k == "gradient accumulation"]
    assert sum(v["flops"] for v in accumulated) == 2 * n


@pytest.mark.parametrize("mode", ["eager", "trace"])
@pytest.mark.parametrize("halves", [False, True])
def test_swiglu_backward_has_a_formula(mode, halves):
    class SwiGLU(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.up = paddle.nn.Linear(8, 32 if halves else 16)
            self.gate = None if halves else paddle.nn.Linear(8, 16)

        def forward(self, x):
            if halves:
                return paddle.nn.functional.swiglu(self.up(x))
            return paddle.nn.functional.swiglu(self.up(x), self.gate(x))

    r = pfe.profile(SwiGLU(), [2, 8], mode=mode, training=True, strict=True)
    assert r.uncounted_backward == []
    swiglu = [v for node in r.layers() for k, v in node.backward_ops.items() if k == "swiglu"]
    assert sum(v["flops"] for v in swiglu) == 11 * 2 * 16     # both inputs need a gradient: 11 per output element


@pytest.mark.parametrize("mode", ["eager", "trace"])
@pytest.mark.parametrize("interp, per_output", [("nearest", 1), ("bilinear", 8), ("bicubic", 32)])
def test_interpolation_backward_sends_each_outputs_gradient_to_its_taps(mode, interp, per_output):
    class Upsampled(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = paddle.nn.Conv2D(3, 4, 1)

        def forward(self, x):
            return paddle.nn.functional.interpolate(self.conv(x), scale_factor=2, mode=interp)

    r = pfe.profile(Upsampled(), [1, 3, 8, 8], mode=mode, training=True, strict=True)
    assert r.uncounted_backward == []
    out_elements = 1 * 4 * 16 * 16
    got = sum(v["flops"] for node in r.layers() for k, v in node.backward_ops.items() if k.endswith("_interp"))
    assert got == per_output * out_elements     # taps (1, 4 or 16) x (weight x dO, accumulate)


@pytest.mark.parametrize("mode", ["eager", "trace"])
def test_deformable_convolution_backward_is_counted(mode):
    from paddle.vision.ops import DeformConv2D

    n, c_in, c_out, k, side = 1, 4, 8, 3, 6
    out_side = side - k + 1

    class Deformable(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.offsets = paddle.nn.Conv2D(c_in, 2 * k * k, k)    # offsets from the input: they need a gradient
            self.conv = DeformConv2D(c_in, c_out, k)

        def forward(self, x):
            return self.conv(x, self.offsets(x))

    r = pfe.profile(Deformable(), [n, c_in, side, side], mode=mode, training=True, strict=True)
    assert r.uncounted_backward == []
    macs = n * c_out * out_side * out_side * c_in * k * k
    samples = n * c_in * k * k * out_side * out_side
    # the columns sampled again (17 each) for dW; dW and the column gradient (the forward's MACs each);
    # dX is not needed (the synthesized input), offsets: 16 per sample
    expected_flops = 17 * samples + 2 * (2 * macs) + 16 * samples
    got = [v for node in r.layers() for key, v in node.backward_ops.items() if key == "deformable_conv"]
    assert sum(v["macs"] for v in got) == 2 * macs
    assert sum(v["flops"] for v in got) == expected_flops
