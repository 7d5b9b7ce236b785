"""PaddleClas 2.6.0 backbones with random weights (see _harness.py for the checks).

Expected attention products are derived here from each block's input shape:
self-attention over N tokens of width C with H heads costs
B x H x N x N x (C/H) for Q K^T and the same for the weights x V, i.e.
2 x B x N^2 x C MACs; PVTv2 attends N queries to the N' = (H/sr)(W/sr)
spatially reduced keys: 2 x B x N x N' x C.
"""
import pytest

pytest.importorskip("paddleclas")

from paddleclas.ppcls.arch import backbone as B  # noqa: E402

from _harness import Spec, image, make_tests  # noqa: E402


def self_attention(layer, inputs, output):
    b, n, c = inputs[0].shape
    return 2 * b * n * n * c


def pvt_attention(layer, inputs, output):
    x, h, w = inputs[0], int(inputs[1]), int(inputs[2])
    b, n, c = x.shape
    if getattr(layer, "linear", False):
        n_kv = 7 * 7  # AdaptiveAvgPool2D(7) before the reduction conv
    elif layer.sr_ratio > 1:
        n_kv = (h // layer.sr_ratio) * (w // layer.sr_ratio)
    else:
        n_kv = n
    return 2 * b * n * n_kv * c


def _attn_classes():
    from paddleclas.ppcls.arch.backbone.legendary_models import swin_transformer
    from paddleclas.ppcls.arch.backbone.model_zoo import mobilevit, pvt_v2, vision_transformer
    return dict(vit=vision_transformer.Attention, swin=swin_transformer.WindowAttention,
                pvt=pvt_v2.Attention, mobilevit=mobilevit.Attention)


def attn(kind):
    fn = pvt_attention if kind == "pvt" else self_attention
    return lambda: {_attn_classes()[kind]: fn}


S64 = image(1, 3, 64, 64)
S224 = image(1, 3, 224, 224)


def spec(name, inputs=S64, build=None, **kw):
    return Spec(id=name, build=build or (lambda: getattr(B, name)()), inputs=inputs, family="clas", **kw)


def K(n):
    return (n, 5e3)      # published params in millions with 2 decimals: +-0.005 M


def MFL(n):
    return (n, 5e3)      # published FLOPs(M) with 2 decimals


def GFL(n):
    return (n, 5e6)      # published FLOPs(G) with 2 decimals


# Published figures: PaddleClas docs/en/algorithm_introduction/ImageNet_models_en.md
# ("FLOPs and Params are calculated by paddle.flops() (PaddlePaddle 2.2)"), 1x3x224x224.
PUB = {
    "ResNet50": dict(params=K(25.61e6), flops=GFL(4.11e9)),
    "ResNet50_vd": dict(params=K(25.63e6), flops=GFL(4.35e9)),
    "PPLCNet_x1_0": dict(params=K(2.96e6), flops=MFL(160.81e6)),
    "MobileNetV1": dict(params=K(4.25e6), flops=MFL(578.88e6)),
    "MobileNetV2": dict(params=K(3.54e6), flops=MFL(327.84e6)),
    "MobileNetV3_large_x1_0": dict(params=K(5.50e6), flops=MFL(229.66e6)),
    "MobileNetV3_small_x1_0": dict(params=K(2.95e6), flops=MFL(63.67e6)),
}
for _v in PUB.values():
    _v["note"] = "PaddleClas model zoo, paddle.flops (Paddle 2.2) at 224"

# models made only of layers paddle.flops counts (Conv2D, BatchNorm2D/BatchNorm,
# ReLU, Linear, Dropout, pools) and no functional contractions
PARITY = {"ResNet50", "ResNet50_vd", "VGG11", "MobileNetV1", "DarkNet53", "ResNeXt50_32x4d",
          "Res2Net50_26w_4s", "DenseNet121", "SqueezeNet1_1", "AlexNet", "GoogLeNet", "InceptionV3"}

# PaddleClas EfficientNet names its blocks "_blocks.0"-style via add_sublayer with dots
EFFICIENTNETS = [spec(f"EfficientNetB{i}") for i in range(8)]

BACKBONES = [
    spec("ResNet50", S224), spec("ResNet50_vd", S224), spec("MobileNetV1", S224),
    spec("MobileNetV2", S224), spec("MobileNetV3_large_x1_0", S224),
    spec("MobileNetV3_small_x1_0", S224), spec("PPLCNet_x1_0", S224),
    spec("PPLCNetV2_base"), spec("PPHGNet_tiny"), spec("PPHGNetV2_B0"),
    spec("VGG11", S224), spec("AlexNet", S224), spec("DenseNet121"), spec("GoogLeNet", S224),
    spec("InceptionV3", image(1, 3, 96, 96)), spec("ShuffleNetV2_x1_0"), spec("GhostNet_x1_0"),
    spec("SqueezeNet1_1"), spec("DarkNet53"), spec("HRNet_W18_C"), spec("Res2Net50_26w_4s"),
    spec("ResNeXt50_32x4d"), spec("SE_ResNet18_vd"), spec("RegNetX_200MF"), spec("ReXNet_1_0"),
    spec("MixNet_S", S224), spec("ConvNeXt_tiny"), spec("Xception41"), spec("DLA34"), spec("ESNet_x0_5"),
    spec("ViT_small_patch16_224", S224, extra=attn("vit")),
    spec("DeiT_tiny_patch16_224", S224, extra=attn("vit")),
    spec("SwinTransformer_tiny_patch4_window7_224", S224, extra=attn("swin")),
    spec("PVT_V2_B0", S64, extra=attn("pvt")),
    spec("MobileViT_XXS", image(1, 3, 64, 64), extra=attn("mobilevit")),
]

# RepVGG as trained (three branches per block, not re-parameterised)
REPVGG = [spec("RepVGG_A0", S64)]

SPECS = EFFICIENTNETS + BACKBONES + REPVGG
XFAIL = {
    # paddle.flops reproduced (+ the adaptive pools PaddleClas 2.6 now wraps) is 229,654,758;
    # the table says 229.66 M (>= 229,655,000): 242 FLOPs short of the rounding, not explained
    "MobileNetV3_large_x1_0": dict(published="published 229.66 M not reached: paddle.flops reproduced + wrapped "
                                             "pools = 229,654,758, 0.0001 % below the rounding"),
}
for _s in SPECS:
    if _s.id in PUB:
        _s.published = PUB[_s.id]
    _s.paddle_parity = _s.id in PARITY
    _s.xfail = XFAIL.get(_s.id, {})

globals().update(make_tests(__name__, SPECS))
