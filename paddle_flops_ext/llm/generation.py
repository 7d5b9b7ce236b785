"""Cost of autoregressive generation with a KV cache: prefill + decode.

``profile_generation(net, prompt_len P, new_tokens T, batch B)`` counts

* **prefill**: one forward over the ``B x P`` prompt tokens with
  ``use_cache=True`` (it writes the cache and yields the first new token);
* **decode**: ``T`` steps; step ``i = 1..T`` feeds one token per sequence at
  position ``P + i - 1`` and attends ``P + i`` keys (the ``P + i - 1``
  cached ones and its own); after step ``T`` the cache holds ``P + T``
  tokens per sequence.

Exactness: prefill is one shape-only trace (``pfe.profile(mode="trace")``).
A decode step's cost is affine in its context length ``c`` (projections,
MLP, norms, rotary and the head do the same work for every step; the score
and value products, the softmax and the mask grow by one key at a time), so
the decode step is traced at two context lengths, ``c1 = P + 1`` and
``c2 = P + T``, and ``cost(c) = a + b c`` gives every step and the exact sum
``T a + b (T P + T (T + 1) / 2)``: two traces for any ``T``.
``verify_affine=True`` traces a third length and raises if it is off the
line.

Bytes moved (a lower bound: activations are not counted):

* weights: every parameter is read once per forward, at its real width: a
  stored int8 tensor 1 byte per element (int4 packed two per int8 byte is
  half the elements, so half a byte per weight), a floating matrix at
  ``weight_dtype`` (default: ``dtype``), vectors (norms, biases) at
  ``dtype``. An embedding table is read only at the rows looked up (one per
  token), unless it is tied to the output head (then read whole).
  Routed experts of an MoE model: only the experts the phase's tokens use,
  ``E (1 - (1 - k/E)^N)`` expected distinct experts for ``N`` tokens under
  uniform routing (an *estimate*, said in the notes).
* KV cache: prefill writes ``P`` entries; decode step ``i`` reads the
  ``P + i - 1`` cached entries and writes one: ``P + i`` entries of
  ``2 L n_kv d_head`` elements at ``kv_dtype`` (default ``dtype``), per
  sequence.

``kv_cache_bytes`` = ``2 L n_kv d_head (P + T) B`` x ``kv_dtype`` width.

Roofline (an *estimate*): a phase takes ``max(FLOPs / peak FLOP/s, bytes /
peak bandwidth)`` and is compute-bound when the first term is larger.
Time to first token (TTFT) = the prefill's estimate; time per output token
(TPOT) = the decode total / ``T``; tokens per second = ``B / TPOT``. Peaks
are measured on this machine by :mod:`paddle_flops_ext.bench.peak` (once per
process) unless given (``peaks={"flops_per_s": ..., "bytes_per_s": ...}``).

Models: the zoo LLaMA / MoE (``forward(tokens, past_key_values,
use_cache)``) and PaddleNLP decoders (``forward(input_ids, ...,
use_cache=True, past_key_values=...)`` with ``[batch, seq, kv_heads,
head_dim]`` caches and the geometry in ``net.config``).
"""
from __future__ import annotations

import inspect
import json
import math
from dataclasses import dataclass, field

import numpy as np

from ..report.content import Column, Content
from ..report.render import Renders, human, human_bytes, milliseconds

WIDTH = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int8": 1, "uint8": 1, "float8_e4m3fn": 1,
         "float8_e5m2": 1, "fp8": 1, "int4": 0.5}
_PEAK_PRECISION = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "int8": "int8"}
_MEASURED: dict = {}


def width(dtype) -> float:
    """Bytes per element of a dtype name (``int4``: 0.5)."""
    from ..collect.inputs import dtype_name
    name = dtype_name(dtype)
    if name not in WIDTH:
        raise ValueError(f"unknown dtype {dtype!r}; one of {', '.join(WIDTH)}")
    return WIDTH[name]


# ----------------------------------------------------------------------------- the model's protocol

@dataclass(frozen=True)
class Geometry:
    layers: int
    kv_heads: int
    head_dim: int

    def kv_bytes_per_token(self, kv_width: float) -> float:
        return 2 * self.layers * self.kv_heads * self.head_dim * kv_width


def geometry(net) -> Geometry:
    """Layers, KV heads and head size from the zoo's ``net.cfg`` or a
    PaddleNLP ``net.config``."""
    cfg = getattr(net, "cfg", None)
    if cfg is not None and hasattr(cfg, "kv_heads"):
        return Geometry(cfg.n_layers, cfg.kv_heads, cfg.head_dim)
    cfg = getattr(net, "config", None)
    if cfg is None:
        raise TypeError(f"{type(net).__name__} has neither a zoo cfg nor a PaddleNLP config: cannot tell its "
                        f"KV cache layout (layers, kv heads, head size)")
    g = (lambda k, d=None: getattr(cfg, k, None) if getattr(cfg, k, None) is not None else d)
    heads = g("num_attention_heads")
    kv = g("num_key_value_heads", heads)
    head_dim = g("head_dim") or g("hidden_size") // heads
    return Geometry(int(g("num_hidden_layers")), int(kv), int(head_dim))


def _input_name(net) -> str:
    params = [p for p in inspect.signature(net.forward).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not params:
        raise TypeError(f"{type(net).__name__}.forward takes no token ids")
    names = [p.name for p in params]
    if "past_key_values" not in names or "use_cache" not in names:
        raise TypeError(f"{type(net).__name__}.forward has no past_key_values/use_cache arguments: it does not "
                        f"follow the KV-cache protocol profile_generation counts")
    return "input_ids" if "input_ids" in names else names[0]


def _zeros(shape, dtype):
    """A read-only array of ``shape`` that takes no memory (zero strides):
    trace mode reads only its shape and dtype."""
    return np.broadcast_to(np.zeros((), dtype=dtype), tuple(shape))


def _float_dtype(net) -> str:
    from ..collect.inputs import model_float_dtype
    name = model_float_dtype(net)
    return "float32" if name == "bfloat16" else name   # numpy has no bfloat16: shapes are what count


# ----------------------------------------------------------------------------- result

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
                "macs": _num(self.macs), "flops": _num(self.flops),
                "weight_bytes": _num(self.weight_bytes), "kv_bytes": _num(self.kv_bytes),
                "bytes": _num(self.bytes), "flops_per_byte": round(self.intensity, 4),
                "est_time_s": self.time_s, "bound": self.bound}


def _num(x):
    """Whole numbers as ints (exact); means stay floats."""
    return int(x) if float(x).is_integer() else float(x)


def _scaled(p: Phase, name: str, k: float, context: str) -> Phase:
    return Phase(name, p.tokens / k, p.macs / k, p.flops / k, p.weight_bytes / k, p.kv_bytes / k, context,
                 None if p.compute_s is None else p.compute_s / k,
                 None if p.memory_s is None else p.memory_s / k)


_COLUMNS = (Column("phase", "Phase", code=True), Column("tokens", "Tokens", "count"),
            Column("context", "Keys attended"), Column("macs", "MACs", "count"), Column("flops", "FLOPs", "count"),
            Column("weight_bytes", "Weight bytes", "bytes", digits=2),
            Column("kv_bytes", "KV bytes", "bytes", digits=2), Column("bytes", "Bytes", "bytes", digits=2),
            Column("flops_per_byte", "FLOP/byte", "number", digits=2),
            Column("est_time_s", "Est. time (ms)", "seconds"), Column("bound", "Bound (est.)"))


@dataclass
class GenerationResult(Renders):
    """Prefill and decode costs; every rendering (``table()``,
    ``to_markdown()``, ``to_csv()``, ``to_json()``, ``to_dict()``) carries
    the same phases, summary and notes."""
    model: str
    batch: int
    prompt_len: int
    new_tokens: int
    causal: str
    dtype: str
    weight_dtype: str
    kv_dtype: str
    params: int
    active_params: int
    kv_cache_bytes: float
    prefill: Phase
    decode: Phase                              # all T steps
    decode_affine: dict                        # {"macs": (a, b), "flops": (a, b)}: step cost = a + b * context
    step_weight_bytes: float
    kv_bytes_per_token: float                  # per sequence
    peaks: dict | None = None                  # {"flops_per_s", "bytes_per_s", "source"}
    exact: bool = True
    notes: list = field(default_factory=list)
    moe: dict | None = None

    # per step -----------------------------------------------------------------
    def step(self, i: int) -> Phase:
        """Decode step ``i`` (1-based): context ``P + i``, exact counts."""
        if not 1 <= i <= self.new_tokens:
            raise ValueError(f"decode steps are 1..{self.new_tokens}, got {i}")
        c = self.prompt_len + i
        (am, bm), (af, bf) = self.decode_affine["macs"], self.decode_affine["flops"]
        p = Phase(f"decode step {i}", self.batch, am + bm * c, af + bf * c, self.step_weight_bytes,
                  self.kv_bytes_per_token * c * self.batch, f"{c}")
        return _with_time(p, self.peaks)

    def steps(self) -> list[Phase]:
        return [self.step(i) for i in range(1, self.new_tokens + 1)]

    # totals -------------------------------------------------------------------
    @property
    def macs(self) -> int:
        return int(self.prefill.macs + self.decode.macs)

    @property
    def flops(self) -> int:
        return int(self.prefill.flops + self.decode.flops)

    @property
    def ttft_s(self) -> float | None:
        """Estimated time to first token: the prefill's roofline time."""
        return self.prefill.time_s

    @property
    def tpot_s(self) -> float | None:
        """Estimated time per output token: mean decode step."""
        return None if self.decode.time_s is None else self.decode.time_s / self.new_tokens

    @property
    def tokens_per_s(self) -> float | None:
        """Estimated decode throughput: ``batch / TPOT``."""
        return None if not self.tpot_s else self.batch / self.tpot_s

    def phases(self) -> list[Phase]:
        total = Phase("total", self.prefill.tokens + self.decode.tokens, self.macs, self.flops,
                      self.prefill.weight_bytes + self.decode.weight_bytes,
                      self.prefill.kv_bytes + self.decode.kv_bytes, "")
        if self.prefill.compute_s is not None:
            total.compute_s = self.prefill.compute_s + self.decode.compute_s
            total.memory_s = self.prefill.memory_s + self.decode.memory_s
        rows = [self.prefill, _scaled(self.prefill, "prefill per token", self.prefill.tokens, ""),
                self.decode, _scaled(self.decode, "decode per token (mean step)", self.new_tokens,
                                     f"{self.prompt_len + (self.new_tokens + 1) / 2:g}"),
                self.step(1)]
        if self.new_tokens > 1:
            rows.append(self.step(self.new_tokens))
        rows.append(total)
        return rows

    def summary(self) -> dict:
        return {
            "model": self.model, "batch": self.batch, "prompt_len": self.prompt_len,
            "new_tokens": self.new_tokens, "causal": self.causal, "dtype": self.dtype,
            "weight_dtype": self.weight_dtype, "kv_dtype": self.kv_dtype, "params": self.params,
            "active_params": self.active_params, "kv_cache_bytes": _num(self.kv_cache_bytes),
            "macs": self.macs, "flops": self.flops,
            "decode_step_macs": f"{self.decode_affine['macs'][0]} + {self.decode_affine['macs'][1]} x context",
            "decode_step_flops": f"{self.decode_affine['flops'][0]} + {self.decode_affine['flops'][1]} x context",
            "est_ttft_s": self.ttft_s, "est_tpot_s": self.tpot_s, "est_tokens_per_s": self.tokens_per_s,
            "peak_flops_per_s": (self.peaks or {}).get("flops_per_s"),
            "peak_bytes_per_s": (self.peaks or {}).get("bytes_per_s"),
            "peak_source": (self.peaks or {}).get("source"), "exact": self.exact,
        }

    def to_dict(self) -> dict:
        return {"summary": self.summary(), "phases": [p.to_dict() for p in self.phases()],
                "decode_affine": {k: list(v) for k, v in self.decode_affine.items()},
                "moe": self.moe, "notes": list(self.notes)}

    # renderings: one Content, the report renderers -----------------------------
    def footer_lines(self) -> list[str]:
        s = self.summary()
        lines = [f"{self.model}: batch {self.batch}, prompt {self.prompt_len} tokens, {self.new_tokens} decode "
                 f"steps, causal={self.causal}, dtype {self.dtype} (weights {self.weight_dtype}, KV cache "
                 f"{self.kv_dtype})",
                 f"Params: {human(self.params)} ({self.params:,})   active per token: "
                 f"{human(self.active_params)} ({self.active_params:,})",
                 f"KV cache at the end: {human_bytes(self.kv_cache_bytes, 2)} ({_num(self.kv_cache_bytes):,} bytes)",
                 f"Total MACs: {human(self.macs)} ({self.macs:,})   FLOPs: {human(self.flops)} ({self.flops:,})",
                 f"Decode step at context c (exact): MACs = {s['decode_step_macs']}, "
                 f"FLOPs = {s['decode_step_flops']}"]
        if self.peaks:
            lines.append(f"Roofline estimate on {self.peaks.get('source', 'given peaks')}: "
                         f"{self.peaks['flops_per_s'] / 1e9:,.1f} GFLOP/s, "
                         f"{self.peaks['bytes_per_s'] / 1e9:,.1f} GB/s: TTFT {milliseconds(self.ttft_s)} ms "
                         f"({self.prefill.bound}-bound), TPOT {milliseconds(self.tpot_s)} ms "
                         f"({self.decode.bound}-bound), {self.tokens_per_s:,.1f} tokens/s")
        return lines

    def content(self) -> Content:
        """The phases table with the summary as its footer; CSV: a line per
        phase, then per summary figure, the MoE structure and each note."""
        records = [{"row": "summary", "name": k, "value": v} for k, v in self.summary().items()]
        if self.moe:
            records.append({"row": "moe", "name": "moe", "value": json.dumps(self.moe)})
        records += [{"row": "note", "name": n} for n in self.notes]
        return Content(columns=list(_COLUMNS), rows=[p.to_dict() for p in self.phases()],
                       footer=self.footer_lines(), notes=list(self.notes), row_kind="phase",
                       csv_fields=[c.key for c in _COLUMNS] + ["name", "value"], records=records,
                       data=self.to_dict())


def _with_time(p: Phase, peaks: dict | None) -> Phase:
    if peaks:
        p.compute_s = p.flops / peaks["flops_per_s"]
        p.memory_s = p.bytes / peaks["bytes_per_s"]
    return p


# ----------------------------------------------------------------------------- peaks

def machine_peaks(peaks=None, dtype: str = "float32", notes: list | None = None) -> dict | None:
    """``{"flops_per_s", "bytes_per_s", "source"}``: given, read from a
    :func:`paddle_flops_ext.bench.peak.measure_peak` dict, or measured on this
    machine (quick, once per process). ``False``: no roofline."""
    notes = notes if notes is not None else []
    if peaks is False:
        return None
    if peaks is None:
        if "cpu" not in _MEASURED:
            try:
                from ..bench.peak import measure_peak
                from ..bench.timing import available_cores, set_threads
            except Exception as exc:  # noqa: BLE001 - the bench package is optional here
                notes.append(f"no roofline estimate: peaks not given and paddle_flops_ext.bench.peak is not "
                             f"importable ({exc}); pass peaks={{'flops_per_s': ..., 'bytes_per_s': ...}}")
                return None
            import paddle
            device = "gpu" if paddle.device.get_device().startswith("gpu") else "cpu"
            threads = available_cores()
            _MEASURED["cpu"] = measure_peak(device, quick=True, repeats=5, threads=threads)
            set_threads(threads)
        peaks = _MEASURED["cpu"]
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


# ----------------------------------------------------------------------------- weight bytes

def _weight_groups(net, dtype: str, weight_dtype: str | None, tied: bool):
    """Bytes of the parameters per kind: ``dense`` (read whole every
    forward), ``embedding`` (bytes per looked-up row, per table), ``experts``
    (bytes of one routed expert per MoE layer)."""
    import paddle
    from ..estimates.moe import moe_structure
    moe = moe_structure(net)
    expert_ids, expert_bytes = set(), []
    if moe:
        groups = {name: layer for name, layer in net.named_sublayers() if name in moe["moe_layers"]}
        for name in moe["moe_layers"]:
            per = []
            for expert in groups[name]:
                b = 0.0
                for p in expert.parameters():
                    expert_ids.add(id(p))
                    b += _param_bytes(p, dtype, weight_dtype)
                per.append(b)
            expert_bytes.append(sum(per) / len(per))
    emb_ids, emb_rows = set(), []
    for layer in net.sublayers(include_self=True):
        if isinstance(layer, paddle.nn.Embedding):
            w = layer.weight
            if id(w) in emb_ids:
                continue
            emb_ids.add(id(w))
            emb_rows.append(_param_bytes(w, dtype, weight_dtype) / int(w.shape[0]))
    if tied:
        emb_ids = set()
        emb_rows = []
    dense, seen = 0.0, set()
    for p in net.parameters():
        if id(p) in seen or id(p) in expert_ids or id(p) in emb_ids:
            continue
        seen.add(id(p))
        dense += _param_bytes(p, dtype, weight_dtype)
    return dense, emb_rows, expert_bytes, moe


def _param_bytes(p, dtype: str, weight_dtype: str | None) -> float:
    from ..collect.inputs import dtype_name
    n = math.prod(int(d) for d in p.shape)
    stored = dtype_name(p.dtype)
    if stored in ("int8", "uint8"):
        return n * 1.0        # quantised storage: int4 is packed two per byte (half the elements)
    if len(p.shape) >= 2:
        return n * width(weight_dtype or dtype)
    return n * width(dtype)


# ----------------------------------------------------------------------------- the counter

def profile_generation(net, prompt_len: int, new_tokens: int, batch: int = 1, *, causal: str = "full",
                       dtype=None, weight_dtype=None, kv_dtype=None, peaks=None, verify_affine: bool = False,
                       custom_ops=None, count_functional: bool = True) -> GenerationResult:
    """Prefill of ``prompt_len`` tokens and ``new_tokens`` decode steps of a
    ``batch`` of sequences (see the module doc for every convention).

    ``dtype``: the compute / activation / KV-cache dtype for bytes (default:
    the model's parameter dtype); ``weight_dtype``: the width of weight
    matrices (``"int8"``, ``"int4"``, ``"bfloat16"`` ...; default ``dtype``,
    and parameters the model stores as int8 always count 1 byte);
    ``kv_dtype``: of the cache (default ``dtype``). ``peaks``: ``None``
    measures this machine, ``{"flops_per_s", "bytes_per_s"}`` gives them,
    ``False`` skips the roofline. ``causal``: as in :func:`profile`.
    """
    from ..api import profile
    from ..collect.inputs import dtype_name, model_float_dtype
    for name, v in (("prompt_len", prompt_len), ("new_tokens", new_tokens), ("batch", batch)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if causal not in ("full", "half"):
        raise ValueError(f"causal must be 'full' or 'half', got {causal!r}")
    dtype = dtype_name(dtype) if dtype is not None else model_float_dtype(net)
    weight_dtype = dtype_name(weight_dtype) if weight_dtype is not None else None
    kv_dtype = dtype_name(kv_dtype) if kv_dtype is not None else dtype
    for d in (dtype, weight_dtype, kv_dtype):
        if d is not None:
            width(d)
    geo = geometry(net)
    key = _input_name(net)
    fdt = _float_dtype(net)
    notes: list[str] = []
    kw = dict(mode="trace", causal=causal, custom_ops=custom_ops, count_functional=count_functional)
    extra = {} if key == "tokens" else {"return_dict": False} if "return_dict" in \
        inspect.signature(net.forward).parameters else {}

    def step_inputs(context: int) -> dict:
        past = tuple((_zeros([batch, context - 1, geo.kv_heads, geo.head_dim], fdt),
                      _zeros([batch, context - 1, geo.kv_heads, geo.head_dim], fdt)) for _ in range(geo.layers))
        return {key: _zeros([batch, 1], np.int64), "past_key_values": past, "use_cache": True, **extra}

    results = []
    pre = profile(net, inputs={key: _zeros([batch, prompt_len], np.int64), "use_cache": True, **extra}, **kw)
    results.append(pre)
    c1, c2 = prompt_len + 1, prompt_len + new_tokens
    r1 = profile(net, inputs=step_inputs(c1), **kw)
    results.append(r1)
    if c2 != c1:
        r2 = profile(net, inputs=step_inputs(c2), **kw)
        results.append(r2)
        affine = {}
        for what in ("macs", "flops"):
            v1, v2 = getattr(r1, what), getattr(r2, what)
            slope, rem = divmod(v2 - v1, c2 - c1)
            if rem:
                raise RuntimeError(f"decode step {what} are not affine in the context length: {v1} at {c1}, "
                                   f"{v2} at {c2} keys")
            affine[what] = (v1 - slope * c1, slope)
    else:
        affine = {"macs": (r1.macs, 0), "flops": (r1.flops, 0)}
        notes.append("one decode step: its cost is exact; the per-context slope was not measured (0 shown)")
    if verify_affine and new_tokens >= 3:
        c3 = prompt_len + (new_tokens + 1) // 2
        r3 = profile(net, inputs=step_inputs(c3), **kw)
        results.append(r3)
        for what in ("macs", "flops"):
            a, b = affine[what]
            if getattr(r3, what) != a + b * c3:
                raise RuntimeError(f"decode step {what} at {c3} keys is {getattr(r3, what)}, off the line "
                                   f"{a} + {b} x context through {c1} and {c2}")
    exact = all(r.exact for r in results)
    for n in dict.fromkeys(n for r in results for n in getattr(r, "inexact", [])):
        notes.append(n if n.startswith("INEXACT") else f"INEXACT: {n}")
    uncounted = sorted({u["name"] for r in results for u in r.uncounted})
    if uncounted:
        notes.append("ran with no formula (counted 0): " + ", ".join(uncounted))

    # bytes
    cfg = getattr(net, "config", None)
    tied = bool(getattr(getattr(net, "cfg", None), "tie_embeddings", False)
                or getattr(cfg, "tie_word_embeddings", False))
    dense, emb_rows, expert_bytes, moe = _weight_groups(net, dtype, weight_dtype, tied)

    def weight_bytes(tokens: int) -> float:
        b = dense + sum(emb_rows) * tokens
        if moe:
            touched = _touched(moe, tokens)
            b += sum(expert_bytes) * touched
        return b

    kv_tok = geo.kv_bytes_per_token(width(kv_dtype))
    n_pre, n_dec = batch * prompt_len, batch
    prefill = Phase("prefill", n_pre, pre.macs, pre.flops, weight_bytes(n_pre), kv_tok * prompt_len * batch,
                    "causal" if prompt_len > 1 else "1")
    (am, bm), (af, bf) = affine["macs"], affine["flops"]
    ctx_sum = new_tokens * prompt_len + new_tokens * (new_tokens + 1) // 2
    decode = Phase("decode (all steps)", n_dec * new_tokens, am * new_tokens + bm * ctx_sum,
                   af * new_tokens + bf * ctx_sum, weight_bytes(n_dec) * new_tokens, kv_tok * ctx_sum * batch,
                   f"{c1}..{c2}")
    peak = machine_peaks(peaks, dtype, notes)
    _with_time(prefill, peak)
    _with_time(decode, peak)

    params = pre.params
    active = params
    moe_info = None
    if moe:
        active = moe["active_params"]
        moe_info = {k: moe[k] for k in ("experts", "top_k", "params", "active_params", "shared_params")}
        moe_info["moe_layers"] = len(moe["moe_layers"])
        notes.append(f"MoE: {moe['experts']} routed experts per layer, top-{moe['top_k']}; expert MACs are "
                     f"the N x k token-slots routed (exact in total for any routing without dropped tokens; "
                     f"traced: split evenly over the experts, the expected routing); expert weight bytes are an "
                     f"estimate: E(1 - (1 - k/E)^N) distinct experts read for N tokens under uniform routing")
    if weight_dtype:
        notes.append(f"weight matrices counted at {weight_dtype} ({width(weight_dtype)} bytes per weight; "
                     f"scales and zero points not counted)")
    notes.append("bytes = weights read + KV cache read/written (prefill writes P entries; decode step i reads "
                 "P+i-1, writes 1); activations are not counted, so bytes are a lower bound")
    if peak:
        notes.append("times are roofline estimates: max(FLOPs / peak FLOP/s, bytes / peak bandwidth) per phase; "
                     "kernel launch and framework overhead are not modelled")
    decode_attention = "is_causal off" if key == "tokens" else "the model's own mask"
    notes.append(f"decode steps attend every cached key ({decode_attention}); causal={causal!r} applies to "
                 f"the prefill's causal attention")
    if not exact:
        notes.insert(0, "INEXACT: a trace had sizes computed at run time; see the INEXACT notes")
    return GenerationResult(
        model=type(net).__name__, batch=batch, prompt_len=prompt_len, new_tokens=new_tokens, causal=causal,
        dtype=dtype, weight_dtype=weight_dtype or dtype, kv_dtype=kv_dtype, params=params, active_params=active,
        kv_cache_bytes=kv_tok * (prompt_len + new_tokens) * batch, prefill=prefill, decode=decode,
        decode_affine=affine, step_weight_bytes=weight_bytes(n_dec), kv_bytes_per_token=kv_tok,
        peaks=peak, exact=exact, notes=notes, moe=moe_info)


def _touched(moe: dict, tokens: int) -> float:
    from ..estimates.moe import expected_experts_touched
    return expected_experts_touched(moe["experts"], moe["top_k"], tokens)
