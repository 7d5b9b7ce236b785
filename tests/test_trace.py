"""Shape-only counting: mode="trace", programs, LazyGuard models.

Expected figures come from formulas written here (or published figures);
eager-vs-trace tests check that the two engines agree layer by layer.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import traceback

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
import pytest
from paddle.static import InputSpec

import paddle_flops_ext as pfe
from paddle_flops_ext.collect.pir import is_program
from paddle_flops_ext.errors import TraceError

from paddle_flops_ext.models import llama as L
from paddle_flops_ext.models.swin import swin_tiny_test
from paddle_flops_ext.models.vit import vit_tiny_test


def _llama_params(vocab, dim, layers, heads, kv_heads, ffn):
    """LLaMA parameter count, written out: untied embedding + lm_head,
    q/o (dim x dim), k/v (dim x kv_heads*head_dim), gate/up/down, two norm
    weights per block and the final norm."""
    head_dim = dim // heads
    per_block = 2 * dim * dim + 2 * dim * kv_heads * head_dim + 3 * dim * ffn + 2 * dim
    return 2 * vocab * dim + layers * per_block + dim


def _llama_macs(vocab, dim, layers, heads, kv_heads, ffn, seq, batch=1):
    """One MAC per projection weight per token (lm_head included, embedding
    lookup excluded) + QK^T and AV over the full seq x seq score matrix."""
    head_dim = dim // heads
    proj = layers * (2 * dim * dim + 2 * dim * kv_heads * head_dim + 3 * dim * ffn) + dim * vocab
    attention = layers * 2 * seq * seq * heads * head_dim
    return batch * (seq * proj + attention)


def _tokens(batch, seq):
    return [InputSpec([batch, seq], "int64")]


MODELS = {
    "resnet50": (lambda: paddle.vision.models.resnet50(), dict(input_size=[1, 3, 224, 224])),
    "mobilenet_v2": (lambda: paddle.vision.models.mobilenet_v2(), dict(input_size=[1, 3, 64, 64])),
    "vit_tiny": (vit_tiny_test, dict(input_size=[2, 3, 32, 32])),
    "swin_tiny": (swin_tiny_test, dict(input_size=[1, 3, 32, 32])),
    "llama_tiny": (L.llama_tiny_test, dict(input_spec=_tokens(2, 16))),
}


# --------------------------------------------------------------------------
# eager and trace agree
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(MODELS))
def test_eager_and_trace_agree(name):
    build, kw = MODELS[name]
    net = build()
    eager = pfe.profile(net, **kw)
    trace = pfe.profile(net, mode="trace", **kw)
    assert trace.mode == "trace"
    for key in ("macs", "flops", "paddle_flops", "params", "trainable_params"):
        assert getattr(trace, key) == getattr(eager, key), key
    assert trace.macs > 0
    # same layer tree, and every layer's own cost is the same: attribution matches
    assert [n.name for n in trace.layers()] == [n.name for n in eager.layers()]
    for t, e in zip(trace.layers(), eager.layers()):
        assert (t.cost, t.calls, t.params, t.counted_by) == (e.cost, e.calls, e.params, e.counted_by), t.name
        assert t.input_shape == e.input_shape and t.output_shape == e.output_shape, t.name
    assert trace.uncounted == eager.uncounted == []


def test_resnet50_trace_published_figures():
    r = pfe.profile(paddle.vision.models.resnet50(), input_size=[1, 3, 224, 224], mode="trace")
    assert r.macs == 4_089_184_256
    assert r.params == 25_610_152 and r.trainable_params == 25_557_032
    assert r.paddle_flops == 4_111_514_624


def test_llama_tiny_trace_analytic():
    cfg = L.LLAMA_TINY_TEST
    args = (cfg.vocab_size, cfg.dim, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads, cfg.ffn_dim)
    for batch, seq in ((1, 8), (2, 16), (3, 32)):
        r = pfe.profile(L.llama_tiny_test(), input_spec=_tokens(batch, seq), mode="trace")
        assert r.params == _llama_params(*args)
        assert r.macs == _llama_macs(*args, seq=seq, batch=batch)
        assert r.uncounted == []
        attn = r.find("layers.0.attention")
        assert attn.ops["scaled_dot_product_attention"]["calls"] == 1  # one composite op


def test_causal_half_same_in_both_modes():
    net = L.llama_tiny_test()
    kw = dict(input_spec=_tokens(1, 16), causal="half")
    eager, trace = pfe.profile(net, **kw), pfe.profile(net, mode="trace", **kw)
    assert (trace.macs, trace.flops) == (eager.macs, eager.flops)
    assert trace.macs < pfe.profile(net, input_spec=_tokens(1, 16), mode="trace").macs


def test_input_forms_agree():
    class TwoInputs(nn.Layer):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(6, 5), nn.Linear(4, 5)

        def forward(self, x, y=None, scale=3.0):
            return (self.a(x) + self.b(y)) * scale

    net = TwoInputs()
    x, y = paddle.randn([3, 6]), paddle.randn([3, 4])
    full = 3 * 5 * 6 + 3 * 5 * 4
    cases = [(dict(inputs=(x, y)), full), (dict(inputs={"x": x, "y": y, "scale": 2.0}), full),
             (dict(input_size=[[3, 6], [3, 4]]), full),
             # a None dimension is taken as 1 in both modes (x: [1, 6], broadcast in the add)
             (dict(input_spec=[InputSpec([None, 6]), InputSpec([3, 4])]), 1 * 5 * 6 + 3 * 5 * 4)]
    for kw, expected_macs in cases:
        trace, eager = pfe.profile(net, mode="trace", **kw), pfe.profile(net, **kw)
        assert trace.macs == eager.macs == expected_macs
        assert trace.flops == eager.flops


def test_custom_handlers_get_shapes_in_trace_mode():
    class Gate(nn.Layer):
        def forward(self, x):
            return x * F.sigmoid(x)

    def legacy(m, x, y):  # paddle.flops-style handler
        m.total_ops += int(y.numel()) * 4

    def modern(layer, inputs, output):
        return {"macs": 0, "flops": 7 * int(np.prod(inputs[0].shape))}

    net = nn.Sequential(nn.Linear(8, 8), Gate())
    for handler in (legacy, modern):
        kw = dict(input_size=[2, 8], custom_ops={Gate: handler})
        trace, eager = pfe.profile(net, mode="trace", **kw), pfe.profile(net, **kw)
        assert trace.find("1").cost == eager.find("1").cost
        assert trace.find("1").counted_by == eager.find("1").counted_by
        assert trace.flops == eager.flops


# --------------------------------------------------------------------------
# the model is left alone
# --------------------------------------------------------------------------

def _snapshot(net):
    return {
        "forward_in_dict": "forward" in net.__dict__,
        "forward_func": net.forward.__func__,
        "original_funcs": dict(net._original_funcs),
        "state": {k: v.numpy().copy() for k, v in net.state_dict().items()},
        "training": [l.training for l in net.sublayers(include_self=True)],
        "hooks": [(len(l._forward_pre_hooks), len(l._forward_post_hooks)) for l in net.sublayers(include_self=True)],
    }


def _globals_snapshot():
    import paddle.nn.layer.layers as layers_mod
    return (layers_mod.name_struct, traceback.extract_stack, F.scaled_dot_product_attention,
            paddle.in_dynamic_mode())


def _assert_same(before, after):
    assert before["forward_in_dict"] == after["forward_in_dict"] is False
    assert before["forward_func"] is after["forward_func"]
    assert before["original_funcs"] == after["original_funcs"]
    assert before["state"].keys() == after["state"].keys()
    for k in before["state"]:
        np.testing.assert_array_equal(before["state"][k], after["state"][k])
    assert before["training"] == after["training"]
    assert before["hooks"] == after["hooks"]


def test_trace_leaves_model_and_paddle_unchanged():
    net = paddle.vision.models.mobilenet_v2(scale=0.35)
    net.train()
    net.features[1].eval()  # a mix of modes must survive
    before, glob = _snapshot(net), _globals_snapshot()
    pfe.profile(net, input_size=[1, 3, 32, 32], mode="trace")
    _assert_same(before, _snapshot(net))
    assert _globals_snapshot() == glob
    y = net(paddle.randn([1, 3, 32, 32]))  # still runs eagerly
    assert isinstance(y, paddle.Tensor)


class _NeedsValues(nn.Layer):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        h = self.fc(x)
        k = 1 + int(max(h.tolist()[0]) > 0)  # a value only a real run knows
        return h[:, :k]


def test_untraceable_model_raises_clear_error_and_is_left_alone():
    net = _NeedsValues()
    before, glob = _snapshot(net), _globals_snapshot()
    with pytest.raises(TraceError) as info:
        pfe.profile(net, input_size=[2, 8], mode="trace")
    assert isinstance(info.value, RuntimeError)
    msg = str(info.value)
    assert "_NeedsValues" in msg and "tolist" in msg and "mode='eager'" in msg
    _assert_same(before, _snapshot(net))
    assert _globals_snapshot() == glob
    assert pfe.profile(net, input_size=[2, 8]).macs == 2 * 8 * 8  # eager mode still counts it


def test_wrong_input_rank_names_the_layer():
    net = nn.Sequential(nn.Linear(8, 8), nn.Sequential(nn.Conv2D(8, 4, 3)))
    with pytest.raises(TraceError) as info:
        pfe.profile(net, input_size=[2, 8], mode="trace")
    msg = str(info.value)
    assert "'1.0' (Conv2D)" in msg and "[2, 8]" in msg and "input_size" in msg


def test_tensor_control_flow_goes_through_to_static():
    class Branchy(nn.Layer):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(8, 16), nn.Linear(8, 16)

        def forward(self, x):
            if x.mean() > 0:
                y = self.a(x) * 2.0
            else:
                y = self.b(x)
            return y

    net = Branchy()
    before = _snapshot(net)
    r = pfe.profile(net, input_size=[4, 8], mode="trace")
    _assert_same(before, _snapshot(net))
    # both branches are in the program and both are counted
    assert r.find("a").cost.macs == r.find("b").cost.macs == 4 * 16 * 8
    assert r.macs == 2 * 4 * 16 * 8
    assert any("branch" in n for n in r.notes) and any("to_static" in n for n in r.notes)


# --------------------------------------------------------------------------
# LazyGuard: models too big for this machine
# --------------------------------------------------------------------------

def test_lazy_7b_counted_without_materialising():
    """llama_7b needs 27 GB of fp32 weights (the test machine has 24 GB); run
    in a fresh process so its peak RSS is its own."""
    code = textwrap.dedent("""
        import json, resource, warnings
        def peak_rss_mb():
            # this process's own peak (VmHWM): ru_maxrss would include the
            # parent's high-water mark, inherited through fork and exec
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        warnings.filterwarnings("ignore")
        import paddle, paddle_flops_ext as pfe
        from paddle_flops_ext.models import llama as L
        with paddle.LazyGuard():
            m = L.llama_7b()
        r = pfe.profile(m, input_spec=[paddle.static.InputSpec([1, 128], "int64")], mode="trace")
        print(json.dumps({"params": r.params, "trainable": r.trainable_params, "macs": r.macs,
                          "uncounted": r.uncounted,
                          "materialised": any(p._is_initialized() for p in m.parameters()),
                          "rss_mb": peak_rss_mb()}))
    """)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=repo)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    expected_params = _llama_params(32000, 4096, 32, 32, 32, 11008)
    assert expected_params == 6_738_415_616
    assert res["params"] == res["trainable"] == expected_params
    assert res["macs"] == _llama_macs(32000, 4096, 32, 32, 32, 11008, seq=128)
    assert res["uncounted"] == []
    assert not res["materialised"]
    assert res["rss_mb"] < 2048  # vs 27 GB if the weights were allocated


def test_lazy_gqa_model_in_process():
    with paddle.LazyGuard():
        m = L.llama(L.LlamaConfig(vocab_size=1000, dim=512, n_layers=3, n_heads=8, n_kv_heads=2,
                                  ffn_dim=1376, max_seq_len=64))
    r = pfe.profile(m, input_spec=[InputSpec([None, 64], "int64")], mode="trace")  # None -> 1
    assert r.params == _llama_params(1000, 512, 3, 8, 2, 1376)
    assert r.macs == _llama_macs(1000, 512, 3, 8, 2, 1376, seq=64)
    assert not any(p._is_initialized() for p in m.parameters())


# --------------------------------------------------------------------------
# programs given directly
# --------------------------------------------------------------------------

@contextlib.contextmanager
def _isolated_static_state():
    """Static programs built by a test get their own scope and parameter
    names, so nothing they create lingers in Paddle's global static state."""
    with paddle.static.scope_guard(paddle.static.Scope()), paddle.utils.unique_name.guard():
        yield


def test_legacy_static_program():
    from paddle import pir_utils

    with pir_utils.OldIrGuard(), _isolated_static_state():
        main, startup = paddle.static.Program(), paddle.static.Program()
        with paddle.static.program_guard(main, startup):
            x = paddle.static.data("x", [None, 784], "float32")
            h = paddle.static.nn.fc(x, 100, activation="relu")
            paddle.static.nn.fc(h, 10)
            img = paddle.static.data("img", [None, 3, 8, 8], "float32")
            c = paddle.static.nn.conv2d(img, num_filters=4, filter_size=3)
            paddle.static.nn.batch_norm(c)
    assert type(main).__module__ == "paddle.base.framework" and is_program(main)
    assert paddle.in_dynamic_mode()
    fc_macs = 784 * 100 + 100 * 10
    conv_macs = 4 * 6 * 6 * (3 * 3 * 3)
    params = (784 * 100 + 100) + (100 * 10 + 10) + (4 * 27 + 4) + 4 * 4  # bn: scale, bias, mean, var
    r = pfe.profile(main)  # None batch -> 1
    assert r.macs == fc_macs + conv_macs
    assert r.params == params and r.trainable_params == params - 8
    assert r.root.ops["conv2d"]["calls"] == 1 and r.root.ops["matmul"]["calls"] == 2
    assert any("translate_to_pir" in n for n in r.notes) and any("-1" in n for n in r.notes)
    assert pfe.profile(main, input_size=[16, 784]).macs == 16 * (fc_macs + conv_macs)


def test_pir_static_program_and_concrete_program():
    paddle.enable_static()
    try:
        with _isolated_static_state():
            main, startup = paddle.static.Program(), paddle.static.Program()
            with paddle.static.program_guard(main, startup):
                x = paddle.static.data("x", [None, 3, 16, 16], "float32")
                y = nn.Conv2D(3, 8, 3, padding=1, groups=1)(x)
                y = F.relu(y)
                y = paddle.flatten(y, 1)
                nn.Linear(8 * 16 * 16, 10)(y)
    finally:
        paddle.disable_static()
    assert is_program(main)
    batch = 4
    conv = batch * 8 * 16 * 16 * 27
    fc = batch * 10 * 8 * 16 * 16
    r = pfe.profile(main, input_size=[batch, 3, 16, 16])
    assert r.macs == conv + fc
    assert r.params == (8 * 27 + 8) + (8 * 16 * 16 * 10 + 10)
    # flops: 2 per MAC + one per bias add (conv and linear biases are separate add ops here)
    assert r.flops == 2 * (conv + fc) + batch * 8 * 16 * 16 + batch * 10
    assert r.uncounted == []

    net = nn.Sequential(nn.Linear(6, 7), nn.ReLU(), nn.Linear(7, 2))
    def run(t):
        return net(t)

    concrete = paddle.jit.to_static(run, input_spec=[InputSpec([5, 6])], full_graph=True).concrete_program
    assert is_program(concrete)
    assert pfe.profile(concrete).macs == 5 * (6 * 7 + 7 * 2)


def test_program_arguments_checked():
    assert not is_program(object())
    with pytest.raises(TypeError):
        pfe.profile(object())
    paddle.enable_static()
    try:
        with _isolated_static_state():
            main = paddle.static.Program()
            with paddle.static.program_guard(main):
                paddle.static.data("x", [2, 3], "float32") * 2.0
    finally:
        paddle.disable_static()
    with pytest.raises(ValueError):
        pfe.profile(main, inputs=(paddle.randn([2, 3]),))


def test_jit_loaded_layer_counted_in_trace_mode(jit_saved):
    """A paddle.jit.load-ed layer runs a saved program (eager mode sees one
    opaque run_program op); trace mode appends that program and counts it."""
    path = jit_saved("nn.Sequential(nn.Conv2D(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))",
                     [None, 3, 8, 8])
    loaded = paddle.jit.load(path)
    batch = 2
    r = pfe.profile(loaded, input_size=[batch, 3, 8, 8], mode="trace")
    conv, fc = batch * 4 * 6 * 6 * 27, batch * 5 * 144
    assert r.macs == conv + fc
    assert r.flops == 2 * (conv + fc) + batch * 4 * 6 * 6 + batch * 5  # + bias adds
    assert r.params == (4 * 27 + 4) + (144 * 5 + 5)
    assert r.uncounted == []
