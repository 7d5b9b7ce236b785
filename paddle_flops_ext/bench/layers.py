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

The hooks cost time themselves: :func:`hook_overhead` measures it on a
model of ``K`` layers that do nothing. Per hooked layer call, ``a`` falls
inside the layer's own interval (the rest of the pre-hook, Paddle's call
machinery, the start of the post-hook: the median inclusive time of a layer
that does nothing) and ``b = h - a`` falls in its parent's exclusive time,
where ``h = (hooked pass - unhooked pass - a) / K`` is the whole cost per
call. :func:`correct_overhead` subtracts ``calls x a + child calls x b`` from
each layer's exclusive time, so that the corrected exclusive times add up to
the forward pass *without* hooks, which :func:`time_layers` also measures
(``unhooked``); the runner reports both sums next to each other.

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
    """``{"total": s, "unhooked": s, "layers": {path: {"inclusive": s,
    "exclusive": s, "calls": n, "child_calls": n}}}`` with medians over
    ``repeats`` passes (path ``""`` is the model itself); ``unhooked`` is the
    median of ``repeats`` passes without hooks, each run right after a hooked
    pass."""
    import paddle

    sync = sync or (lambda: None)
    names = {id(layer): name for name, layer in model.named_sublayers(include_self=True)}
    stack: list[list] = []             # [layer id, start, time in children, child calls]
    current: dict[int, list] = {}      # per pass: id -> [inclusive, children, calls, child calls]

    def pre(layer, inputs_):
        stack.append([id(layer), clock(), 0.0, 0])

    def post(layer, inputs_, output):
        sync()
        lid, start, children, child_calls = stack.pop()
        elapsed = clock() - start
        rec = current.setdefault(lid, [0.0, 0.0, 0, 0])
        rec[0] += elapsed
        rec[1] += children
        rec[2] += 1
        rec[3] += child_calls
        if stack:
            stack[-1][2] += elapsed
            stack[-1][3] += 1

    def attach():
        return [h for _, layer in model.named_sublayers(include_self=True)
                for h in (layer.register_forward_pre_hook(pre), layer.register_forward_post_hook(post))]

    def detach(handles):
        for h in handles:
            h.remove()

    per_pass: list[dict[int, list]] = []
    unhooked = []
    model.eval()
    with paddle.no_grad():
        # a hooked pass, then an unhooked one, alternately: load changes hit both alike
        for i in range(warmup + repeats):
            current = {}
            stack.clear()
            handles = attach()
            try:
                sync()
                model(*inputs)
            finally:
                detach(handles)
            sync()
            t0 = clock()
            model(*inputs)
            sync()
            if i >= warmup:
                per_pass.append(current)
                unhooked.append(clock() - t0)

    layers = {}
    for lid, name in names.items():
        incl = [p[lid][0] for p in per_pass if lid in p]
        if not incl:
            continue
        excl = [p[lid][0] - p[lid][1] for p in per_pass if lid in p]
        layers[name] = {"inclusive": statistics.median(incl),
                        "exclusive": max(0.0, statistics.median(excl)),
                        "calls": per_pass[0].get(lid, [0, 0, 0, 0])[2],
                        "child_calls": per_pass[0].get(lid, [0, 0, 0, 0])[3]}
    root = id(model)
    total = statistics.median([p[root][0] for p in per_pass if root in p]) if per_pass else 0.0
    return {"total": total, "unhooked": statistics.median(unhooked) if unhooked else 0.0,
            "layers": layers, "repeats": repeats, "warmup": warmup}


def _nop_model(k: int):
    import paddle.nn as nn

    class Nop(nn.Layer):
        def forward(self, x):
            return x

    class Chain(nn.Layer):
        def __init__(self):
            super().__init__()
            self.nops = nn.LayerList([Nop() for _ in range(k)])

        def forward(self, x):
            for n in self.nops:
                x = n(x)
            return x
    return Chain()


def overhead_from_timing(t: dict, k: int) -> dict:
    """``{a, b, per_call}`` seconds from :func:`time_layers` run on a root
    with ``k`` do-nothing children (see the module docstring)."""
    nops = [v["inclusive"] for name, v in t["layers"].items() if name]
    a = statistics.median(nops) if nops else 0.0
    h = max(0.0, (t["total"] - t["unhooked"] - a) / k) if k else 0.0
    a = min(a, h) if h else a
    return {"a": a, "b": max(0.0, h - a), "per_call": h}


def hook_overhead(k: int = 64, repeats: int = 15, sync=None, clock=time.perf_counter) -> dict:
    """Measure the hooks' cost per layer call on this machine (seconds)."""
    import paddle
    model = _nop_model(k)
    t = time_layers(model, [paddle.ones([1])], warmup=2, repeats=repeats, sync=sync, clock=clock)
    return {**overhead_from_timing(t, k), "layers": k, "repeats": repeats}


def correct_overhead(t: dict, overhead: dict) -> dict:
    """``{path: exclusive seconds minus the hooks' share}`` (never negative)."""
    a, b = overhead["a"], overhead["b"]
    return {name: max(0.0, v["exclusive"] - v["calls"] * a - v.get("child_calls", 0) * b)
            for name, v in t["layers"].items()}
