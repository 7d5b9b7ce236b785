"""Work done by a layer's forward hooks is the layer's work: counted and
attributed to it, in eager and trace mode alike, also when the layer itself
is counted by its formula. The hooks are back, by identity, afterwards."""
from __future__ import annotations

import paddle
import pytest
from paddle.nn.utils import spectral_norm, weight_norm

import paddle_flops_ext as pfe


def _normalize_rows(rows: int, cols: int) -> int:
    """F.normalize of a [rows, cols] matrix along its rows, as the
    conventions count it: p_norm 2 per element, the clamp 0, divide 1 per
    element."""
    return 2 * rows * cols + rows * cols


@pytest.mark.parametrize("mode", ["eager", "trace"])
def test_weight_norm_conv1d_counts_the_weight_recomputed_in_its_pre_hook(mode):
    c_in, c_out, k, length = 64, 64, 3, 8
    net = weight_norm(paddle.nn.Conv1D(c_in, c_out, k, padding=1))
    conv_macs = c_out * length * c_in * k
    conv_flops = 2 * conv_macs + c_out * length                 # + bias
    hook_flops = _normalize_rows(c_out, c_in * k) + c_out * c_in * k   # v / ||v||, then * g
    r = pfe.profile(net, [1, c_in, length], mode=mode, strict=True)
    assert r.macs == conv_macs
    assert r.flops == conv_flops + hook_flops
    assert set(r.root.ops) == {"p_norm", "divide", "multiply"}


@pytest.mark.parametrize("mode", ["eager", "trace"])
def test_weight_norm_conv_transpose1d_normalizes_along_its_output_channels(mode):
    c_in, c_out, k, length = 16, 8, 4, 10
    net = weight_norm(paddle.nn.Conv1DTranspose(c_in, c_out, k), dim=0)
    plain = pfe.profile(paddle.nn.Conv1DTranspose(c_in, c_out, k), [2, c_in, length], mode=mode)
    # weight [c_in, c_out, k], dim=0: c_in rows of c_out * k
    hook_flops = _normalize_rows(c_in, c_out * k) + c_in * c_out * k
    r = pfe.profile(net, [2, c_in, length], mode=mode, strict=True)
    assert r.macs == plain.macs
    assert r.flops == plain.flops + hook_flops


@pytest.mark.parametrize("mode", ["eager", "trace"])
def test_spectral_norm_linear_counts_sigma_and_the_division(mode):
    n_in, n_out, batch = 16, 32, 4
    paddle.seed(0)
    net = spectral_norm(paddle.nn.Linear(n_in, n_out))
    linear_flops = 2 * batch * n_in * n_out + batch * n_out
    # eval mode: no power iteration; sigma = u . (W v): mv n_out x n_in, dot n_out; weight / sigma
    hook_macs = n_out * n_in + n_out
    hook_flops = 2 * hook_macs + n_in * n_out
    r = pfe.profile(net, [batch, n_in], mode=mode, strict=True)
    assert r.macs == batch * n_in * n_out + hook_macs
    assert r.flops == linear_flops + hook_flops


@pytest.mark.parametrize("mode", ["eager", "trace"])
def test_a_users_post_hook_is_counted_on_its_layer_and_the_hooks_are_restored(mode):
    class Block(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.fc = paddle.nn.Linear(8, 8)

        def forward(self, x):
            return self.fc(x)

    def scale_output(layer, inputs, output):
        return output * 3.0                              # 1 FLOP per element of [2, 8]

    net = Block()
    pre_hooks, post_hooks = dict(net.fc._forward_pre_hooks), dict(net.fc._forward_post_hooks)
    net.fc.register_forward_post_hook(scale_output)
    hooks_before = list(net.fc._forward_post_hooks.values())
    r = pfe.profile(net, [2, 8], mode=mode, strict=True)
    fc = r.find("fc")
    assert fc.cost.flops == 2 * 2 * 8 * 8 + 2 * 8 + 2 * 8
    assert list(net.fc._forward_post_hooks.values()) == hooks_before
    assert all(a is b for a, b in zip(net.fc._forward_post_hooks.values(), hooks_before))
    assert dict(net.fc._forward_pre_hooks) == pre_hooks and len(post_hooks) == 0


def test_with_count_functional_off_a_hooks_work_is_listed_as_uncounted():
    net = weight_norm(paddle.nn.Conv1D(4, 4, 3))
    r = pfe.profile(net, [1, 4, 8], count_functional=False)
    assert [u["name"] for u in r.uncounted] == ["WeightNorm (forward hook)"]
    with pytest.raises(pfe.StrictError):
        pfe.profile(net, [1, 4, 8], count_functional=False, strict=True)
