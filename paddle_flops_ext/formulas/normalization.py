"""Normalisation layers and ops.

Conventions (FLOPs per element of the input):
* BatchNorm in inference: statistics are constants, so it folds to one scale
  and one shift: 2 per element (also paddle.flops' figure).
"""
from __future__ import annotations

import paddle.nn as nn

from .registry import as_layer_cost, layer_formula, numel, pointwise

_BATCH_NORMS = tuple(t for t in (nn.BatchNorm, nn.BatchNorm1D, nn.BatchNorm2D, nn.BatchNorm3D,
                                 getattr(nn, "SyncBatchNorm", None)) if t is not None)


@layer_formula(*_BATCH_NORMS, convention="eval: 2 FLOPs per element (folded scale + shift); paddle: same")
def batch_norm_layer(layer, ins, outs):
    return as_layer_cost(pointwise(numel(ins[0]), 2))
