"""Recurrent layers and cells against counts derived here.

Per time step, per sample, per (layer, direction) with hidden size H and G
gates (SimpleRNN 1, GRU 3, LSTM 4):
  MACs  = G*H*in + G*H*h_in (+ H*P for an LSTM projection of size P),
  FLOPs = 2*MACs + 2*G*H bias adds + element-wise work per hidden unit:
    SimpleRNN: add the two products, tanh -> 2 (relu: 1)
    LSTM: 4 adds, 3 sigmoids of 3, tanh, f*c + i*g (3), tanh, o*tanh(c) -> 19
    GRU: 2 adds, 2 sigmoids of 3, r*h, add, tanh, (h - c)*z + c (3) -> 14
"""
import paddle
import paddle.nn as nn
import pytest

import paddle_flops_ext as pfe
from paddle_hooks import paddle_view
from formula_helpers import through_ops

GATES = {"tanh": 1, "relu": 1, "LSTM": 4, "GRU": 3}
ELEMENTWISE = {"tanh": 1 + 1, "relu": 1 + 0,
               "LSTM": 4 + 3 * 3 + 1 + 3 + 1 + 1,
               "GRU": 2 + 2 * 3 + 1 + 1 + 1 + 3}


def step(kind, in_size, hidden, proj=0):
    """(MACs, FLOPs) of one cell step on one sample."""
    g = GATES[kind]
    h_in = proj or hidden
    macs = g * hidden * in_size + g * hidden * h_in + (hidden * proj if proj else 0)
    flops = 2 * macs + 2 * g * hidden + ELEMENTWISE[kind] * hidden
    return macs, flops


def network(kind, in_size, hidden, layers, directions, steps, batch, proj=0):
    macs = flops = 0
    for layer in range(layers):
        layer_in = in_size if layer == 0 else directions * (proj or hidden)
        m, f = step(kind, layer_in, hidden, proj)
        macs += directions * m
        flops += directions * f
    return macs * steps * batch, flops * steps * batch


def assert_layer_counts(r, macs, flops):
    assert (r.macs, r.flops) == (macs, flops)
    assert paddle_view(r) == macs + (flops - 2 * macs)   # RNN layers are not hooked by paddle.flops


MAKERS = {
    "tanh": lambda i, h, **kw: nn.SimpleRNN(i, h, **kw),
    "relu": lambda i, h, **kw: nn.SimpleRNN(i, h, activation="relu", **kw),
    "LSTM": lambda i, h, **kw: nn.LSTM(i, h, **kw),
    "GRU": lambda i, h, **kw: nn.GRU(i, h, **kw),
}


@pytest.mark.parametrize("kind", list(MAKERS))
@pytest.mark.parametrize("layers,direction", [(1, "forward"), (2, "bidirect"), (3, "forward")])
def test_fused_rnn_layers(kind, layers, direction):
    i, h, t, n = 3, 4, 5, 2
    net = MAKERS[kind](i, h, num_layers=layers, direction=direction)
    r = pfe.profile(net, input_size=[n, t, i])
    assert_layer_counts(r, *network(kind, i, h, layers, 2 if direction == "bidirect" else 1, t, n))


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_time_major(kind):
    i, h, t, n = 2, 3, 6, 4
    r = pfe.profile(MAKERS[kind](i, h, time_major=True, num_layers=2, direction="bidirect"),
                    input_size=[t, n, i])
    assert_layer_counts(r, *network(kind, i, h, 2, 2, t, n))


def test_sequence_length_does_not_skip_padded_steps():
    class Net(nn.Layer):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 4)

        def forward(self, x):
            seq = paddle.to_tensor([5, 2], dtype="int64")
            return self.lstm(x, None, seq)

    r = pfe.profile(Net(), input_size=[2, 5, 3])
    assert (r.macs, r.flops) == network("LSTM", 3, 4, 1, 1, 5, 2)


@pytest.mark.parametrize("layers,direction", [(1, "forward"), (2, "bidirect")])
def test_lstm_projection_runs_cells_and_they_count(layers, direction):
    # proj_size disables the fused kernel: Paddle steps LSTMCell sub-layers.
    i, h, p, t, n = 3, 4, 2, 5, 2
    net = nn.LSTM(i, h, num_layers=layers, direction=direction, proj_size=p)
    assert not net.could_use_cudnn
    r = pfe.profile(net, input_size=[n, t, i])
    assert_layer_counts(r, *network("LSTM", i, h, layers, 2 if direction == "bidirect" else 1, t, n, proj=p))
    assert r.find("").cost.flops == 0          # the outer layer leaves the counting to its cells


CELLS = {
    "tanh": lambda i, h, **kw: nn.SimpleRNNCell(i, h, **kw),
    "relu": lambda i, h, **kw: nn.SimpleRNNCell(i, h, activation="relu", **kw),
    "LSTM": lambda i, h, **kw: nn.LSTMCell(i, h, **kw),
    "GRU": lambda i, h, **kw: nn.GRUCell(i, h, **kw),
}


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("batch", [1, 3])
def test_cells_one_step(kind, batch):
    i, h = 5, 4
    r = pfe.profile(CELLS[kind](i, h), input_size=[batch, i])
    m, f = step(kind, i, h)
    assert_layer_counts(r, m * batch, f * batch)


def proj_cell_inputs(batch, in_size, hidden, proj):
    # Paddle's default initial states for a projected LSTMCell have h and c
    # swapped, so pass them: h is [batch, proj], c is [batch, hidden]
    return (paddle.randn([batch, in_size]), (paddle.zeros([batch, proj]), paddle.zeros([batch, hidden])))


def test_lstm_cell_projection_and_zero_bias():
    # bias_ih_attr=False keeps a fixed zero bias that forward still adds
    r = pfe.profile(nn.LSTMCell(5, 4, proj_size=3, bias_ih_attr=False), inputs=proj_cell_inputs(2, 5, 4, 3))
    m, f = step("LSTM", 5, 4, proj=3)
    assert_layer_counts(r, 2 * m, 2 * f)


@pytest.mark.parametrize("kind", list(CELLS))
def test_rnn_and_birnn_wrappers(kind):
    i, h, t, n = 3, 4, 6, 2
    m, f = step(kind, i, h)
    r = pfe.profile(nn.RNN(CELLS[kind](i, h)), input_size=[n, t, i])
    assert_layer_counts(r, m * t * n, f * t * n)
    r = pfe.profile(nn.BiRNN(CELLS[kind](i, h), CELLS[kind](i, h)), input_size=[n, t, i])
    assert_layer_counts(r, 2 * m * t * n, 2 * f * t * n)


# -------------------------------------------- same computation through ops



@pytest.mark.parametrize("make", [
    lambda: nn.SimpleRNNCell(3, 4), lambda: nn.SimpleRNNCell(3, 4, activation="relu"),
    lambda: nn.LSTMCell(3, 4), lambda: nn.LSTMCell(3, 4, proj_size=2), lambda: nn.GRUCell(3, 4),
], ids=["rnn-tanh", "rnn-relu", "lstm", "lstm-proj", "gru"])
def test_cell_formula_matches_its_ops(make):
    cell = make()
    inputs = proj_cell_inputs(2, 3, 4, 2) if getattr(cell, "proj_size", 0) else (paddle.randn([2, 3]),)
    by_formula = pfe.profile(cell, inputs=inputs)
    by_ops = pfe.profile(through_ops(make()), inputs=inputs)
    assert by_ops.root.counted_by == "ops" and not by_ops.uncounted
    assert (by_formula.macs, by_formula.flops) == (by_ops.macs, by_ops.flops)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "tanh"])
def test_fused_layer_matches_rnn_op_and_cell_loop(kind):
    # the fused formula, the rnn op, and the same network stepped cell by cell agree
    i, h, t, n = 3, 4, 5, 2
    fused = pfe.profile(MAKERS[kind](i, h, num_layers=2, direction="bidirect"), input_size=[n, t, i])
    op = pfe.profile(through_ops(MAKERS[kind](i, h, num_layers=2, direction="bidirect")), input_size=[n, t, i])
    cells = nn.Sequential(nn.BiRNN(CELLS[kind](i, h), CELLS[kind](i, h)),
                          nn.BiRNN(CELLS[kind](2 * h, h), CELLS[kind](2 * h, h)))

    class Stack(nn.Layer):
        def __init__(self):
            super().__init__()
            self.a, self.b = cells[0], cells[1]

        def forward(self, x):
            return self.b(self.a(x)[0])[0]

    looped = pfe.profile(Stack(), input_size=[n, t, i])
    assert (fused.macs, fused.flops) == (op.macs, op.flops) == (looped.macs, looped.flops)
