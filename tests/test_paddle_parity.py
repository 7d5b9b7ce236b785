"""pfe.flops equals paddle.flops where paddle counts correctly.

paddle.flops itself crashes under numpy 2 (``int()`` of a shape-[1] array), so
this comparison runs where numpy < 2 is installed (.ci/run does it in a
numpy 1.26 environment); under numpy 2 we check that the crash is still there,
which is why this package exists."""
import contextlib
import io

import numpy as np
import paddle
import pytest
from paddle.vision import models

import paddle_flops_ext as pfe

NUMPY2 = int(np.__version__.split(".")[0]) >= 2


def paddle_flops_quiet(model, size, **kw):
    with contextlib.redirect_stdout(io.StringIO()):
        return paddle.flops(model, size, **kw)


@pytest.mark.skipif(NUMPY2, reason="paddle.flops crashes under numpy 2")
@pytest.mark.parametrize("ctor", [models.resnet18, models.mobilenet_v2, models.mobilenet_v1, models.vgg11])
def test_equals_paddle_flops(ctor):
    model = ctor()
    assert pfe.flops(model, [1, 3, 224, 224]) == paddle_flops_quiet(model, [1, 3, 224, 224])


@pytest.mark.skipif(NUMPY2, reason="paddle.flops crashes under numpy 2")
def test_custom_ops_same_as_paddle():
    class Scale(paddle.nn.Layer):
        def forward(self, x):
            return x * 2

    def count(m, x, y):
        m.total_ops += int(x[0].numel())

    net = paddle.nn.Sequential(paddle.nn.Linear(8, 8), Scale())
    assert pfe.flops(net, [4, 8], custom_ops={Scale: count}) == paddle_flops_quiet(
        net, [4, 8], custom_ops={Scale: count})


@pytest.mark.skipif(not NUMPY2, reason="only numpy 2 breaks paddle.flops")
def test_paddle_flops_still_crashes_under_numpy2_but_we_do_not():
    model = models.resnet18()
    with pytest.raises(TypeError):
        paddle_flops_quiet(model, [1, 3, 64, 64])
    assert pfe.flops(model, [1, 3, 64, 64]) > 0
