"""What ``paddle.flops`` itself prints, reproduced without running it.

``paddle.flops`` (Paddle 3.3.1, ``paddle/hapi/dynamic_flops.py``) hooks only
*leaf* layers whose type is exactly one of the keys below (a subclass is not
matched) or a ``custom_ops`` key, and adds each hooked call's count (a layer reachable
under k names is hooked k times, so counted k times); every
other layer counts 0, functional code in ``forward`` is never seen, and its
parameter total is the sum of ``m.parameters()`` over the leaf layers that
ran. Its formulas are reproduced here *with their mistakes*, so that a
published table computed with ``paddle.flops`` (PaddleClas' model zoo, for
one) can be matched exactly and the difference to our corrected
``paddle_flops`` figure explained line by line:

* convolution: ``numel(y) x (x.shape[1] / groups x prod(weight.shape[2:]) + bias)``
  - ``x.shape[1]`` is the height for channels-last input, and for a
  transposed convolution the output is multiplied by the *input* channels;
* Linear ``in_features x numel(y)``; BatchNorm/BatchNorm2D 2 per input element
  (eval); LeakyReLU 1 per input element; AvgPool 1 per output element;
  AdaptiveAvgPool ``(prod(in // out) + 1)`` per output element; ReLU, ReLU6,
  Dropout 0.

These are pure functions of the layer's attributes and the call's shapes, like
every formula here; the engine adds them up per leaf-layer call.
"""
from __future__ import annotations

import math

import paddle.nn as nn

from .contraction import TRANSPOSED_CONVS
from .registry import has_param, numel, param_shape

_CHANNELS_LAST = ("NHWC", "NLC", "NDHWC")


def conv_reported(layer, ins, outs) -> int:
    x = ins[0]
    kernel = math.prod(param_shape(layer, "weight")[2:])   # a tuple of ints
    bias = 1 if has_param(layer, "bias") else 0
    return abs(int(numel(outs[0]) * (x[1] / layer._groups * kernel + bias)))


def batch_norm_reported(layer, ins, outs) -> int:
    return 2 * numel(ins[0])


def linear_reported(layer, ins, outs) -> int:
    return int(param_shape(layer, "weight")[0]) * numel(outs[0])


def leaky_relu_reported(layer, ins, outs) -> int:
    return numel(ins[0])


def avg_pool_reported(layer, ins, outs) -> int:
    return numel(outs[0])


def adaptive_avg_pool_reported(layer, ins, outs) -> int:
    kernel = math.prod(int(i) // int(o) for i, o in zip(ins[0][2:], outs[0][2:]))
    return abs(int((kernel + 1) * numel(outs[0])))


def zero_reported(layer, ins, outs) -> int:
    return 0


# paddle.flops' own table: exact types only
PADDLE_FLOPS_TABLE = {
    **dict.fromkeys((nn.Conv1D, nn.Conv2D, nn.Conv3D, nn.Conv1DTranspose, nn.Conv2DTranspose,
                     nn.Conv3DTranspose), conv_reported),
    nn.BatchNorm2D: batch_norm_reported, nn.BatchNorm: batch_norm_reported,
    nn.ReLU: zero_reported, nn.ReLU6: zero_reported, nn.Dropout: zero_reported,
    nn.LeakyReLU: leaky_relu_reported,
    nn.Linear: linear_reported,
    **dict.fromkeys((nn.AvgPool1D, nn.AvgPool2D, nn.AvgPool3D), avg_pool_reported),
    **dict.fromkeys((nn.AdaptiveAvgPool1D, nn.AdaptiveAvgPool2D, nn.AdaptiveAvgPool3D),
                    adaptive_avg_pool_reported),
}

_CONVS = (nn.Conv1D, nn.Conv2D, nn.Conv3D) + TRANSPOSED_CONVS


def correction_kind(layer) -> str | None:
    """Which of paddle.flops' mistakes applies to a call of ``layer``:
    ``"transposed"``, ``"channels_last"`` or None."""
    t = type(layer)
    if t in TRANSPOSED_CONVS:   # exact types, as paddle.flops matches them
        return "transposed"
    if t in _CONVS and getattr(layer, "_data_format", "NCHW") in _CHANNELS_LAST:
        return "channels_last"
    return None


CORRECTION_LINES = {
    "transposed": "transposed convolutions (paddle.flops multiplies the output by the input channels)",
    "channels_last": "channels-last convolutions (paddle.flops reads channels from the wrong axis)",
    "functional": "products written in forward() (attention, matmul, einsum; paddle.flops sees only layers)",
    "repeated": "layers reachable under several names (paddle.flops hooks them once per name)",
    "other": "other per-layer differences",
}
