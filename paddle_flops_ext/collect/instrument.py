"""One set-up for every engine: the guards, the layer-call bracket and the
operation observers, all logged in the session's patch log."""
from __future__ import annotations

import sys
from operator import attrgetter, methodcaller

from .core import Attribution, bracket_layer_calls
from .guards import guard_model, guard_process
from .intercept import observe_ops
from .patch import Patches

ALL_OPS, COMPOSITES_ONLY = "all", "composites"


def model_modules(layers) -> list:
    """Python modules that define the model's layer classes (user code may
    hold its own aliases of Paddle ops there)."""
    names = {type(layer).__module__ for layer in layers}
    return [sys.modules[n] for n in names if n and not n.startswith("paddle") and n in sys.modules]


# Python frames a nested layer call adds beyond a plain run's: our bracket, and
# in trace mode Paddle's static-graph builders (measured: a plain run of 330
# nested Sequentials fits the default limit; profiling failed above 246 eager
# and 161 traced levels)
_FRAMES_PER_LEVEL = 16


def _recursion_room(patches: Patches, records: list) -> None:
    """Raise Python's recursion limit for the profile by what the model's
    depth needs on top of a plain run, and put it back after: any model that
    runs plainly can be profiled. (A dotted path's dots bound its depth from
    above; a sub-layer name holding a dot only gives more room.)"""
    depth = max(map(methodcaller("count", "."), map(attrgetter("path"), records)), default=0) + 1
    if depth > 8:
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(old + _FRAMES_PER_LEVEL * depth)
        patches.on_restore(lambda: sys.setrecursionlimit(old))


def instrument(patches: Patches, attribution: Attribution, *, observe: str | None = ALL_OPS,
               process: bool = True) -> list:
    """Guard the process (``process``; trace mode guards it once for all its
    attempts) and the model's layers, bracket their calls, and observe
    operations (``observe``: ``"all"``, ``"composites"`` - composite
    functions only, as a trace reads the rest off its program - or None).
    Returns the model's own Python modules (for further patches)."""
    layers = [rec.layer for rec in attribution.order]
    if process:
        guard_process(patches)
    _recursion_room(patches, attribution.order)
    guard_model(patches, layers)
    bracket_layer_calls(patches, attribution)
    modules = model_modules(layers)
    if observe:
        observe_ops(patches, attribution, modules, composites_only=observe == COMPOSITES_ONLY)
    return modules
