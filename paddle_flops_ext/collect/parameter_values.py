"""Python branches on a parameter's value take the eager branch while tracing.

A layer may switch on one of its own scalar parameters, e.g. PaddleDetection's
``RepVggBlock.forward``: ``if self.alpha: y = conv1(x) + alpha * conv2(x)``.
In a traced program the parameter is a ``builtin.parameter`` value and
``bool()`` of it raises, so the trace falls back to ``paddle.jit.to_static``,
which counts both branches. Yet the parameter's value is known while tracing
(unless the model was built under ``paddle.LazyGuard()``) and it is the value
eager mode branches on. So, for the profiling thread, ``bool()`` of a traced
value that stands for one of the model's materialised one-element parameters
or buffers answers that tensor's truth; anything else raises as before.
"""
from __future__ import annotations

import numpy as np
import paddle

from .patch import Patches, observing


def answer_parameter_truth(patches: Patches, net) -> None:
    """Patch ``paddle.pir.Value.__bool__`` for the profiling thread (logged in
    ``patches``): the truth of the model tensor a ``builtin.parameter`` value
    names, where that tensor holds one element."""
    value_cls = paddle.pir.Value
    original = value_cls.__dict__.get("__bool__")
    if original is None:
        return
    by_name: dict = {}   # filled on first use: most traces never ask

    def truth(value):
        if observing():
            if not by_name:
                by_name.update((t.name, t) for t in list(net.parameters()) + list(net.buffers()))
            tensor = _named_tensor(value, by_name)
            if tensor is not None and tensor._is_initialized() and int(np.prod(tensor.shape)) == 1:
                return bool(np.asarray(tensor.numpy()).reshape(-1)[0])
        return original(value)

    patches.setattr(value_cls, "__bool__", truth)


def _named_tensor(value, by_name):
    op = value.get_defining_op()
    if op is None or op.name() != "builtin.parameter":
        return None
    return by_name.get(op.attrs().get("parameter_name"))
