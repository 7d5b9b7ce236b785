"""A parameter a forward builds on its first call (``if self.w is None:
self.w = self.create_parameter(...)``) is the model's: counted in
``params`` in both modes and, in eager training, in the optimizer step and
memory; the model is left without it, as before profiling."""
from __future__ import annotations

import paddle
import pytest

import paddle_flops_ext as pfe

N_IN, N_OUT, BATCH = 4, 5, 2


class BuiltOnFirstCall(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.w = None

    def forward(self, x):
        if self.w is None:
            self.w = self.create_parameter([x.shape[-1], N_OUT])
        return paddle.matmul(x, self.w)


@pytest.mark.parametrize("mode", ["eager", "trace"])
def test_a_parameter_built_in_forward_is_counted_and_removed_again(mode):
    net = BuiltOnFirstCall()
    r = pfe.profile(net, [BATCH, N_IN], mode=mode)
    assert r.macs == BATCH * N_IN * N_OUT
    assert r.params == r.trainable_params == N_IN * N_OUT
    assert net.w is None and net.parameters() == []


class BuiltInInit(BuiltOnFirstCall):
    def __init__(self):
        super().__init__()
        self.w = self.create_parameter([N_IN, N_OUT])


def test_eager_training_prices_the_step_and_memory_of_a_parameter_built_in_forward():
    r = pfe.profile(BuiltOnFirstCall(), [BATCH, N_IN], mode="eager", training=True, optimizer="adam")
    same = pfe.profile(BuiltInInit(), [BATCH, N_IN], mode="eager", training=True, optimizer="adam")
    assert r.params == N_IN * N_OUT
    assert r.optimizer_step == same.optimizer_step and r.optimizer_step.flops > 0
    assert r.backward == same.backward
    assert r.memory["parameters"] == 4 * N_IN * N_OUT
    assert r.memory["optimizer_states"] == 2 * 4 * N_IN * N_OUT + 2 * 4   # m, v per element; two beta powers


def test_trace_training_says_it_cannot_price_a_parameter_built_in_forward():
    r = pfe.profile(BuiltOnFirstCall(), [BATCH, N_IN], mode="trace", training=True, optimizer="adam")
    assert r.params == N_IN * N_OUT
    assert not r.exact and "built during the traced forward" in r.inexact[0]
    with pytest.raises(pfe.StrictError):
        pfe.profile(BuiltOnFirstCall(), [BATCH, N_IN], mode="trace", training=True, optimizer="adam", strict=True)
