"""Layers that move data but do no arithmetic (0 by convention)."""
from __future__ import annotations

import paddle.nn as nn

from .registry import Cost, layer_formula

_FREE = [nn.Dropout, nn.Dropout2D, nn.Dropout3D, nn.AlphaDropout, nn.Identity, nn.Flatten]
_FREE += [t for t in (getattr(nn, n, None) for n in ("Unflatten", "FeatureAlphaDropout", "ChannelShuffle",
                                                       "Pad1D", "Pad2D", "Pad3D", "ZeroPad2D", "Unfold", "Fold"))
          if t is not None]


@layer_formula(*_FREE, convention="0: data movement (dropout is the identity in eval)")
def free_layer(layer, ins, outs):
    return Cost()
