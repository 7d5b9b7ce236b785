"""Expected figures for the ecosystem corpus, computed without paddle_flops_ext.

Nothing here imports paddle_flops_ext. Parameters come from ``parameters()``;
MACs come from our own forward post-hooks on the contraction layers
(Conv*/Conv*Transpose/Linear, plus deformable convolution layers when present)
and from per-model hand-derived products (attention scores and values, tied
language-model heads) that each test module states next to the model.

Conventions (docs/conventions.md):
- params: every unique parameter once; trainable = ``not stop_gradient``;
  BatchNorm running mean/variance are non-trainable parameters in Paddle.
- conv MACs = numel(output) x prod(weight.shape[1:])   (weight [Cout, Cin/g, k...])
- transposed conv MACs = numel(input) x prod(weight.shape[1:])  (weight [Cin, Cout/g, k...])
- Linear MACs = numel(output) x in_features
- attention MACs = B x H_q x Sq x Sk x (D + Dv)
"""
import math

import paddle
import paddle.nn as nn

CONV = (nn.Conv1D, nn.Conv2D, nn.Conv3D)
CONV_T = (nn.Conv1DTranspose, nn.Conv2DTranspose, nn.Conv3DTranspose)


def numel(shape):
    return int(math.prod(int(s) for s in shape))


def count_params(net):
    """(total, trainable, non_trainable) over ``net.parameters()`` (unique)."""
    seen, total, trainable = set(), 0, 0
    for p in net.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        n = numel(p.shape)
        total += n
        if not p.stop_gradient:
            trainable += n
    return total, trainable, total - trainable


def _first_tensor(x):
    if isinstance(x, paddle.Tensor):
        return x
    if isinstance(x, (list, tuple)):
        for item in x:
            t = _first_tensor(item)
            if t is not None:
                return t
    return None


def conv_macs(layer, inputs, output):
    return numel(_first_tensor(output).shape) * numel(layer.weight.shape[1:])


def conv_t_macs(layer, inputs, output):
    return numel(_first_tensor(inputs).shape) * numel(layer.weight.shape[1:])


def linear_macs(layer, inputs, output):
    return numel(_first_tensor(output).shape) * int(layer.weight.shape[0])


def deform_conv_macs(layer, inputs, output):
    """paddle.vision.ops.DeformConv2D-like: weight [Cout, Cin/g, kh, kw]; the
    sampled-input contraction is a conv's (bilinear sampling is not a MAC)."""
    return numel(_first_tensor(output).shape) * numel(layer.weight.shape[1:])


def attention_macs(batch, heads, sq, sk, d, dv=None):
    dv = d if dv is None else dv
    return int(batch) * int(heads) * int(sq) * int(sk) * (int(d) + int(dv))


class MacHooks:
    """Context manager: post-hooks on every contraction layer of ``net``.

    ``extra`` maps a layer class to ``fn(layer, inputs, output) -> MACs`` for
    layers with contractions that are not Conv/Linear sub-layers (attention
    blocks, deformable convs); those hooks add on top of the sub-layer hooks.
    """

    def __init__(self, net, extra=None):
        self.net = net
        self.extra = dict(extra or {})
        self.macs = 0
        self.calls = {}
        self._handles = []

    def _hook(self, fn, kind):
        def hook(layer, inputs, output):
            m = int(fn(layer, inputs, output))
            self.macs += m
            self.calls[kind] = self.calls.get(kind, 0) + m
        return hook

    def __enter__(self):
        for layer in self.net.sublayers(include_self=True):
            fns = []
            for cls, fn in self.extra.items():
                if isinstance(layer, cls):
                    fns.append((fn, cls.__name__))
            if isinstance(layer, CONV_T):
                fns.append((conv_t_macs, "conv_transpose"))
            elif isinstance(layer, CONV):
                fns.append((conv_macs, "conv"))
            elif isinstance(layer, nn.Linear):
                fns.append((linear_macs, "linear"))
            for fn, kind in fns:
                self._handles.append(layer.register_forward_post_hook(self._hook(fn, kind)))
        return self

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        self._handles = []
        return False


def expected_macs(net, args=(), kwargs=None, extra=None):
    """Run ``net`` once (eval, no_grad) with our hooks; return (macs, per-kind)."""
    kwargs = kwargs or {}
    net.eval()
    with paddle.no_grad(), MacHooks(net, extra) as h:
        net(*args, **kwargs)
    return h.macs, h.calls
