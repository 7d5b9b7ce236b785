"""Trace mode on code written for Paddle's legacy static graph, and on Python
branches over a parameter's value (collect/legacy_static.py,
collect/parameter_values.py).

The module-level functions below are written the way PaddleDetection 2.6's
``ppdet/modeling/ops.py`` is: the dynamic branch calls ``paddle._legacy_C_ops``
(the module, or a builtin taken from it), the static branch appends a legacy
operator with ``LayerHelper``, which rejects the values of a PIR program.
Expected figures are written out here.
"""
from __future__ import annotations

import sys

import numpy as np
import paddle
import paddle._legacy_C_ops as legacy_ops
import paddle.nn as nn
import pytest
from paddle import in_dynamic_mode
from paddle._legacy_C_ops import matmul_v2 as legacy_matmul_v2
from paddle.base.layer_helper import LayerHelper

import paddle_flops_ext as pfe
from paddle_flops_ext.collect.legacy_static import append_legacy_op
from paddle_flops_ext.errors import TraceError

THIS = sys.modules[__name__]


def legacy_matmul(x, y):
    """``x @ y.T`` through a builtin bound at import time."""
    if in_dynamic_mode():
        return legacy_matmul_v2(x, y, "trans_x", False, "trans_y", True)
    helper = LayerHelper("matmul_v2", **locals())
    out = helper.create_variable_for_type_inference(x.dtype)
    helper.append_op(type="matmul_v2", inputs={"X": x, "Y": y}, outputs={"Out": out},
                     attrs={"trans_x": False, "trans_y": True})
    return out


def legacy_nms(boxes, scores):
    """Three outputs, one dispensable input left out (``rois_num``)."""
    if in_dynamic_mode():
        out, index, count = legacy_ops.multiclass_nms3(
            boxes, scores, None, "background_label", -1, "score_threshold", 0.0, "nms_top_k", 10,
            "nms_threshold", 0.5, "keep_top_k", 5, "nms_eta", 1.0, "normalized", True)
        return out, count
    helper = LayerHelper("multiclass_nms3", **locals())
    out = helper.create_variable_for_type_inference(boxes.dtype)
    helper.append_op(type="multiclass_nms3", inputs={"BBoxes": boxes, "Scores": scores}, outputs={"Out": out})
    return out, None


def legacy_needs_values(x):
    """A dynamic branch that reads tensor values: not traceable."""
    if in_dynamic_mode():
        return x[:, :1 + int(max(x.tolist()[0]) > 0)]
    helper = LayerHelper("scale", **locals())
    out = helper.create_variable_for_type_inference(x.dtype)
    helper.append_op(type="scale", inputs={"X": x}, outputs={"Out": out}, attrs={"scale": 2.0})
    return out


class Detector(nn.Layer):
    """features = x @ W.T (legacy matmul_v2), then NMS over boxes derived from them."""

    def __init__(self, fin=8, fout=12, classes=3):
        super().__init__()
        self.weight = self.create_parameter([fout, fin])
        self.classes = classes
        self.seen = []

    def forward(self, x):
        self.seen.append((THIS.in_dynamic_mode, THIS.legacy_ops, THIS.legacy_matmul_v2))
        feats = legacy_matmul(x, self.weight)                               # [B, N, fout]
        boxes = paddle.abs(feats[:, :, :4])                                 # [B, N, 4]
        scores = paddle.nn.functional.sigmoid(feats[:, :, 4:4 + self.classes].transpose([0, 2, 1]))
        return legacy_nms(boxes, scores)


def _originals():
    return THIS.in_dynamic_mode, THIS.legacy_ops, THIS.legacy_matmul_v2


def test_legacy_static_code_traces_like_eager_and_globals_come_back():
    before = _originals()
    assert before == (paddle.in_dynamic_mode, paddle._legacy_C_ops, paddle._legacy_C_ops.matmul_v2)
    net = Detector()
    batch, n, fin, fout = 2, 16, 8, 12
    eager = pfe.profile(net, [batch, n, fin], mode="eager")
    traced = pfe.profile(net, [batch, n, fin], mode="trace")
    # while tracing, the three globals were stand-ins; afterwards the very same objects again
    during = net.seen[-1]
    assert all(a is not b for a, b in zip(during, before))
    assert _originals() == before and all(a is b for a, b in zip(_originals(), before))

    assert batch * n * fin * fout == 3072
    assert traced.find("").ops["matmul"]["macs"] == 3072          # legacy matmul_v2 -> pd_op.matmul
    assert eager.find("").ops["matmul_v2"]["macs"] == 3072
    assert traced.find("").ops["multiclass_nms3"]["calls"] == eager.find("").ops["multiclass_nms3"]["calls"] == 1
    assert (traced.macs, traced.flops, traced.params) == (eager.macs, eager.flops, eager.params)
    assert not any("to_static" in note for note in traced.notes)   # traced directly


def test_untraceable_dynamic_branch_still_raises_and_restores():
    class Reads(nn.Layer):
        def forward(self, x):
            return legacy_needs_values(x)

    before = _originals()
    with pytest.raises(TraceError, match="mode='eager'"):
        pfe.profile(Reads(), [2, 4], mode="trace")
    assert all(a is b for a, b in zip(_originals(), before))
    pfe.profile(Reads(), [2, 4], mode="eager")  # eager runs it


EAGER_ONES = paddle.ones([4, 4])


@pytest.mark.parametrize("args, why", [
    (lambda x: (x, EAGER_ONES, "trans_x", False), "not a value of the traced program"),
    (lambda x: (x, x, 3, "trans_y", True), "cannot be traced"),
])
def test_legacy_call_the_adapter_cannot_map_raises(args, why):
    from paddle.base import framework
    import paddle.pir.core as ir

    with framework._dygraph_guard(None), ir.program_guard(ir.Program(), ir.Program()):
        x = paddle.static.data("x", [2, 4], "float32")
        with pytest.raises(TypeError, match=why):
            append_legacy_op("matmul_v2", args(x))


def test_other_threads_get_the_plain_answer_while_tracing():
    import threading

    seen = {}

    def other_thread():
        seen["other"] = THIS.in_dynamic_mode()

    class Traced(nn.Layer):
        def forward(self, v):
            seen["tracing"] = THIS.in_dynamic_mode()
            worker = threading.Thread(target=other_thread)
            worker.start()
            worker.join()
            return legacy_matmul(v, v)

    pfe.profile(Traced(), [2, 3], mode="trace")
    # the profiling thread takes the dynamic branch; a thread started during
    # the trace is in dynamic mode, as it would be without one (Paddle's own
    # switch would have left it in static mode for good)
    assert seen == {"tracing": True, "other": True}


def test_legacy_call_outside_profile_is_plain():
    x = paddle.to_tensor(np.arange(6, dtype="float32").reshape(2, 3))
    out = legacy_matmul(x, x)
    np.testing.assert_allclose(out.numpy(), x.numpy() @ x.numpy().T)
    assert type(THIS.legacy_matmul_v2).__name__ == "builtin_function_or_method"


class Gate(nn.Layer):
    """Branches on a one-element parameter, as PaddleDetection's RepVggBlock
    (``if self.alpha:``)."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.a = nn.Linear(8, 8)
        self.b = nn.Linear(8, 8)
        self.alpha = self.create_parameter([1], default_initializer=nn.initializer.Constant(alpha))

    def forward(self, x):
        if self.alpha:
            return self.a(x) + self.alpha * self.b(x)
        return self.a(x)


@pytest.mark.parametrize("alpha, branch_macs", [(1.0, 2 * 64), (0.0, 64)])
def test_branch_on_a_parameter_takes_the_eager_branch(alpha, branch_macs):
    bool_before = paddle.pir.Value.__dict__["__bool__"]
    net = Gate(alpha)
    eager = pfe.profile(net, [1, 8], mode="eager")
    traced = pfe.profile(net, [1, 8], mode="trace")
    assert eager.macs == traced.macs == branch_macs
    assert (traced.flops, traced.params) == (eager.flops, eager.params)
    assert not any("to_static" in note for note in traced.notes)
    assert paddle.pir.Value.__dict__["__bool__"] is bool_before


def test_branch_on_an_unmaterialised_parameter_is_not_answered():
    with paddle.LazyGuard():
        net = Gate()
    traced = pfe.profile(net, [1, 8], mode="trace")
    # no value to read: to_static's program counts both branches, and says so
    assert traced.macs == 3 * 64
    assert any("every branch of an if is counted" in note for note in traced.notes)
