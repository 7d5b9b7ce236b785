"""Parameter ownership: every unique parameter counted once, attributed to the
layer that holds it directly (non-leaf layers included), split trainable /
non-trainable. Reads shapes only, so it works on models built under
``paddle.LazyGuard`` whose parameters were never materialised."""
from __future__ import annotations

import operator
from itertools import accumulate, chain, repeat
from math import prod
from operator import attrgetter
from typing import NamedTuple


class ParameterCounts(NamedTuple):
    """Per layer, in the order of the ``layers`` given (parallel lists; two
    fields may be the same list when their counts coincide, so read only)."""
    params: list        # first held here (shared ones count once, at their first layer)
    trainable: list
    held: list          # every parameter the layer holds, shared or not (paddle.flops' count for a leaf)


def parameter_counts(layers: list) -> ParameterCounts:
    """The parameters each of ``layers`` (a model's distinct layers, in
    ``named_sublayers`` order) holds directly; a shared parameter goes to
    the first layer that holds it. Done in C-level passes over all
    parameters at once: one profile of a 1000-layer model must not pay
    Python work per parameter."""
    tables = list(map(attrgetter("_parameters"), layers))
    values = list(chain.from_iterable(map(dict.values, tables)))
    if not all(map(operator.is_not, values, repeat(None))):   # an unset slot (bias=False) holds None
        values = [p for p in values if p is not None]
        tables = [{k: p for k, p in t.items() if p is not None} for t in tables]
    sizes = list(map(prod, map(attrgetter("shape"), values)))   # a shape is a list of ints
    ids = list(map(id, values))
    if len(set(ids)) == len(ids):
        first = sizes
    else:   # shared parameters: only the first occurrence owns them
        at = {}
        for i, key in enumerate(ids):
            at.setdefault(key, i)
        first = [size if at[key] == i else 0 for i, (key, size) in enumerate(zip(ids, sizes))]
    frozen = list(map(attrgetter("stop_gradient"), values))
    trainable = first if not any(frozen) else list(map(operator.mul, first, map(operator.not_, frozen)))
    ends = list(accumulate(map(len, tables)))
    starts = [0, *ends[:-1]]

    def per_layer(counts):
        total = [0, *accumulate(counts)]
        return list(map(operator.sub, map(total.__getitem__, ends), map(total.__getitem__, starts)))

    held = per_layer(sizes)
    owned = held if first is sizes else per_layer(first)
    return ParameterCounts(owned, owned if trainable is first else per_layer(trainable), held)
