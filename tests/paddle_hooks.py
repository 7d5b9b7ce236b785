"""The layer types paddle.flops hooks, written out from Paddle 3.3.1's
``paddle/hapi/dynamic_flops.py`` (``register_hooks``; exact types only), for
tests that check which layers enter the ``paddle_flops`` figure."""
import paddle.nn as nn

PADDLE_FLOPS_HOOKED = {
    nn.Conv1D, nn.Conv2D, nn.Conv3D, nn.Conv1DTranspose, nn.Conv2DTranspose, nn.Conv3DTranspose,
    nn.BatchNorm2D, nn.BatchNorm, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Linear, nn.Dropout,
    nn.AvgPool1D, nn.AvgPool2D, nn.AvgPool3D, nn.AdaptiveAvgPool1D, nn.AdaptiveAvgPool2D, nn.AdaptiveAvgPool3D,
}
HOOKED_NAMES = {t.__name__ for t in PADDLE_FLOPS_HOOKED}


def profiled_layer_type(r) -> str:
    """The type of the one layer a test profiled (alone or in a Sequential)."""
    return r.root.children[0].type if r.root.type == "Sequential" and r.root.children else r.root.type


def paddle_view(r) -> int:
    """``r.paddle_flops`` for a layer paddle.flops hooks; for any other layer
    ``paddle_flops`` must be 0 (paddle.flops counts it as zero) and this
    returns the layer's MACs + non-MAC work - the figure its formula states
    for paddle's convention - so per-layer expectations keep checking it."""
    if profiled_layer_type(r) in HOOKED_NAMES:
        return r.paddle_flops
    assert r.paddle_flops == 0, f"{profiled_layer_type(r)} is not hooked by paddle.flops"
    return r.flops - r.macs
