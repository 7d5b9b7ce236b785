"""Generation with a KV cache, from counts and shapes: bytes per element,
the cache's geometry and size, weight bytes read per phase (routed experts
by expected use), a phase's roofline time, the exact affine decode-step
cost, and the machine's peaks read from a measurement. Pure functions; the
tracing itself is :func:`paddle_flops_ext.llm.generation.profile_generation`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import paddle

from ..collect.inputs import dtype_name
from .moe import expected_experts_touched, moe_structure

WIDTH = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int8": 1, "uint8": 1, "float8_e4m3fn": 1,
         "float8_e5m2": 1, "fp8": 1, "int4": 0.5}
_PEAK_PRECISION = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "int8": "int8"}


def width(dtype) -> float:
    """Bytes per element of a dtype name (``int4``: 0.5)."""
    name = dtype_name(dtype)
    if name not in WIDTH:
        raise ValueError(f"unknown dtype {dtype!r}; one of {', '.join(WIDTH)}")
    return WIDTH[name]



@dataclass(frozen=True)
class Geometry:
    """The KV cache a decoder keeps, per layer: ``kv_heads`` cached heads of
    a ``head_dim``-wide key and a ``value_dim``-wide value (default
    ``head_dim``).

    ``windows``: one entry per layer, ``None`` for full attention or the
    sliding window ``w`` of that layer (empty: every layer full). A windowed
    layer attends ``min(w, c)`` keys at a decode step of context ``c`` and
    keeps ``min(w - 1, n)`` entries after ``n`` tokens (the next query is the
    window's last key; PaddleFormers' ``DynamicSlidingWindowLayer``).

    ``latent_dim``: multi-head latent attention (DeepSeek-V2/V3): what a
    cache of the compressed latent would hold per layer and token
    (``kv_lora_rank + qk_rope_head_dim``); ``None`` otherwise.
    """
    layers: int
    kv_heads: int
    head_dim: int
    value_dim: int | None = None
    windows: tuple = ()
    latent_dim: int | None = None

    @property
    def entry_elements(self) -> int:
        """Elements one cached token takes in one layer (K and V)."""
        return self.kv_heads * (self.head_dim + (self.head_dim if self.value_dim is None else self.value_dim))

    def window(self, layer: int):
        return self.windows[layer] if self.windows else None

    @property
    def windowed(self) -> bool:
        return any(w is not None for w in self.windows)

    def kept(self, layer: int, tokens: int) -> int:
        """Entries ``layer`` holds after ``tokens`` tokens."""
        w = self.window(layer)
        return tokens if w is None else min(w - 1, tokens)

    def attended(self, layer: int, context: int) -> int:
        """Keys ``layer`` attends at a decode step of context ``context``
        (its cached entries and the new one): the entries a step reads and
        writes."""
        w = self.window(layer)
        return context if w is None else min(w, context)

    def kv_elements(self, tokens: int) -> int:
        """Cache elements per sequence after ``tokens`` tokens."""
        return self.entry_elements * sum(self.kept(i, tokens) for i in range(self.layers))

    def step_elements(self, context: int) -> int:
        """Cache elements a decode step of context ``context`` reads and
        writes, per sequence."""
        return self.entry_elements * sum(self.attended(i, context) for i in range(self.layers))

    def steps_elements(self, first: int, last: int) -> int:
        """:meth:`step_elements` summed over contexts ``first..last``."""
        total = 0
        for i in range(self.layers):
            w = self.window(i)
            total += _sum_capped(first, last, w)
        return self.entry_elements * total

    def latent_elements(self, tokens: int) -> int | None:
        """Elements a latent (MLA) cache would hold per sequence."""
        return None if self.latent_dim is None else self.layers * self.latent_dim * tokens

    def kv_bytes_per_token(self, kv_width: float) -> float:
        """Bytes of one cached token over every layer (a windowed layer's
        cache stops growing at its window)."""
        return self.layers * self.entry_elements * kv_width


def _sum_capped(first: int, last: int, cap) -> int:
    """``sum(min(cap, c) for c in first..last)`` (``cap`` None: no cap)."""
    if last < first:
        return 0
    if cap is None or last <= cap:
        return (first + last) * (last - first + 1) // 2
    if first >= cap:
        return cap * (last - first + 1)
    return (first + cap) * (cap - first + 1) // 2 + cap * (last - cap)


def zoo_geometry(cfg) -> Geometry:
    """The KV cache of the zoo's decoder from its config: per-head keys and
    values (latent attention: ``qk_nope + qk_rope`` and ``v_head_dim`` wide,
    with the latent a latent cache would hold), and the per-layer windows."""
    latent = cfg.kv_lora_rank + cfg.qk_rope_dim if getattr(cfg, "kv_lora_rank", None) else None
    return Geometry(cfg.n_layers, cfg.kv_heads, cfg.head_dim, value_dim=getattr(cfg, "value_dim", None),
                    windows=tuple(getattr(cfg, "windows", None) or ()), latent_dim=latent)


def config_geometry(cfg, windows: bool = False) -> Geometry:
    """The KV cache of a PaddleNLP / PaddleFormers decoder from its config.

    Multi-head latent attention (``kv_lora_rank``, ``qk_nope_head_dim``):
    every query head's key (``qk_nope_head_dim + qk_rope_head_dim``) and
    value (``v_head_dim``) are cached, as PaddleFormers does, and the latent
    size is kept too. ``windows``: read the sliding windows by the rule of
    PaddleFormers' ``DynamicCache(config=...)`` (``layer_types``, else every
    layer sliding when ``sliding_window`` or ``attention_chunk_size`` is
    set); without it every layer keeps every token (PaddleNLP's tuples)."""
    def g(key, default=None):
        value = getattr(cfg, key, None)
        return default if value is None else value
    layers, heads = int(g("num_hidden_layers")), int(g("num_attention_heads"))
    window_list = ()
    if windows:
        window = g("sliding_window") or g("attention_chunk_size")
        types = g("layer_types") or [("sliding_attention" if window else "full_attention")] * layers
        if g("num_kv_shared_layers"):
            types = types[:-int(g("num_kv_shared_layers"))]
        if window and any(t in ("sliding_attention", "chunked_attention") for t in types):
            window_list = tuple(int(window) if t in ("sliding_attention", "chunked_attention") else None
                                for t in types)
        layers = len(types)
    if g("kv_lora_rank") and g("qk_nope_head_dim"):
        rope = int(g("qk_rope_head_dim"))
        return Geometry(layers, heads, int(g("qk_nope_head_dim")) + rope, int(g("v_head_dim")), window_list,
                        int(g("kv_lora_rank")) + rope)
    kv = int(g("num_key_value_heads", heads))
    head_dim = int(g("head_dim") or g("hidden_size") // heads)
    return Geometry(layers, kv, head_dim, None, window_list)


def geometry(net, windows: bool = False) -> Geometry:
    """The KV cache of the zoo's model (``net.cfg``) or of a PaddleNLP /
    PaddleFormers decoder (``net.config``); ``windows``: see
    :func:`config_geometry`."""
    cfg = getattr(net, "cfg", None)
    if cfg is not None and hasattr(cfg, "kv_heads"):
        return zoo_geometry(cfg)
    cfg = getattr(net, "config", None)
    if cfg is None:
        raise TypeError(f"{type(net).__name__} has neither a zoo cfg nor a PaddleNLP config: cannot tell its "
                        f"KV cache layout (layers, kv heads, head size)")
    return config_geometry(cfg, windows)


@dataclass
class Phase:
    name: str
    tokens: int                  # tokens processed (batch x tokens per sequence)
    macs: float
    flops: float
    weight_bytes: float
    kv_bytes: float
    context: str = ""            # keys attended per sequence
    compute_s: float | None = None
    memory_s: float | None = None

    @property
    def bytes(self) -> float:
        return self.weight_bytes + self.kv_bytes

    @property
    def intensity(self) -> float:
        return self.flops / self.bytes if self.bytes else float("inf")

    @property
    def time_s(self) -> float | None:
        return None if self.compute_s is None else max(self.compute_s, self.memory_s)

    @property
    def bound(self) -> str | None:
        if self.compute_s is None:
            return None
        return "compute" if self.compute_s >= self.memory_s else "memory"

    def to_dict(self) -> dict:
        return {"phase": self.name, "tokens": self.tokens, "context": self.context,
                "macs": num(self.macs), "flops": num(self.flops),
                "weight_bytes": num(self.weight_bytes), "kv_bytes": num(self.kv_bytes),
                "bytes": num(self.bytes), "flops_per_byte": round(self.intensity, 4),
                "est_time_s": self.time_s, "bound": self.bound}


def num(x):
    """Whole numbers as ints (exact); means stay floats."""
    return int(x) if float(x).is_integer() else float(x)


def scaled(p: Phase, name: str, k: float, context: str) -> Phase:
    return Phase(name, p.tokens / k, p.macs / k, p.flops / k, p.weight_bytes / k, p.kv_bytes / k, context,
                 None if p.compute_s is None else p.compute_s / k,
                 None if p.memory_s is None else p.memory_s / k)


def with_time(p: Phase, peaks: dict | None) -> Phase:
    if peaks:
        p.compute_s = p.flops / peaks["flops_per_s"]
        p.memory_s = p.bytes / peaks["bytes_per_s"]
    return p


def peaks_for(peaks: dict, dtype: str = "float32", notes: list | None = None) -> dict:
    """``{"flops_per_s", "bytes_per_s", "source"}`` from given peaks or from a
    :func:`paddle_flops_ext.bench.peak.measure_peak` dict (its matmul peak at
    ``dtype``'s precision where measured, else fp32, said in ``notes``)."""
    notes = notes if notes is not None else []
    if "flops_per_s" in peaks and "bytes_per_s" in peaks:
        return {"source": "given peaks", **peaks}
    if "matmul_gflops_peak" in peaks:
        prec = _PEAK_PRECISION.get(dtype, "fp32")
        entry = peaks.get("compute", {}).get(prec, {})
        if entry.get("status") == "ran":
            gflops = entry["gflops_peak"]
        else:
            gflops = peaks["matmul_gflops_peak"]
            if prec != "fp32":
                notes.append(f"no measured {prec} matmul peak on this machine "
                             f"({entry.get('reason', 'not measured')}); the fp32 peak is used")
                prec = "fp32"
        return {"flops_per_s": gflops * 1e9, "bytes_per_s": peaks["copy_gbps_peak"] * 1e9,
                "source": f"this machine's measured peaks ({prec} matmul, DRAM copy; paddle_flops_ext.bench.peak)"}
    raise ValueError("peaks must be {'flops_per_s': ..., 'bytes_per_s': ...}, a bench.peak dict, None "
                     "(measure) or False (no roofline)")


def weight_groups(net, dtype: str, weight_dtype: str | None, tied: bool):
    """Bytes of the parameters per kind: ``dense`` (read whole every
    forward), ``embedding`` (bytes per looked-up row, per table), ``experts``
    (bytes of one routed expert per MoE layer)."""
    moe = moe_structure(net)
    expert_ids, expert_bytes = set(), []
    if moe:
        groups = {name: layer for name, layer in net.named_sublayers() if name in moe["moe_layers"]}
        for name in moe["moe_layers"]:
            stacked = name in moe.get("stacked_layers", ())     # one [E, ...] weight per projection
            experts = [groups[name]] if stacked else groups[name]
            per = []
            for expert in experts:
                b = 0.0
                for p in expert.parameters():
                    expert_ids.add(id(p))
                    b += param_bytes(p, dtype, weight_dtype)
                per.append(b)
            # stacked weights hold every expert: one expert is 1/E of them
            expert_bytes.append(sum(per) / len(per) / (moe["experts"] if stacked else 1))
    emb_ids, emb_rows = set(), []
    for layer in net.sublayers(include_self=True):
        if isinstance(layer, paddle.nn.Embedding):
            w = layer.weight
            if id(w) in emb_ids:
                continue
            emb_ids.add(id(w))
            emb_rows.append(param_bytes(w, dtype, weight_dtype) / int(w.shape[0]))
    if tied:
        emb_ids = set()
        emb_rows = []
    dense, seen = 0.0, set()
    for p in net.parameters():
        if id(p) in seen or id(p) in expert_ids or id(p) in emb_ids:
            continue
        seen.add(id(p))
        dense += param_bytes(p, dtype, weight_dtype)
    return dense, emb_rows, expert_bytes, moe


def param_bytes(p, dtype: str, weight_dtype: str | None) -> float:
    n = math.prod(int(d) for d in p.shape)
    stored = dtype_name(p.dtype)
    if stored in ("int8", "uint8"):
        return n * 1.0        # quantised storage: int4 is packed two per byte (half the elements)
    if len(p.shape) >= 2:
        return n * width(weight_dtype or dtype)
    return n * width(dtype)


def experts_touched(moe: dict, tokens: int) -> float:
    return expected_experts_touched(moe["experts"], moe["top_k"], tokens)


def decode_breaks(geo: Geometry, first: int, last: int) -> list[int]:
    """Contexts between which a decode step's cost is affine: ``first``,
    every window length strictly inside, ``last`` (a windowed layer's
    attention grows with the context up to its window, then stays)."""
    inside = sorted({w for w in geo.windows if w is not None and first < w < last})
    return [first, *inside, last] if last != first else [first]


def affine_sum(a: int, b: int, first: int, last: int) -> int:
    """``sum(a + b c for c in first..last)``."""
    n = last - first + 1
    return a * n + b * (first + last) * n // 2


def decode_affine(first: tuple[int, int, int], last: tuple[int, int, int]) -> dict:
    """``{"macs": (a, b), "flops": (a, b)}`` with a decode step at context
    ``c`` costing ``a + b c``, from two traced steps ``(context, macs,
    flops)``; raises if the two are not on one integer line."""
    (c1, m1, f1), (c2, m2, f2) = first, last
    if c1 == c2:
        return {"macs": (m1, 0), "flops": (f1, 0)}
    affine = {}
    for what, v1, v2 in (("macs", m1, m2), ("flops", f1, f2)):
        slope, rem = divmod(v2 - v1, c2 - c1)
        if rem:
            raise RuntimeError(f"decode step {what} are not affine in the context length: {v1} at {c1}, "
                               f"{v2} at {c2} keys")
        affine[what] = (v1 - slope * c1, slope)
    return affine
