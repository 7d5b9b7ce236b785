"""Per-layer wall time of one eager forward pass, measured with forward hooks.

Every layer gets a pre-hook that reads the clock and a post-hook that calls
``sync()`` and reads it again (on a GPU ``sync`` is
``paddle.device.synchronize``, so a layer's time is the time of its kernels,
not of queueing them; this serialises the GPU, which is what per-layer
attribution needs). A layer's *inclusive* time covers its sublayers; its
*exclusive* time is inclusive minus the inclusive time of the sublayers it
called, i.e. the time of the operations written directly in its
``forward`` (for a leaf layer, all of it). Warm-up passes are run with the
hooks in place and discarded; each reported figure is the median over
``repeats`` passes.

Why not ``profile(..., time_layers=True)``: that single pass also runs the
FLOP counter's operation interception and formulas inside the timed region,
has no warm-up and no device sync, so it is good for a rough split but not
for the numbers a benchmark reports.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable


def time_layers(model, inputs: list, *, warmup: int = 1, repeats: int = 5,
                sync: Callable[[], None] | None = None,
                clock: Callable[[], float] = time.perf_counter) -> dict:
    """``{"total": s, "layers": {path: {"inclusive": s, "exclusive": s, "calls": n}}}``
    with medians over ``repeats`` passes (path ``""`` is the model itself)."""
    import paddle

    sync = sync or (lambda: None)
    names = {id(layer): name for name, layer in model.named_sublayers(include_self=True)}
    stack: list[list] = []             # [layer id, start, time spent in children]
    current: dict[int, list] = {}      # per pass: id -> [inclusive, children, calls]

    def pre(layer, inputs_):
        stack.append([id(layer), clock(), 0.0])

    def post(layer, inputs_, output):
        sync()
        lid, start, children = stack.pop()
        elapsed = clock() - start
        rec = current.setdefault(lid, [0.0, 0.0, 0])
        rec[0] += elapsed
        rec[1] += children
        rec[2] += 1
        if stack:
            stack[-1][2] += elapsed

    handles = []
    for _, layer in model.named_sublayers(include_self=True):
        handles.append(layer.register_forward_pre_hook(pre))
        handles.append(layer.register_forward_post_hook(post))
    per_pass: list[dict[int, list]] = []
    try:
        model.eval()
        with paddle.no_grad():
            for i in range(warmup + repeats):
                current = {}
                stack.clear()
                sync()
                model(*inputs)
                if i >= warmup:
                    per_pass.append(current)
    finally:
        for h in handles:
            h.remove()

    layers = {}
    for lid, name in names.items():
        incl = [p[lid][0] for p in per_pass if lid in p]
        if not incl:
            continue
        excl = [p[lid][0] - p[lid][1] for p in per_pass if lid in p]
        layers[name] = {"inclusive": statistics.median(incl),
                        "exclusive": max(0.0, statistics.median(excl)),
                        "calls": per_pass[0].get(lid, [0, 0, 0])[2]}
    root = id(model)
    total = statistics.median([p[root][0] for p in per_pass if root in p]) if per_pass else 0.0
    return {"total": total, "layers": layers, "repeats": repeats, "warmup": warmup}
