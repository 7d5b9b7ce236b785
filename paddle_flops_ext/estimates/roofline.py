"""Roofline view of each layer: bytes moved, arithmetic intensity, bound.

For a layer: ``bytes = (input elements + output elements + own parameters)
x dtype size`` -- the traffic if each tensor crosses the memory bus once,
a lower bound that ignores cache reuse misses and im2col buffers.
``intensity = flops / bytes`` (FLOPs per byte, ``flops`` in this project's
FLOP convention). With the machine's measured roofs, the ridge point is
``peak_flops / peak_bandwidth``; a layer whose intensity is below the ridge
is **memory-bound** (no kernel can run it faster than ``bytes /
bandwidth``), at or above it **compute-bound**. The roofline time is
``max(flops / peak_flops, bytes / peak_bandwidth)`` and ``attainable =
min(peak_flops, intensity x peak_bandwidth)``.

Cache-aware roofs: the peak measurement gives a copy bandwidth per cache
level and DRAM (:mod:`paddle_flops_ext.bench.peak`). A layer is judged against the roof for its
working set: the highest measured bandwidth among the levels whose capacity
holds ``bytes`` (DRAM always qualifies), so a small layer whose tensors stay
in L2 is held to the L2 roof, not to DRAM's. Its ridge point is
``peak_flops / that bandwidth``. Rows carry ``roof_level`` and
``roof_gbps``. With no per-level measurements (an old document) the DRAM
copy bandwidth is the only roof.

Only layers whose inputs and outputs are its own traffic get a byte
estimate: leaf layers. A container's own operations (e.g. the attention
products written in an attention block's ``forward``) have their FLOPs and
exclusive time reported but ``bytes``/``bound`` left ``None``, because their
intermediate tensors are not visible from the layer's inputs and outputs.
"""
from __future__ import annotations

from typing import Iterable

COMPUTE, MEMORY = "compute", "memory"


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= max(int(d), 0)
    return n


def _shapes(obj) -> Iterable[tuple]:
    """Flatten the nested shape lists the profiler records."""
    if obj is None:
        return
    if isinstance(obj, (list, tuple)) and all(isinstance(d, int) for d in obj):
        yield tuple(obj)
        return
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _shapes(o)


def layer_bytes(input_shapes, output_shapes, param_count: int, dtype_size: int = 4) -> int:
    elems = sum(_numel(s) for s in _shapes(input_shapes)) + sum(_numel(s) for s in _shapes(output_shapes))
    return int((elems + int(param_count)) * dtype_size)


def intensity(flops: float, nbytes: float) -> float | None:
    return None if not nbytes else flops / nbytes


def classify(arith_intensity: float | None, ridge: float) -> str | None:
    """``compute`` when the intensity reaches the ridge point, else ``memory``."""
    if arith_intensity is None:
        return None
    return COMPUTE if arith_intensity >= ridge else MEMORY


def roofline_seconds(flops: float, nbytes: float | None, peak_flops: float, peak_bw: float) -> float | None:
    if nbytes is None:
        return None
    return max(flops / peak_flops, nbytes / peak_bw)


def bandwidth_roofs(peak: dict) -> list[tuple]:
    """``[(level, capacity_bytes or None, GB/s)]`` from a peak document."""
    levels = peak.get("bandwidth") or []
    roofs = [(b["level"], b.get("capacity_bytes"), b["gbps_peak"]) for b in levels]
    if not any(c is None for _, c, _ in roofs):
        roofs.append(("DRAM", None, peak["copy_gbps_peak"]))
    return roofs


def roof_for(nbytes: float | None, roofs: list[tuple]) -> tuple[str, float]:
    """``(level, GB/s)``: the fastest measured level that holds ``nbytes``."""
    fits = [(lv, bw) for lv, cap, bw in roofs if cap is None or (nbytes is not None and nbytes <= cap)]
    return max(fits, key=lambda t: t[1])


def layer_kind(layer) -> str:
    """A short label grouping layers for the per-kind summary."""
    name = type(layer).__name__
    # Paddle's own classes among the layer's bases, by name: no Paddle import for a label
    paddle_bases = {c.__name__ for c in type(layer).__mro__ if c.__module__.startswith("paddle.nn")}
    if paddle_bases & {"Conv1D", "Conv2D", "Conv3D"}:
        groups = getattr(layer, "_groups", 1) or 1
        cin = getattr(layer, "_in_channels", None)
        k = tuple(getattr(layer, "_kernel_size", ()) or ())
        if groups > 1 and groups == cin:
            return "conv depthwise"
        if groups > 1:
            return "conv grouped"
        if k and all(int(d) == 1 for d in k):
            return "conv 1x1"
        return "conv kxk"
    if "Linear" in paddle_bases:
        return "linear"
    if "BatchNorm" in name or "LayerNorm" in name or "GroupNorm" in name or "RMSNorm" in name:
        return "norm"
    if "Pool" in name:
        return "pool"
    if name in ("ReLU", "ReLU6", "GELU", "Hardswish", "Hardsigmoid", "Sigmoid", "SiLU", "Swish",
                "Tanh", "LeakyReLU", "PReLU", "ELU", "Softmax"):
        return "activation"
    return name


def per_layer_rows(result, timing: dict, peak: dict, model=None, dtype_size: int = 4) -> list[dict]:
    """One row per leaf layer, and per container that runs operations of its
    own (counted or not: reshapes and rolls take time too), pairing the
    profile's counts with the measured exclusive time."""
    layers = dict(model.named_sublayers(include_self=True)) if model is not None else {}
    measured = timing.get("layers", {})
    rows = []
    for node in result.root.walk():
        t = measured.get(node.name)
        own_flops = node.cost.flops
        runs_ops = bool(node.ops or node.zero_ops or node.unknown_ops)
        if t is None or not node.called or (not node.is_leaf and own_flops == 0 and not runs_ops):
            continue
        leaf = node.is_leaf
        nbytes = layer_bytes(node.input_shape, node.output_shape, node.params, dtype_size) if leaf else None
        secs = t["exclusive"]
        layer = layers.get(node.name)
        rows.append({
            "name": node.name or node.type,
            "type": node.type,
            "kind": (layer_kind(layer) if layer is not None else node.type) if leaf
            else node.type + " (own ops)",
            "leaf": leaf,
            "calls": t["calls"],
            "macs": node.cost.macs,
            "flops": own_flops,
            "params": node.params,
            "bytes": nbytes,
            "intensity": intensity(own_flops, nbytes) if leaf else None,
            "time_ms": secs * 1e3,
            "time_raw_ms": t.get("exclusive_raw", secs) * 1e3,
            "achieved_gflops": own_flops / secs / 1e9 if secs > 0 else None,
        })
    total_t = sum(r["time_ms"] for r in rows) or 1.0
    total_f = sum(r["flops"] for r in rows) or 1
    for r in rows:
        r["time_share"] = r["time_ms"] / total_t
        r["flops_share"] = r["flops"] / total_f
    return apply_peak(rows, peak)


def apply_peak(rows: list[dict], peak: dict) -> list[dict]:
    """(Re)compute the columns that depend on the roofs: ``bound``,
    ``frac_peak``, ``attainable_gflops``, ``roofline_ms``."""
    peak_flops = peak["matmul_gflops_peak"] * 1e9
    roofs = bandwidth_roofs(peak)
    for r in rows:
        ai = r["intensity"]
        level, gbps = roof_for(r["bytes"], roofs) if r["bytes"] is not None else (None, None)
        peak_bw = gbps * 1e9 if gbps else None
        r["roof_level"], r["roof_gbps"] = level, gbps
        r["bound"] = classify(ai, peak_flops / peak_bw) if peak_bw else None
        r["frac_peak"] = r["achieved_gflops"] * 1e9 / peak_flops if r["achieved_gflops"] is not None else None
        r["attainable_gflops"] = min(peak_flops, ai * peak_bw) / 1e9 if ai is not None and peak_bw else None
        r["roofline_ms"] = (roofline_seconds(r["flops"], r["bytes"], peak_flops, peak_bw) * 1e3
                            if peak_bw else None)
    return rows


def summarize_kinds(rows: list[dict], peak: dict) -> list[dict]:
    """Per layer kind: share of time vs share of FLOPs, achieved GFLOP/s, the
    kind's aggregate intensity and bound against the DRAM roof, and
    ``memory_bound_time_share``: the share of the kind's time spent in layers
    judged memory-bound against their own (cache-aware) roof."""
    peak_flops = peak["matmul_gflops_peak"] * 1e9
    ridge = peak["matmul_gflops_peak"] / peak["copy_gbps_peak"]
    groups: dict[str, dict] = {}
    for r in rows:
        g = groups.setdefault(r["kind"], {"kind": r["kind"], "layers": 0, "flops": 0, "bytes": 0,
                                          "time_ms": 0.0, "has_bytes": True, "mem_ms": 0.0})
        g["layers"] += 1
        if r.get("bound") == MEMORY:
            g["mem_ms"] += r["time_ms"]
        g["flops"] += r["flops"]
        g["time_ms"] += r["time_ms"]
        if r["bytes"] is None:
            g["has_bytes"] = False
        else:
            g["bytes"] += r["bytes"]
    total_t = sum(g["time_ms"] for g in groups.values()) or 1.0
    total_f = sum(g["flops"] for g in groups.values()) or 1
    out = []
    for g in sorted(groups.values(), key=lambda g: -g["time_ms"]):
        has = g.pop("has_bytes")
        mem_ms = g.pop("mem_ms")
        ai = intensity(g["flops"], g["bytes"]) if has else None
        secs = g["time_ms"] / 1e3
        achieved = g["flops"] / secs if secs > 0 else None
        g.update({
            "bytes": g["bytes"] if has else None,
            "intensity": ai,
            "bound": classify(ai, ridge),
            "time_share": g["time_ms"] / total_t,
            "flops_share": g["flops"] / total_f,
            "memory_bound_time_share": mem_ms / g["time_ms"] if g["time_ms"] > 0 else None,
            "achieved_gflops": achieved / 1e9 if achieved is not None else None,
            "frac_peak": achieved / peak_flops if achieved is not None else None,
        })
        out.append(g)
    return out
