"""The model is left exactly as it was, bad input is refused clearly, custom
handlers work (paddle.flops-style ones unchanged), results render."""
import csv
import io
import json

import numpy as np
import paddle
import paddle.nn as nn
import pytest

import paddle_flops_ext as pfe


class Net(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2D(8)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = self.bn(self.conv(x))
        x = x.mean(axis=[2, 3])
        return self.fc(x)


def snapshot(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def hooks_of(model):
    return [(len(l._forward_pre_hooks), len(l._forward_post_hooks)) for l in model.sublayers(include_self=True)]


def assert_unchanged(model, before_state, before_modes, before_hooks, before_attrs):
    after = snapshot(model)
    assert after.keys() == before_state.keys()
    for k in after:
        np.testing.assert_array_equal(after[k], before_state[k])
    assert [l.training for l in model.sublayers(include_self=True)] == before_modes
    assert hooks_of(model) == before_hooks
    assert [sorted(vars(l)) for l in model.sublayers(include_self=True)] == before_attrs
    assert all(p.grad is None for p in model.parameters())


def capture(model):
    return (snapshot(model), [l.training for l in model.sublayers(include_self=True)],
            hooks_of(model), [sorted(vars(l)) for l in model.sublayers(include_self=True)])


def test_model_unchanged_after_success():
    net = Net()
    net.train()
    net.fc.eval()  # a mixed mode must come back as it was
    before = capture(net)
    pfe.profile(net, [2, 3, 8, 8])
    assert_unchanged(net, *before)


def test_model_unchanged_when_forward_raises():
    net = Net()
    before = capture(net)
    with pytest.raises(ValueError) as err:
        pfe.profile(net, [2, 5, 8, 8])  # 5 channels into a 3-channel conv
    msg = str(err.value)
    assert "conv" in msg and "Conv2D" in msg and "[2, 5, 8, 8]" in msg
    assert_unchanged(net, *before)
    # and the model still works normally
    assert net(paddle.randn([2, 3, 8, 8])).shape == [2, 4]


def test_wrong_size_names_layer_where_shapes_stop_matching():
    net = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(30, 5))
    with pytest.raises(ValueError, match=r"layer '2' \(Linear\)"):
        pfe.profile(net, [1, 10])


def test_nothing_printed(capsys):
    pfe.profile(Net(), [1, 3, 8, 8])
    assert capsys.readouterr().out == ""


def test_flops_dropin_prints_only_total_line(capsys):
    n = pfe.flops(Net(), [1, 3, 8, 8])
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("Total Flops: ") and str(n) in out[0]


@pytest.mark.parametrize("bad,exc", [
    ([], ValueError), ([1, 0, 8, 8], ValueError), ([1, -3, 8, 8], ValueError),
    ("1,3,8,8", TypeError), ([1, 3.5, 8, 8], TypeError), (None, ValueError)])
def test_bad_input_size(bad, exc):
    with pytest.raises(exc):
        pfe.profile(Net(), bad)


def test_not_a_layer():
    with pytest.raises(TypeError, match="paddle.nn.Layer"):
        pfe.profile(lambda x: x, [1, 3])


def test_conflicting_inputs():
    with pytest.raises(ValueError, match="only one"):
        pfe.profile(Net(), [1, 3, 8, 8], inputs=(paddle.randn([1, 3, 8, 8]),))


def test_integer_inputs_via_spec_and_tensors():
    class Tok(nn.Layer):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(50, 16)
            self.fc = nn.Linear(16, 3)

        def forward(self, ids, mask=None):
            h = self.emb(ids)
            if mask is not None:
                h = h * mask.unsqueeze(-1)
            return self.fc(h)

    r = pfe.profile(Tok(), input_spec=[paddle.static.InputSpec([2, 7], "int64")])
    assert r.macs == 2 * 7 * 16 * 3
    ids = paddle.to_tensor(np.random.randint(0, 50, (2, 7)).astype("int64"))
    mask = paddle.ones([2, 7])
    r2 = pfe.profile(Tok(), inputs={"ids": ids, "mask": mask})
    assert r2.macs == 2 * 7 * 16 * 3
    assert r2.params == 50 * 16 + 16 * 3 + 3


class Scale(nn.Layer):
    def __init__(self):
        super().__init__()
        self.w = self.create_parameter([4])

    def forward(self, x):
        return x * self.w


def test_paddle_style_custom_op_unchanged():
    def count_scale(m, x, y):  # exactly how paddle.flops handlers are written
        x = x[0]
        m.total_ops += int(x.numel())

    net = nn.Sequential(nn.Linear(4, 4), Scale())
    before = [sorted(vars(l)) for l in net.sublayers(include_self=True)]
    total = pfe.flops(net, [3, 4], custom_ops={Scale: count_scale})
    assert total == 3 * 4 * 4 + 3 * 4
    r = pfe.profile(net, [3, 4], custom_ops={Scale: count_scale})
    assert r.find("1").counted_by == "legacy"
    assert [sorted(vars(l)) for l in net.sublayers(include_self=True)] == before


def test_register_decorator_and_return_kinds():
    class Gate(nn.Layer):
        def forward(self, x):
            return x * paddle.nn.functional.sigmoid(x)

    @pfe.register(Gate)
    def count_gate(layer, inputs, output):
        return pfe.Cost(macs=0, flops=5 * int(inputs[0].numel()), paddle_flops=0)

    try:
        r = pfe.profile(nn.Sequential(Gate()), [2, 10])
        assert r.flops == 100 and r.find("0").counted_by == "user"
    finally:
        pfe.unregister(Gate)
    with pytest.raises(TypeError):
        pfe.register("not a class")


def test_params_on_non_leaf_layers_and_shared_and_uncalled():
    class Tokenish(nn.Layer):
        def __init__(self):
            super().__init__()
            self.cls_token = self.create_parameter([1, 1, 32])
            self.pos = self.create_parameter([1, 5, 32])
            self.proj = nn.Linear(32, 32)
            self.unused = nn.Linear(32, 100)
            self.tied = self.proj  # the same layer twice

        def forward(self, x):
            x = paddle.concat([self.cls_token.expand([x.shape[0], 1, 32]), x], axis=1) + self.pos
            return self.tied(self.proj(x))

    r = pfe.profile(Tokenish(), [2, 4, 32])
    assert r.params == 32 + 5 * 32 + (32 * 32 + 32) + (32 * 100 + 100)
    root = r.find("")
    assert root.params == 32 + 5 * 32  # owned by the non-leaf model itself
    assert r.find("proj").calls == 2      # called twice, counted twice
    assert r.macs == 2 * (2 * 5 * 32 * 32)
    assert "unused" in r.not_called


def test_non_trainable_split():
    net = Net()
    net.conv.weight.stop_gradient = True
    r = pfe.profile(net, [1, 3, 8, 8])
    bn_stats = 2 * 8
    assert r.params - r.trainable_params == 8 * 3 * 9 + bn_stats


def test_renderers():
    r = pfe.profile(Net(), [1, 3, 8, 8])
    d = json.loads(r.to_json())
    assert set(d["total"]) >= {"macs", "flops", "params", "trainable_params", "paddle_flops"}
    row = d["layers"][1]
    assert {"name", "type", "input_shape", "output_shape", "params", "macs", "flops"} <= set(row)
    assert "uncounted" in d
    rows = list(csv.DictReader(io.StringIO(r.to_csv())))
    assert sum(int(x["macs"]) for x in rows) == r.macs
    md = r.to_markdown()
    assert md.startswith("| Layer") and "**Total**" in md
    text = str(r)
    assert "conv" in text and "Total MACs" in text
    tree = r.table(depth=1)
    assert "conv" in tree and "Total params" in tree


def test_uncounted_reported_when_functional_counting_off():
    r = pfe.profile(nn.Sequential(Scale()), [2, 4], count_functional=False)
    assert [e["name"] for e in r.uncounted] == ["Scale"]
    with pytest.raises(RuntimeError, match="Scale"):
        pfe.profile(nn.Sequential(Scale()), [2, 4], count_functional=False, strict=True)


def test_to_static_model_counted_and_left_static():
    net = Net()
    static = paddle.jit.to_static(net, full_graph=True)
    forward_before = static.forward
    r = pfe.profile(static, [1, 3, 8, 8])
    assert r.macs == 8 * 64 * 27 + 8 * 4
    assert static.forward is forward_before


def test_loaded_inference_model_is_counted(jit_saved):
    path = jit_saved("nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2))", [3, 8])
    loaded = paddle.jit.load(path)
    r = pfe.profile(loaded, [3, 8])
    assert r.macs == 3 * (8 * 4 + 4 * 2)
    assert r.params == 8 * 4 + 4 + 4 * 2 + 2
    assert r.uncounted == []


@pytest.mark.parametrize("mode", ["eager", "trace"])
def test_global_train_mode_untouched(mode):
    tracer = paddle.base.framework._dygraph_tracer()
    net = Net()
    net.train()  # (this itself sets the global mode)
    before = tracer._train_mode
    pfe.profile(net, [1, 3, 8, 8], mode=mode)
    assert tracer._train_mode == before
    assert all(l.training for l in net.sublayers(include_self=True))


def test_result_nodes_built_from_records_set_every_field():
    """build_result fills nodes field by field (not through LayerNode's
    constructor): a field it forgot would surface only when read. Every slot
    of every node is set, and the training-only figures read as zero."""
    from paddle_flops_ext.formulas.registry import ZERO
    from paddle_flops_ext.report.result import LayerNode
    r = pfe.profile(Net(), [1, 3, 8, 8])
    for node in r.layers():
        missing = [name for name in LayerNode.__slots__ if not hasattr(node, name)]
        assert not missing, (node.name, missing)
        assert node.backward == ZERO and node.backward_ops == {} and node.training_work is None
