"""Recurrent layers and the fused ``rnn`` op.

Conventions, per time step, per sample, per (layer, direction); ``H`` hidden
size, ``G`` gates (SimpleRNN 1, GRU 3, LSTM 4):

* MACs: the gate products ``W_ih x`` and ``W_hh h`` = ``numel(W_ih) +
  numel(W_hh)`` = ``G H (I + H)`` (plus ``numel(W_ho)`` = ``H P`` for an LSTM
  projection).
* bias adds: 1 per element of each bias present (``b_ih``, ``b_hh``: ``G H``
  each).
* element-wise work per hidden unit (1 FLOP per arithmetic step, sigmoid 3,
  tanh 1, as in the activation table):

  - SimpleRNN: add the two products (1) + tanh (1) = 2; with relu = 1.
  - LSTM: add the products (4) + 3 sigmoids (9) + tanh(g) (1)
    + ``c = f*c + i*g`` (3) + tanh(c) (1) + ``h = o*tanh(c)`` (1) = 19.
  - GRU: ``x_r + h_r``, ``x_z + h_z`` (2) + 2 sigmoids (6) + ``r*h_c`` (1)
    + ``x_c + ...`` (1) + tanh (1) + ``h = (h' - c)*z + c`` (3) = 14.

Every step of the padded sequence is counted (``sequence_length`` masks but
does not skip work); dropout between layers is 0 in eval. The ``RNN`` /
``BiRNN`` wrappers do no arithmetic themselves: their cell sub-layer counts
each step. ``SimpleRNN`` / ``LSTM`` / ``GRU`` are counted by the fused ``rnn``
formula when Paddle runs the fused kernel; otherwise (e.g. ``proj_size`` or a
missing bias) they run their RNN/BiRNN sub-layers, which count themselves, and
the outer layer adds 0.
"""
from __future__ import annotations

import paddle.nn as nn

from .registry import ZERO, Cost, as_layer_cost, contraction, layer_formula, numel, op_formula, pointwise

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
POINTWISE_PER_HIDDEN = {"RNN_TANH": 2, "RNN_RELU": 1, "LSTM": 19, "GRU": 14}


def rnn_step_cost(mode: str, batch: int, hidden: int, weight_shapes, bias_shapes, units: int = 1) -> Cost:
    """Cost of one time step of ``units`` (layer, direction) cells on ``batch``
    samples whose weights (all units together) have ``weight_shapes`` and biases
    ``bias_shapes``."""
    batch = int(batch)
    macs = batch * sum(numel(s) for s in weight_shapes)
    bias = batch * sum(numel(s) for s in bias_shapes)
    elementwise = batch * int(units) * POINTWISE_PER_HIDDEN[mode] * int(hidden)
    return contraction(macs, bias) + pointwise(elementwise, 1)


def default_rnn_shapes(mode, input_size, hidden, num_layers, directions):
    """Weight and bias shapes of a fused rnn op when its weight list is unknown."""
    g = GATES[mode]
    weights, biases = [], []
    for layer in range(int(num_layers)):
        in_size = int(input_size) if layer == 0 else directions * int(hidden)
        for _ in range(directions):
            weights += [(g * hidden, in_size), (g * hidden, hidden)]
            biases += [(g * hidden,), (g * hidden,)]
    return weights, biases


@op_formula("rnn", args="x, pre_state, weight_list, sequence_length, dropout_state_in, dropout_prob, "
                        "is_bidirec, input_size, hidden_size, num_layers, mode, seed, is_test",
            convention="per step per sample: numel(weights) MACs + bias adds + per hidden unit "
                       "SimpleRNN 2 (relu 1), LSTM 19, GRU 14", contraction=True)
def rnn_op(ins, outs, attrs):
    x = ins.get("x")                          # [T, N, I], time-major
    steps, batch = int(x[0]), int(x[1])
    mode = str(attrs.get("mode") or "LSTM").upper()
    directions = 2 if attrs.get("is_bidirec") else 1
    num_layers = int(attrs.get("num_layers") or 1)
    hidden = attrs.get("hidden_size")
    shapes = ins.get("weight_list")
    if isinstance(shapes, tuple):
        shapes = [shapes]
    if shapes:
        weights = [s for s in shapes if s is not None and len(s) == 2]
        biases = [s for s in shapes if s is not None and len(s) == 1]
        if not hidden:
            hidden = int(weights[0][0]) // GATES[mode]
    else:
        weights, biases = default_rnn_shapes(mode, attrs.get("input_size") or x[2], int(hidden),
                                             num_layers, directions)
    return rnn_step_cost(mode, batch, int(hidden), weights, biases, num_layers * directions) * steps


# ---------------------------------------------------------------- layers

def _cell_mode(cell) -> str:
    if isinstance(cell, nn.LSTMCell):
        return "LSTM"
    if isinstance(cell, nn.GRUCell):
        return "GRU"
    return "RNN_RELU" if getattr(cell, "activation", "tanh") == "relu" else "RNN_TANH"


def _shapes(*params):
    return [tuple(p.shape) for p in params if p is not None]


@layer_formula(nn.SimpleRNNCell, nn.LSTMCell, nn.GRUCell,
               convention="one step: numel(W_ih)+numel(W_hh) (+W_ho) MACs per sample + bias adds "
                          "+ per hidden unit SimpleRNN 2 (relu 1), LSTM 19, GRU 14")
def rnn_cell_layer(layer, ins, outs):
    x = ins[0]
    batch = numel(x) // max(1, int(x[-1]))
    weights = _shapes(layer.weight_ih, layer.weight_hh, getattr(layer, "weight_ho", None)
                      if getattr(layer, "proj_size", 0) else None)
    biases = _shapes(getattr(layer, "bias_ih", None), getattr(layer, "bias_hh", None))
    return as_layer_cost(rnn_step_cost(_cell_mode(layer), batch, layer.hidden_size, weights, biases))


@layer_formula(nn.SimpleRNN, nn.LSTM, nn.GRU,
               convention="the fused rnn op's count; 0 when Paddle runs the cell sub-layers instead "
                          "(they count themselves)")
def rnn_layer(layer, ins, outs):
    if not getattr(layer, "could_use_cudnn", False):
        return ZERO
    x = ins[0]
    steps, batch = (x[0], x[1]) if layer.time_major else (x[1], x[0])
    params = layer.parameters(include_sublayers=False)
    shapes = [tuple(p.shape) for p in params]
    cost = rnn_op({"x": (steps, batch, x[2]), "weight_list": shapes}, outs,
                  {"mode": layer.mode, "is_bidirec": layer.num_directions == 2,
                   "num_layers": layer.num_layers, "hidden_size": layer.hidden_size,
                   "input_size": layer.input_size})
    return as_layer_cost(cost)


@layer_formula(nn.RNN, nn.BiRNN, convention="0: the wrapped cell sub-layer counts every step")
def rnn_wrapper_layer(layer, ins, outs):
    return ZERO
