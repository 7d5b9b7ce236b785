"""PaddleSeg 2.8.0 segmentation models with random weights, 1 x 3 x 128 x 128
(NHWC: 1 x 128 x 128 x 3); checks: see _harness.py.

Hand-derived contractions on top of the Conv/Linear hooks:
- SegFormer (MixVisionTransformer) efficient attention: N queries over the
  N' = (H/sr)(W/sr) reduced keys, 2 x B x N x N' x C;
- OCRNet: SpatialGatherBlock bmm(regions, pixels) = n x K x HW x C, and
  ObjectAttentionBlock's two bmm = 2 x n x HW x K x key_channels.
"""
import pytest

pytest.importorskip("paddleseg")

from paddleseg import models as M  # noqa: E402
from paddleseg.models import backbones as BB  # noqa: E402

from _harness import Spec, image, make_tests  # noqa: E402

NC = 19
IMG = image(1, 3, 128, 128)


def segformer_attention(layer, inputs, output):
    x, h, w = inputs[0], int(inputs[1]), int(inputs[2])
    b, n, c = x.shape
    n_kv = (h // layer.sr_ratio) * (w // layer.sr_ratio) if layer.sr_ratio > 1 else n
    return 2 * b * n * n_kv * c


def gather_block(layer, inputs, output):
    pixels, regions = inputs[0], inputs[1]
    n, c, h, w = pixels.shape
    return n * regions.shape[1] * h * w * c


def ocr_module(layer, inputs, output):
    x, proxy = inputs[0], inputs[1]
    n, _, h1, w1 = x.shape
    h2, w2 = proxy.shape[2], proxy.shape[3]
    return 2 * n * h1 * w1 * h2 * w2 * layer.key_channels


def extras():
    from paddleseg.models import ocrnet
    from paddleseg.models.backbones import mix_transformer
    return {mix_transformer.Attention: segformer_attention,
            ocrnet.SpatialGatherBlock: gather_block, ocrnet.ObjectAttentionBlock: ocr_module}


def seg(mid, build, inputs=IMG, **kw):
    return Spec(id=mid, build=build, inputs=inputs, extra=extras, family="seg", **kw)


SPECS = [
    seg("DeepLabV3+-R50vd-NCHW", lambda: M.DeepLabV3P(NC, BB.ResNet50_vd(output_stride=8))),
    seg("DeepLabV3+-R50vd-NHWC",
        lambda: M.DeepLabV3P(NC, BB.ResNet50_vd(output_stride=8, data_format="NHWC"), data_format="NHWC"),
        inputs=image(1, 128, 128, 3)),
    seg("SegFormer-B0", lambda: M.SegFormer(NC, BB.MixVisionTransformer_B0(), embedding_dim=256)),
    seg("PP-LiteSeg-STDC1", lambda: M.PPLiteSeg(NC, BB.STDC1())),
    seg("OCRNet-HRNetW18", lambda: M.OCRNet(NC, BB.HRNet_W18(), backbone_indices=[0])),
    seg("UNet", lambda: M.UNet(NC)),
    seg("BiSeNetV2", lambda: M.BiSeNetV2(NC)),
    seg("Fast-SCNN", lambda: M.FastSCNN(NC)),
]

# eager == trace on every model here (sizes from paddle.shape() are resolved while tracing)
globals().update(make_tests(__name__, SPECS))
