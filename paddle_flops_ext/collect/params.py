"""Parameter ownership: every unique parameter counted once, attributed to the
layer that holds it directly (non-leaf layers included), split trainable /
non-trainable. Reads shapes only, so it works on models built under
``paddle.LazyGuard`` whose parameters were never materialised."""
from __future__ import annotations

from dataclasses import dataclass

from ..formulas.registry import numel


@dataclass
class OwnedParams:
    params: int = 0
    trainable: int = 0


def parameter_owners(model, layers=None) -> dict[int, OwnedParams]:
    """id(layer) -> parameters it owns directly; shared parameters go to the
    first layer (in ``named_sublayers`` order) that holds them. ``layers``:
    the model's distinct layers in that order, if the caller has them."""
    if layers is None:
        layers = list(dict.fromkeys(l for _, l in model.named_sublayers(include_self=True)))
    seen: set[int] = set()
    owners: dict[int, OwnedParams] = {}
    for layer in layers:
        own = OwnedParams()
        for p in layer._parameters.values():
            if p is None or id(p) in seen:
                continue
            seen.add(id(p))
            n = numel(p.shape)
            own.params += n
            if not p.stop_gradient:
                own.trainable += n
        owners[id(layer)] = own
    return owners
