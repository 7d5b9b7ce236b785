"""Layers and ops that move data but do no arithmetic (0 by convention), and
Fold, the one data-movement layer that adds.

* Dropout in eval is the identity (0). A functional ``F.dropout`` called with
  ``training=True`` inside a forward does the mask multiply with the rescale
  folded in: 1 per element.
* Embedding is a table lookup: 0.
* Padding (constant, reflect, replicate, circular), Flatten, Unflatten,
  Identity, Unfold (im2col): 0.
* Fold (col2im) sums the overlapping patch values into the output: one add per
  patch value that lands on an output position already written, i.e.
  ``valid contributions - output positions covered``; 0 when patches do not
  overlap.
"""
from __future__ import annotations

import paddle.nn as nn

from .registry import Cost, as_layer_cost, layer_formula, numel, op_formula, pointwise, zero_cost_ops

_FREE = [nn.Dropout, nn.Dropout2D, nn.Dropout3D, nn.AlphaDropout, nn.Identity, nn.Flatten, nn.Embedding]
_FREE += [t for t in (getattr(nn, n, None) for n in ("Unflatten", "FeatureAlphaDropout",
                                                       "Pad1D", "Pad2D", "Pad3D", "ZeroPad1D", "ZeroPad2D",
                                                       "ZeroPad3D", "Unfold"))
          if t is not None]


@layer_formula(*_FREE, convention="0: data movement / lookup (dropout is the identity in eval)")
def free_layer(layer, ins, outs):
    return Cost()


zero_cost_ops(["pad", "pad3d", "unfold"], "padding / im2col: data movement")
zero_cost_ops(["embedding", "embedding_with_scaled_gradient", "c_embedding"], "table lookup")


@op_formula("dropout", args="x, seed_tensor, p, is_test, mode, seed, fix_seed",
            convention="eval (is_test): 0; training: 1 per element (mask multiply, rescale folded)")
def dropout_op(ins, outs, attrs):
    if attrs.get("is_test", True):
        return Cost()
    return pointwise(numel(ins.get("x")), 1)


# ---------------------------------------------------------------- fold

def _pair(v, n=2):
    if isinstance(v, int):
        return [v] * n
    return [int(a) for a in v]


def fold_adds(x_shape, output_sizes, kernel_sizes, strides=1, paddings=0, dilations=1) -> int:
    """Adds done by col2im: per spatial axis count the (block, tap) pairs that
    land inside the output and the output positions they cover; the axes
    combine as products."""
    out = _pair(output_sizes)
    k = _pair(kernel_sizes)
    s = _pair(strides)
    d = _pair(dilations)
    p = _pair(paddings, 4) if isinstance(paddings, int) else [int(v) for v in paddings]
    if len(p) == 2:
        p = p * 2
    lo, hi = [p[0], p[1]], [p[2], p[3]]   # [top, left, bottom, right]
    valid, covered = 1, 1
    for ax in range(2):
        span = d[ax] * (k[ax] - 1) + 1
        blocks = (out[ax] + lo[ax] + hi[ax] - span) // s[ax] + 1
        hits = set()
        n_valid = 0
        for b in range(max(0, blocks)):
            for j in range(k[ax]):
                pos = b * s[ax] + j * d[ax] - lo[ax]
                if 0 <= pos < out[ax]:
                    n_valid += 1
                    hits.add(pos)
        valid *= n_valid
        covered *= len(hits)
    n, ckk = int(x_shape[0]), int(x_shape[1])
    channels = ckk // (k[0] * k[1])
    return n * channels * (valid - covered)


@op_formula("fold", args="x, output_sizes, kernel_sizes, strides, paddings, dilations",
            convention="1 add per overlapping patch value (valid contributions - covered outputs)")
def fold_op(ins, outs, attrs):
    return pointwise(fold_adds(ins.get("x"), attrs.get("output_sizes"), attrs.get("kernel_sizes"),
                               attrs.get("strides") or 1, attrs.get("paddings") or 0,
                               attrs.get("dilations") or 1), 1)


@layer_formula(nn.Fold, convention="1 add per overlapping patch value (0 without overlap)")
def fold_layer(layer, ins, outs):
    return as_layer_cost(fold_op({"x": ins[0]}, outs,
                                 {"output_sizes": layer.output_sizes, "kernel_sizes": layer.kernel_sizes,
                                  "strides": layer.strides, "paddings": layer.paddings,
                                  "dilations": layer.dilations}))
