"""One set-up for every engine: the guards, the layer-call bracket and the
operation observers, all logged in the session's patch log."""
from __future__ import annotations

import sys

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
    guard_model(patches, layers)
    bracket_layer_calls(patches, attribution)
    modules = model_modules(layers)
    if observe:
        observe_ops(patches, attribution, modules, composites_only=observe == COMPOSITES_ONLY)
    return modules
