"""Parameter ownership, checked against a plain per-parameter loop written
here: shared parameters count once (at the first layer holding them),
unset slots (``bias_attr=False``) hold None, frozen ones are not
trainable, and ``held`` counts every parameter a layer holds."""
from __future__ import annotations

import math

import paddle
from hypothesis import HealthCheck, given, settings, strategies as st

import paddle_flops_ext as pfe
from paddle_flops_ext.collect.params import parameter_counts


def reference_counts(layers):
    seen = set()
    owned, trainable, held = [], [], []
    for layer in layers:
        o = t = h = 0
        for p in layer._parameters.values():
            if p is None:
                continue
            n = math.prod(p.shape)
            h += n
            if id(p) not in seen:
                seen.add(id(p))
                o += n
                t += 0 if p.stop_gradient else n
        owned.append(o)
        trainable.append(t)
        held.append(h)
    return owned, trainable, held


layer_plans = st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5), st.booleans(), st.booleans(),
                                 st.one_of(st.none(), st.integers(0, 7))), min_size=1, max_size=8)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer_plans)
def test_parameter_counts_match_a_per_parameter_loop(plans):
    """Each plan: Linear(in, out), with a bias or not, frozen or not, and
    its weight possibly tied to an earlier layer's."""
    layers = [paddle.nn.Layer()]
    for i, (fan_in, fan_out, bias, frozen, tie) in enumerate(plans):
        linear = paddle.nn.Linear(fan_in, fan_out, bias_attr=None if bias else False)
        if tie is not None and tie < i:
            linear.weight = layers[1 + tie].weight   # shared: held by two layers
        if frozen:
            linear.weight.stop_gradient = True
        layers.append(linear)
    counts = parameter_counts(layers)
    assert (counts.params, counts.trainable, counts.held) == reference_counts(layers)


def test_shared_weight_counts_once_in_the_profile_and_twice_in_paddle_flops_params():
    a, b = paddle.nn.Linear(8, 8), paddle.nn.Linear(8, 8)
    b.weight = a.weight
    net = paddle.nn.Sequential(a, b)
    r = pfe.profile(net, [2, 8])
    assert r.params == 8 * 8 + 8 + 8                     # the weight once, two biases
    assert r.find("1").params == 8                       # only its bias is its own
    assert r.paddle_params_reported == 2 * (8 * 8 + 8)   # paddle.flops sums each leaf's parameters
