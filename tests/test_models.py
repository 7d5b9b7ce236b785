"""Whole models against reference figures derived here and published ones."""

import paddle
import paddle.nn as nn
import pytest

import paddle_flops_ext as pfe
from paddle.vision import models


class LeNet(nn.Layer):
    """The network of Paddle's own paddle.flops tutorial (seed 002)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2D(1, 6, 3, stride=1, padding=1), nn.ReLU(), nn.MaxPool2D(2, 2),
            nn.Conv2D(6, 16, 5, stride=1, padding=0), nn.ReLU(), nn.MaxPool2D(2, 2))
        self.fc = nn.Sequential(nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10))

    def forward(self, x):
        return self.fc(paddle.flatten(self.features(x), 1))


def test_lenet_matches_paddle_tutorial():
    r = pfe.profile(LeNet(), [1, 1, 28, 28])
    # tutorial table: 47040 + 241600 + 48000 + 10080 + 840
    assert r.paddle_flops == 347_560
    assert r.params == 61_610
    conv_macs = 6 * 28 * 28 * 9 + 16 * 10 * 10 * 6 * 25
    fc_macs = 400 * 120 + 120 * 84 + 84 * 10
    assert r.macs == conv_macs + fc_macs
    assert pfe.flops(LeNet(), [1, 1, 28, 28]) == 347_560


@pytest.fixture(scope="module")
def resnet50_result():
    return pfe.profile(models.resnet50(), [1, 3, 224, 224])


def test_resnet50_reference_figures(resnet50_result):
    r = resnet50_result
    assert r.macs == 4_089_184_256          # published 4.09 G (conv + linear)
    assert r.paddle_flops == 4_111_514_624  # paddle.flops under numpy<2
    assert r.trainable_params == 25_557_032
    assert r.params == 25_610_152           # + BatchNorm running statistics


def test_resnet50_rows_sum_to_totals(resnet50_result):
    d = resnet50_result.to_dict()
    assert sum(l["macs"] for l in d["layers"]) == d["total"]["macs"]
    assert sum(l["flops"] for l in d["layers"]) == d["total"]["flops"]
    assert sum(l["params"] for l in d["layers"]) == d["total"]["params"]
    # bottleneck residual adds are functional ops: in flops, not in paddle_flops
    adds = sum(l["ops"].get("add", {}).get("calls", 0) for l in d["layers"])
    assert adds == 16


@pytest.mark.parametrize("ctor,size,params,macs_m", [
    # published torchvision/paddle figures: params exact, MACs in millions (rounded)
    (models.resnet18, 224, 11_689_512, 1814),
    (models.mobilenet_v2, 224, 3_504_872, 301),
    (models.vgg16, 224, 138_357_544, 15470),
])
def test_vision_models_published_figures(ctor, size, params, macs_m):
    r = pfe.profile(ctor(), [1, 3, size, size])
    assert r.trainable_params == params
    assert round(r.macs / 1e6) == pytest.approx(macs_m, abs=1)


@pytest.mark.parametrize("ctor,params,gmacs", [
    # torchvision's published parameter counts and GMACs (2 decimals); Paddle's
    # implementations of these architectures are the same networks
    (models.mobilenet_v3_large, 5_483_032, 0.22),
    (models.mobilenet_v3_small, 2_542_856, 0.06),
    (models.shufflenet_v2_x1_0, 2_278_604, 0.14),
    (models.squeezenet1_1, 1_235_496, 0.35),
    (models.densenet121, 7_978_856, 2.83),
    (models.resnext50_32x4d, 25_028_904, 4.23),
])
def test_more_vision_models_published_figures(ctor, params, gmacs):
    r = pfe.profile(ctor(), [1, 3, 224, 224], strict=True)
    assert r.trainable_params == params
    assert round(r.macs / 1e9, 2) == gmacs


def test_multihead_attention_counts_products_once():
    r = pfe.profile(nn.MultiHeadAttention(64, 4), [1, 16, 64])
    proj = 4 * 16 * 64 * 64
    attention = 2 * 16 * 16 * 64  # QK^T and weights @ V over all heads
    assert r.macs == proj + attention == 294_912


def test_mha_scales_quadratically_in_products():
    small = pfe.profile(nn.MultiHeadAttention(32, 4), [2, 8, 32]).macs
    big = pfe.profile(nn.MultiHeadAttention(32, 4), [2, 16, 32]).macs
    proj = lambda n: 4 * 2 * n * 32 * 32
    assert (big - proj(16)) == 4 * (small - proj(8))
