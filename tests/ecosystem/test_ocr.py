"""PaddleOCR 3.7.0 / PaddleX 3.7.2: the PP-OCRv5 text detectors as PaddleX
ships them in dynamic-graph form (paddlex.inference.models.text_detection.
modeling), random weights, default configs, 1 x 3 x 160 x 160. The shipped
top-level forward takes and returns numpy lists for the predictor, so we count
the network it wraps (model + head) on tensors. Contractions are all Conv/Linear
sub-layers; checks: see _harness.py.
"""
import pytest

pytest.importorskip("paddleocr")
pytest.importorskip("paddlex")

import paddle.nn as nn  # noqa: E402

from _harness import Spec, image, make_tests  # noqa: E402


class DetNet(nn.Layer):
    """The tensor network inside PaddleX's PPOCRV5*Det predictor model."""

    def __init__(self, shipped):
        super().__init__()
        self.model = shipped.model
        self.head = shipped.head

    def forward(self, x):
        return self.head(self.model(x))


def mobile_det():
    from paddlex.inference.models.text_detection.modeling.pp_ocrv5_mobile_det import (
        PPOCRV5MobileDet, PPOCRV5MobileDetConfig)
    return DetNet(PPOCRV5MobileDet(PPOCRV5MobileDetConfig()))


def server_det():
    from paddlex.inference.models.text_detection.modeling import pp_ocrv5_server_det as m
    return DetNet(m.PPOCRV5ServerDet(m.PPOCRV5ServerDetConfig()))


SPECS = [
    Spec(id="PP-OCRv5-mobile-det", build=mobile_det, inputs=image(1, 3, 160, 160), family="ocr"),
    Spec(id="PP-OCRv5-server-det", build=server_det, inputs=image(1, 3, 160, 160), family="ocr"),
]

globals().update(make_tests(__name__, SPECS))
