"""The memory of a training step against what Paddle allocates: the peak
against the CPU allocator's own peak statistic, gradients against the
``.grad`` tensors a real backward leaves, and AMP by Paddle's rules written
out here (``amp.decorate`` keeps normalisation layers in float32; master
weights only for what it casts)."""
import gc

import paddle
import pytest
from paddle import nn

import paddle_flops_ext as pfe
from benchmarks.bench_memory_peak import Loss, make_optimizer, measure_step_peak
from paddle_flops_ext.bench.machine import allocator_bytes


def _allocator_step_peak(build, x, optimizer):
    """The allocator's peak of a steady-state training step (the second),
    less what was allocated before the model existed."""
    gc.collect()
    before = allocator_bytes()[0]
    model = build()
    estimate = pfe.profile(model, inputs=(x,), training=True, optimizer=optimizer).memory
    gc.collect()
    peak = measure_step_peak(model, x, make_optimizer(optimizer, model)) - before
    return estimate, peak


def test_mlp_peak_is_the_state_plus_kept_activations_plus_the_largest_fresh_weight_gradient():
    n, a, b, c = 16, 256, 1024, 64
    x = paddle.randn([n, a])
    estimate, peak = _allocator_step_peak(
        lambda: Loss(nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Linear(b, c))), x, "sgd")
    weights = 4 * (a * b + b + b * c + c)
    kept = 4 * (n * a + n * b)            # the first Linear's input, ReLU's output (the second's input)
    # the backward of the first Linear: its weight and bias gradients (a x b, b) are computed
    # fresh before they are added into the .grad kept from the previous step, next to the input
    # it keeps (n x a) and the gradient of its output (n x b); ReLU's output is freed by then
    expected = 2 * weights + 4 * (n * a + n * b + a * b + b)
    assert expected > 2 * weights + kept
    assert estimate["peak"] == pytest.approx(expected, rel=0.01)
    assert estimate["peak"] == pytest.approx(peak, rel=0.02)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adamw"])
def test_cnn_peak_within_ten_percent_of_the_allocator(optimizer):
    paddle.seed(0)
    x = paddle.randn([4, 3, 32, 32])
    estimate, peak = _allocator_step_peak(lambda: Loss(paddle.vision.models.resnet18(num_classes=10)), x,
                                          optimizer)
    assert abs(estimate["peak"] / peak - 1) < 0.10


def test_recompute_peak_within_ten_percent_of_the_allocator():
    from benchmarks.bench_memory_peak import Encoder
    paddle.seed(0)
    x = paddle.randn([2, 64, 256])
    estimate, peak = _allocator_step_peak(lambda: Loss(Encoder(True)), x, "adamw")
    plain, plain_peak = _allocator_step_peak(lambda: Loss(Encoder(False)), x, "adamw")
    assert abs(estimate["peak"] / peak - 1) < 0.10 and abs(plain["peak"] / plain_peak - 1) < 0.10
    assert estimate["activations"] < plain["activations"]


def test_gradients_of_every_trainable_parameter_whatever_the_optimizer_updates():
    net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = paddle.optimizer.AdamW(parameters=net[2].parameters())
    r = pfe.profile(net, [8, 64], training=True, optimizer=opt)
    net(paddle.randn([8, 64])).mean().backward()
    allocated = sum(p.grad.numel().item() * p.grad.element_size() for p in net.parameters() if p.grad is not None)
    net.clear_gradients()
    assert r.memory["gradients"] == allocated == 4 * (64 * 32 + 32 + 32 * 10 + 10)
    assert r.memory["optimizer_states"] == 2 * 4 * (32 * 10 + 10) + 2 * 2 * 4   # AdamW: only net[2]


def test_a_product_keeps_both_operands_as_paddle_does():
    # b = a * c with c needing no gradient: the mathematics needs only c for a's gradient, but
    # Paddle's backward node holds a as well; a frozen Linear (a LoRA base layer) holds its input
    # though only that input needs a gradient. Measured against the allocator.
    class Net(nn.Layer):
        def __init__(self):
            super().__init__()
            self.w = self.create_parameter([256])
            self.register_buffer("c", paddle.rand([256]))
            self.frozen = nn.Linear(256, 256)
            for p in self.frozen.parameters():
                p.stop_gradient = True

        def forward(self, x):
            a = x * self.w
            return self.frozen(a * self.c)

    unit = 4 * 64 * 256
    x = paddle.randn([64, 256])
    net = Net()
    r = pfe.profile(net, inputs=(x,), training=True)
    gc.collect()
    before = allocator_bytes()[0]
    out = net(x)
    held = allocator_bytes()[0] - before - unit          # less the output
    del out
    assert held == 2 * unit                                  # a, and a * c (the Linear's input)
    assert r.memory["activations"] == unit + held            # and x, which the first product keeps


def test_frozen_parameters_get_no_gradient():
    net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    for p in net[0].parameters():
        p.stop_gradient = True
    r = pfe.profile(net, [8, 64], training=True, optimizer="sgd")
    assert r.memory["gradients"] == 4 * (32 * 10 + 10)


def _norm_net():
    return nn.Sequential(nn.Linear(16, 32), nn.LayerNorm(32), nn.Linear(32, 8), nn.BatchNorm1D(8))


def test_amp_o2_keeps_norm_layers_in_float32_as_amp_decorate_does():
    r = pfe.profile(_norm_net(), [4, 16], training=True, optimizer="adamw", amp="O2")
    linear = 16 * 32 + 32 + 32 * 8 + 8
    norm = 2 * 32 + 2 * 8                  # LayerNorm and BatchNorm scale and shift
    buffers = 2 * 8                        # BatchNorm's running mean and variance
    assert r.memory["by_dtype"]["parameters"] == {"float16": 2 * linear, "float32": 4 * (norm + buffers)}
    assert r.memory["by_dtype"]["gradients"] == {"float16": 2 * linear, "float32": 4 * norm}
    # AdamW: two fp32 moments for every parameter, two fp32 beta powers per tensor, and an fp32
    # master weight only for the float16 ones
    assert r.memory["optimizer_states"] == 2 * 4 * (linear + norm) + 2 * 4 * 8 + 4 * linear


def test_amp_o1_weights_stay_float32_and_white_list_ops_keep_float16_copies():
    n = 8
    net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    r = pfe.profile(net, [n, 64], training=True, optimizer="sgd", amp="O1")
    assert r.memory["by_dtype"]["parameters"] == {"float32": 4 * (64 * 32 + 32 + 32 * 10 + 10)}
    # a Linear is a white-list matmul on float16 copies of its input and weight, then the bias
    # add, which promotes to float32 (its bias is float32); its backward node keeps both copies
    # (Paddle keeps both operands of a product). ReLU (gray, float32 input) runs in float32 and
    # keeps its output
    assert r.memory["by_dtype"]["activations"] == {"float16": 2 * (n * 64 + 64 * 32 + n * 32 + 32 * 10),
                                                   "float32": 4 * n * 32}
    t = pfe.profile(net, [n, 64], training=True, optimizer="sgd", amp="O1", mode="trace")
    assert t.memory["by_dtype"] == r.memory["by_dtype"]          # matmul + add, as traced


def test_amp_o2_norms_follow_their_input():
    n = 4
    r = pfe.profile(_norm_net(), [n, 16], training=True, optimizer="sgd", amp="O2")
    # float16 throughout: O2's black list holds neither layer_norm nor batch_norm, and a norm's
    # float32 scale and shift do not promote it; the first Linear keeps a float16 copy of the
    # float32 input
    assert set(r.memory["by_dtype"]["activations"]) == {"float16"}
