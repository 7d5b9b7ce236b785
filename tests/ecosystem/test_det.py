"""PaddleDetection 2.6.0 detectors built from their v2.6.0 configs (vendored
under ppdet_configs/, see NOTICE) with random weights; checks: see _harness.py.

Detectors end in data-dependent post-processing (box decoding, NMS), so no
strict check. Hand-derived contractions on top of the Conv/Linear hooks:
- deformable convolutions (paddle.vision.ops.DeformConv2D, PP-YOLO's DCNv2):
  numel(out) x Cin/groups x kh x kw, as a convolution;
- DETR's MultiHeadAttention projects q, k, v with F.linear on one packed
  in_proj_weight (not nn.Linear sub-layers): B x (Lq + 2 Lk) x E x E, plus
  the attention products 2 x B x Lq x Lk x E; out_proj is an nn.Linear;
- GFL/PicoDet's Integral: F.linear of the softmaxed [N, reg_max + 1]
  distribution with the 1-D ``project`` vector, one MAC per input element.
"""
import copy
import os

import pytest

pytest.importorskip("ppdet")

import paddle  # noqa: E402
from ppdet.core import workspace  # noqa: E402
from ppdet.core.workspace import create, load_config  # noqa: E402

import _expected  # noqa: E402
from _harness import Spec, make_tests, randn  # noqa: E402

CFG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ppdet_configs", "configs")


# load_config merges every file into one process-wide registry; start each
# model from the registry as imported so configs do not leak into each other
_PRISTINE = {k: copy.copy(v) for k, v in workspace.global_config.items()}


def build(path):
    def _build():
        workspace.global_config.clear()
        workspace.global_config.update({k: copy.copy(v) for k, v in _PRISTINE.items()})
        cfg = load_config(os.path.join(CFG, path))
        return create(cfg.architecture)
    return _build


def det_inputs(size):
    return lambda: (({"image": randn(1, 3, size, size),
                      "im_shape": paddle.to_tensor([[float(size), float(size)]]),
                      "scale_factor": paddle.to_tensor([[1.0, 1.0]])},), {})


def ppdet_mha(layer, inputs, output):
    q = inputs[0]
    k = inputs[1] if len(inputs) > 1 and inputs[1] is not None else q
    b, lq, e = q.shape
    lk = k.shape[1]
    proj = b * (lq + 2 * lk) * e * e if layer._qkv_same_embed_dim else 0
    return proj + 2 * b * lq * lk * e


def integral(layer, inputs, output):
    return _expected.numel(inputs[0].shape)


def extras():
    from paddle.vision.ops import DeformConv2D
    from ppdet.modeling.heads.gfl_head import Integral
    from ppdet.modeling.layers import MultiHeadAttention
    return {DeformConv2D: _expected.deform_conv_macs, MultiHeadAttention: ppdet_mha, Integral: integral}


def det(mid, path, size=320, **kw):
    return Spec(id=mid, build=build(path), inputs=det_inputs(size), extra=extras, strict=False,
                family="det", **kw)


SPECS = [
    det("PicoDet-S-LCNet", "picodet/picodet_s_320_coco_lcnet.yml"),
    det("YOLOv3-DarkNet53", "yolov3/yolov3_darknet53_270e_coco.yml"),
    det("PP-YOLO-R50vd-DCNv2", "ppyolo/ppyolo_r50vd_dcn_1x_coco.yml"),
    det("PP-YOLOE+-S", "ppyoloe/ppyoloe_plus_crn_s_80e_coco.yml", size=640),  # anchors fixed at eval_size 640
    det("SSD-MobileNetV1", "ssd/ssd_mobilenet_v1_300_120e_voc.yml", size=300),
    det("RetinaNet-R50-FPN", "retinanet/retinanet_r50_fpn_1x_coco.yml", trace="subprocess"),
    det("FCOS-R50-FPN", "fcos/fcos_r50_fpn_1x_coco.yml"),
    det("DETR-R50", "detr/detr_r50_1x_coco.yml", trace="subprocess"),
]

# ppdet 2.6.0's post-processing ops (multiclass_nms3, matrix_nms, prior_box) are
# legacy static-graph code; trace mode runs their dynamic branch and builds the
# legacy operators into the PIR program (collect/legacy_static.py), and
# PP-YOLOE's RepVggBlock branches on its alpha parameter's value
# (collect/parameter_values.py). One gap is left:
globals().update(make_tests(__name__, SPECS))
