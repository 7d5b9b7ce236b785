"""Parameter ownership: every unique parameter counted once, attributed to the
layer that holds it directly (non-leaf layers included), split trainable /
non-trainable. Reads shapes only, so it works on models built under
``paddle.LazyGuard`` whose parameters were never materialised."""
from __future__ import annotations

from typing import NamedTuple

from math import prod


class OwnedParams(NamedTuple):
    params: int = 0       # first held here (shared ones count once, at their first layer)
    trainable: int = 0
    held: int = 0         # every parameter this layer holds, shared or not (paddle.flops' count for a leaf)


def parameter_owners(model, layers=None) -> dict[int, OwnedParams]:
    """id(layer) -> parameters it owns directly; shared parameters go to the
    first layer (in ``named_sublayers`` order) that holds them. ``layers``:
    the model's distinct layers in that order, if the caller has them."""
    if layers is None:
        layers = list(dict.fromkeys(l for _, l in model.named_sublayers(include_self=True)))
    seen: set[int] = set()
    owners: dict[int, OwnedParams] = {}
    none = OwnedParams()   # for the (many) layers that hold no parameter
    for layer in layers:
        table = layer._parameters
        if not table:
            owners[id(layer)] = none
            continue
        held = params = trainable = 0
        for p in table.values():
            if p is None:
                continue
            n = prod(p.shape)   # a parameter's shape is a list of ints
            held += n
            key = id(p)
            if key in seen:
                continue
            seen.add(key)
            params += n
            if not p.stop_gradient:
                trainable += n
        owners[id(layer)] = OwnedParams(params, trainable, held)
    return owners
