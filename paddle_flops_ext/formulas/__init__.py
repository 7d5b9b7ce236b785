"""Counting formulas, one registry keyed by layer type and by operation.

Importing this package registers every built-in formula; see
:mod:`paddle_flops_ext.formulas.registry` for the signatures.
"""
from . import registry  # noqa: F401
from . import contraction, elementwise, attention, zero_cost, normalization, activation, pooling, structural, resize, recurrent, distance  # noqa: F401
from . import deformable, detection, linalg, spectral, optimizer, quantization, fused, misc, sparse, legacy  # noqa: F401
from . import communication  # noqa: F401
from .registry import Cost, contraction as contraction_cost, pointwise, numel  # noqa: F401
