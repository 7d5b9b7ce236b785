"""Training cost (profile(training=True)): backward from gradient formulas,
frozen layers, recomputation, optimizer step, memory. Every expected value
is derived here from shapes."""
import math

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest
from paddle import nn

import paddle_flops_ext as pfe


def _input(shape, grad):
    x = paddle.randn(shape)
    x.stop_gradient = not grad
    return x


def _bwd_op(r, op, key="macs"):
    return sum(n.backward_ops.get(op, {}).get(key, 0) for n in r.layers())


# --------------------------------------------------------------------------- matmul / linear

def test_linear_weight_gradient_only_when_input_needs_none():
    r = pfe.profile(nn.Linear(64, 32), inputs=(_input([8, 64], False),), training=True)
    assert r.backward.macs == 8 * 64 * 32 == 16_384           # dW = X^T dO
    r = pfe.profile(nn.Linear(64, 32), inputs=(_input([8, 64], True),), training=True)
    assert r.backward.macs == 2 * 8 * 64 * 32 == 32_768       # + dX = dO W^T


def test_mlp_and_frozen_first_layer():
    net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    r = pfe.profile(net, [8, 64], training=True)
    # first Linear: weight gradient only (the input needs none); second: weight + data gradient
    assert r.backward.macs == 8 * 64 * 32 + 2 * 8 * 32 * 10 == 21_504
    assert r.find("0").backward.macs == 8 * 64 * 32
    for p in net[0].parameters():
        p.stop_gradient = True
    r = pfe.profile(net, [8, 64], training=True)
    # frozen first Linear: nothing below the second Linear needs a gradient, so only its
    # weight gradient runs (its input has stop_gradient=True: no data gradient either)
    assert r.backward.macs == 8 * 32 * 10 == 2_560
    assert r.find("0").backward == pfe.Cost()


def test_bias_gradient_sums_the_rows():
    r = pfe.profile(nn.Linear(64, 32), [8, 64], training=True)
    assert r.backward.flops == 2 * 8 * 64 * 32 + (8 - 1) * 32   # 8 rows of dO summed into 32 values


# --------------------------------------------------------------------------- convolution

@pytest.mark.parametrize("fmt", ["NCHW", "NHWC"])
def test_conv_data_and_filter_gradients(fmt):
    n, cin, cout, k, stride, pad, dil, groups, h = 2, 4, 8, 3, 2, 1, 2, 2, 9
    conv = nn.Conv2D(cin, cout, k, stride=stride, padding=pad, dilation=dil, groups=groups, data_format=fmt)
    ho = (h + 2 * pad - dil * (k - 1) - 1) // stride + 1
    fwd = n * ho * ho * cout * (cin // groups) * k * k
    shape = [n, cin, h, h] if fmt == "NCHW" else [n, h, h, cin]
    r = pfe.profile(conv, inputs=(_input(shape, False),), training=True)
    assert r.macs == fwd
    assert r.backward.macs == fwd                             # filter gradient only
    r = pfe.profile(conv, inputs=(_input(shape, True),), training=True)
    assert r.backward.macs == 2 * fwd                         # + data gradient
    conv.weight.stop_gradient = True
    r = pfe.profile(conv, inputs=(_input(shape, True),), training=True)
    assert r.backward.macs == fwd                             # data gradient only
    conv.weight.stop_gradient = False


# --------------------------------------------------------------------------- attention

B, S, H, D = 2, 8, 4, 8
E = H * D


class HandAttention(nn.Layer):
    def __init__(self):
        super().__init__()
        self.qkv, self.proj = nn.Linear(E, 3 * E), nn.Linear(E, E)

    def forward(self, x):
        q, k, v = self.qkv(x).reshape([B, S, 3, H, D]).transpose([2, 0, 3, 1, 4]).unbind(0)
        p = F.softmax(q @ k.transpose([0, 1, 3, 2]) * D ** -0.5, axis=-1)
        return self.proj((p @ v).transpose([0, 2, 1, 3]).reshape([B, S, E]))


class SDPAttention(HandAttention):
    def __init__(self, causal=False):
        super().__init__()
        self.causal = causal

    def forward(self, x):
        q, k, v = self.qkv(x).reshape([B, S, 3, H, D]).unbind(2)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        return self.proj(o.reshape([B, S, E]))


def test_hand_written_attention():
    r = pfe.profile(HandAttention(), [B, S, E], training=True)
    products = 2 * B * H * S * S * D                          # q k^T and p v
    assert _bwd_op(r, "matmul") == 2 * products                # both operands of both products
    assert _bwd_op(r, "softmax", "flops") == 4 * B * H * S * S
    assert r.backward.macs == B * S * E * 3 * E + 2 * products + 2 * B * S * E * E


@pytest.mark.parametrize("causal,mode,entries", [(False, "full", S * S), (True, "full", S * S),
                                                (True, "half", S * (S + 1) // 2)])
def test_sdpa_attention(causal, mode, entries):
    r = pfe.profile(SDPAttention(causal), [B, S, E], training=True, causal=mode)
    # dV, dP (E x D each), dQ, dK (E x D each) over the counted entries
    assert _bwd_op(r, "scaled_dot_product_attention") == 4 * B * H * entries * D
    assert _bwd_op(r, "scaled_dot_product_attention", "flops") == 2 * 4 * B * H * entries * D + 5 * B * H * entries


# --------------------------------------------------------------------------- norms, embedding

def test_layer_norm_gradients():
    ln = nn.LayerNorm(16)
    r = pfe.profile(ln, inputs=(_input([4, 16], True),), training=True)
    assert r.backward.flops == 4 * 16 * (8 + 2 + 1)           # x, scale, bias
    r = pfe.profile(ln, inputs=(_input([4, 16], False),), training=True)
    assert r.backward.flops == 4 * 16 * (2 + 1)               # scale and bias only


def test_embedding_scatter_add():
    r = pfe.profile(nn.Embedding(100, 16), input_spec=[paddle.static.InputSpec([2, 8], "int64")], training=True)
    assert r.backward == pfe.Cost(0, 2 * 8 * 16, 0)


# --------------------------------------------------------------------------- GPT-2-shaped

from paddle_flops_ext.models.gpt import Block  # noqa: E402  (the zoo GPT's block)


def TinyGPT(vocab=50, seq=16, e=32, h=4, layers=2):
    """The zoo's GPT-2-shaped decoder, small, with its own head."""
    from paddle_flops_ext.models.gpt import GPT
    return GPT(vocab, seq, e, h, layers, tied_head=False)


def test_gpt_backward_matmuls_are_twice_the_forward():
    vocab, seq, e, layers, b = 50, 16, 32, 2, 2
    r = pfe.profile(TinyGPT(vocab, seq, e, 4, layers), input_spec=[paddle.static.InputSpec([b, seq], "int64")],
                    training=True)
    t = b * seq
    forward = layers * (12 * t * e * e + 2 * b * seq * seq * e) + t * e * vocab
    assert r.macs == forward
    assert r.backward.macs == 2 * forward
    assert not r.uncounted_backward
    # nanoGPT / PaLM: 6 N T + 12 L H Q T with N the matmul weights (H Q = e, T tokens of length seq)
    n = layers * 12 * e * e + e * vocab
    assert 2 * (r.macs + r.backward.macs) == 6 * n * t + 12 * layers * e * seq * t


# --------------------------------------------------------------------------- recompute

class Recomputed(nn.Layer):
    """A projection, then blocks: the blocks' input needs a gradient (Paddle runs a recompute
    block none of whose inputs needs one without gradients); ``project=False``: blocks only."""

    def __init__(self, wrap, project=True):
        super().__init__()
        self.pre = nn.Linear(32, 32) if project else None
        self.blocks = nn.LayerList([Block(32, 4) for _ in range(2)])
        self.wrap = wrap

    def forward(self, x):
        from paddle.distributed.fleet.utils import recompute
        if self.pre is not None:
            x = self.pre(x)
        for blk in self.blocks:
            x = recompute(blk, x) if self.wrap else blk(x)
        return x


def test_recompute_counts_the_forward_again_in_hardware_flops():
    paddle.seed(0)
    net = Recomputed(True)
    x = _input([2, 16, 32], False)
    r = pfe.profile(net, inputs=(x,), training=True)
    block_forward = pfe.profile(net.blocks[0], [2, 16, 32]).flops   # each block on its own
    assert r.hardware_flops - r.training_flops == 2 * block_forward
    net.wrap = False
    plain = pfe.profile(net, inputs=(x,), training=True)
    assert plain.training_flops == r.training_flops and plain.hardware_flops == plain.training_flops


def test_recompute_of_inputs_needing_no_gradient_trains_nothing_as_in_paddle():
    paddle.seed(0)
    net = Recomputed(True, project=False)
    x = _input([2, 16, 32], False)
    r = pfe.profile(net, inputs=(x,), training=True, optimizer="sgd")
    net(x).mean().backward()                                     # what Paddle itself computes
    assert all(p.grad is None for p in net.parameters())
    assert r.backward.macs == 0 and r.hardware_flops == r.training_flops
    assert r.memory["gradients"] == 0
    net.clear_gradients()


# --------------------------------------------------------------------------- optimizer step, memory

def _mlp():
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def test_optimizer_step_and_memory_from_the_parameter_list():
    net = _mlp()
    sizes = [64 * 32, 32, 32 * 10, 10]
    n = sum(sizes)
    r = pfe.profile(net, [8, 64], training=True, optimizer="adam")
    assert r.optimizer_step.flops == 12 * n
    assert r.training_flops == r.flops + r.backward.flops + 12 * n
    m = r.memory
    assert m["parameters"] == m["gradients"] == 4 * n
    assert m["optimizer_states"] == 2 * 4 * n + 2 * 4 * len(sizes)   # m, v + beta1/beta2 powers
    assert m["by_dtype"]["parameters"] == {"float32": 4 * n}
    assert m["peak"] >= m["parameters"] + m["gradients"] + m["optimizer_states"] + m["activations"]
    for p in net[0].parameters():
        p.stop_gradient = True
    trainable = 32 * 10 + 10
    r = pfe.profile(net, [8, 64], training=True, optimizer=paddle.optimizer.Momentum(parameters=net.parameters()))
    assert r.optimizer_step.flops == 4 * trainable
    assert r.memory["gradients"] == 4 * trainable and r.memory["optimizer_states"] == 4 * trainable
    assert r.memory["parameters"] == 4 * n
    r = pfe.profile(net, [8, 64], training=True, optimizer="sgd", amp="O2")
    # amp.decorate(level="O2") casts every float32 parameter, frozen or not, of a non-norm layer
    assert r.memory["parameters"] == 2 * n
    assert r.memory["gradients"] == 2 * trainable
    assert r.memory["optimizer_states"] == 4 * trainable     # fp32 master weights


def test_adam_state_bytes_match_paddles_accumulators():
    net = _mlp()
    r = pfe.profile(net, [8, 64], training=True, optimizer="adam")
    copy = _mlp()
    copy.set_state_dict(net.state_dict())
    opt = paddle.optimizer.Adam(parameters=copy.parameters())
    copy(paddle.randn([8, 64])).sum().backward()
    opt.step()
    real = sum(int(np.prod(t.shape)) * t.element_size() for acc in opt._accumulators.values()
               for t in acc.values())
    assert r.memory["optimizer_states"] == real


def test_activations_are_what_the_backward_keeps():
    r = pfe.profile(_mlp(), [8, 64], training=True)
    # Linear 1 keeps its input (weight gradient), ReLU its output, Linear 2 its input (= ReLU's output)
    assert r.memory["activations"] == 4 * (8 * 64 + 8 * 32)


def test_inference_memory_is_parameters_plus_largest_layer_io():
    r = pfe.profile(_mlp(), [8, 64])
    assert r.memory["parameters"] == 4 * (64 * 32 + 32 + 32 * 10 + 10)
    assert r.memory["gradients"] == 0 and r.backward is None and r.training_flops is None
    assert r.memory["peak"] == r.memory["parameters"] + 4 * (8 * 64 + 8 * 32)   # the first Linear's in + out


# --------------------------------------------------------------------------- invisible, errors, formats

def test_training_profile_leaves_no_gradients_and_identical_model():
    paddle.seed(1)
    net = TinyGPT()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    x = _input([2, 16, 32], True)
    rng = paddle.get_rng_state()[0].current_seed() if hasattr(paddle.get_rng_state()[0], "current_seed") else None
    grad_mode = paddle.is_grad_enabled()
    pfe.profile(net.blocks[0], inputs=(x,), training=True, optimizer="adamw")
    pfe.profile(net, input_spec=[paddle.static.InputSpec([2, 16], "int64")], training=True, optimizer="adam")
    assert all(p.grad is None for p in net.parameters()) and x.grad is None
    after = net.state_dict()
    assert before.keys() == after.keys()
    assert all(np.array_equal(before[k], after[k].numpy()) for k in before)
    assert paddle.is_grad_enabled() == grad_mode
    if rng is not None:
        assert paddle.get_rng_state()[0].current_seed() == rng


def _frozen_mlp():
    net = _mlp()
    for p in net[0].parameters():
        p.stop_gradient = True
    return net


@pytest.mark.parametrize("build,kwargs", [
    (_mlp, {"input_size": [8, 64], "optimizer": "adam"}),
    (_frozen_mlp, {"input_size": [8, 64]}),
    (HandAttention, {"input_size": [B, S, E]}),
    (lambda: SDPAttention(True), {"input_size": [B, S, E], "causal": "half"}),
    (TinyGPT, {"input_spec": [paddle.static.InputSpec([2, 16], "int64")], "optimizer": "adamw"}),
    (lambda: Recomputed(True), {"input_size": [2, 16, 32]}),
    (lambda: paddle.vision.models.resnet18(num_classes=10), {"input_size": [2, 3, 32, 32]}),
    (lambda: nn.Conv2D(4, 8, 3, stride=2, padding=1, dilation=2, groups=2, data_format="NHWC"),
     {"input_size": [2, 9, 9, 4]}),
])
def test_eager_and_trace_agree(build, kwargs):
    paddle.seed(0)
    net = build()
    e = pfe.profile(net, training=True, mode="eager", **kwargs)
    t = pfe.profile(net, training=True, mode="trace", **kwargs)
    assert t.mode == "trace"
    assert (e.forward, e.backward, e.optimizer_step, e.training_flops, e.hardware_flops) == \
        (t.forward, t.backward, t.optimizer_step, t.training_flops, t.hardware_flops)
    assert [(n.name, n.backward) for n in e.layers()] == [(n.name, n.backward) for n in t.layers()]
    for part in ("parameters", "gradients", "optimizer_states"):
        assert e.memory[part] == t.memory[part]


def test_trace_counts_a_lazy_model_without_weights():
    with paddle.LazyGuard():
        net = TinyGPT()
    r = pfe.profile(net, input_spec=[paddle.static.InputSpec([2, 16], "int64")], training=True)
    assert r.mode == "trace" and r.backward.macs == 2 * r.macs


def test_training_arguments_are_checked():
    with pytest.raises(NotImplementedError, match="eager"):
        pfe.profile(_mlp(), inputs=(_input([8, 64], True),), training=True, mode="trace")
    with pytest.raises(ValueError, match="training=True"):
        pfe.profile(_mlp(), [8, 64], optimizer="adam")
    with pytest.raises(ValueError, match="optimizer must be"):
        pfe.profile(_mlp(), [8, 64], training=True, optimizer="adagrad9")
    with pytest.raises(ValueError, match="amp"):
        pfe.profile(_mlp(), [8, 64], training=True, amp="O3")


def test_every_format_carries_the_training_figures():
    r = pfe.profile(_mlp(), [8, 64], training=True, optimizer="adam")
    bwd = r.backward.flops
    assert f"{r.training_flops:,}" in r.table() and f"{r.memory['peak']:,}" in r.table()
    assert f"{r.training_flops:,}" in r.to_markdown()
    d = r.to_dict()
    assert d["training"]["backward_flops"] == bwd and d["memory"]["peak"] == r.memory["peak"]
    assert sum(row["backward_flops"] for row in d["layers"]) == bwd
    csv = r.summary_csv()
    assert f"training,backward_macs,adam,{r.backward.macs}" in csv and f"training,backward_flops,adam,{bwd}" in csv
    assert f"memory,peak,,{r.memory['peak']}" in csv
    assert "Bwd FLOPs" in r.by_type().table() and "Bwd FLOPs" in r.table(depth=1)


def test_cli_train_optimizer_amp(capsys):
    from paddle_flops_ext.cli import main
    assert main(["profile", "paddle.vision.models:LeNet", "--input-size", "2,1,28,28", "--train",
                 "--optimizer", "adam", "--amp", "O2", "--format", "json"]) == 0
    import json
    doc = json.loads(capsys.readouterr().out)
    assert doc["training"]["optimizer"] == "adam" and doc["memory"]["amp"] == "O2"
    assert doc["training"]["training_flops"] == (doc["training"]["forward_flops"] + doc["training"]["backward_flops"]
                                                 + doc["training"]["optimizer_flops"])
    with pytest.raises(SystemExit):
        main(["profile", "paddle.vision.models:LeNet", "--input-size", "2,1,28,28", "--optimizer", "adam"])
    assert "add --train" in capsys.readouterr().err
