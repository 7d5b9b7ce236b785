"""Cost of autoregressive generation with a KV cache: prefill + decode.

``profile_generation(net, prompt_len P, new_tokens T, batch B)`` counts

* **prefill**: one forward over the ``B x P`` prompt tokens with
  ``use_cache=True`` (it writes the cache and yields the first new token);
* **decode**: ``T`` steps; step ``i = 1..T`` feeds one token per sequence at
  position ``P + i - 1`` and attends ``P + i`` keys (the ``P + i - 1``
  cached ones and its own); after step ``T`` the cache holds ``P + T``
  tokens per sequence.

Exactness: prefill is one shape-only trace (``pfe.profile(mode="trace")``;
``mode="eager"`` runs the model on zero inputs instead, with the same
counts). A decode step's cost is affine in its context length ``c``
(projections, MLP, norms, rotary and the head do the same work for every
step; the score and value products, the softmax and the mask grow by one key
at a time), so the decode step is counted at two context lengths,
``c1 = P + 1`` and ``c2 = P + T``, and ``cost(c) = a + b c`` gives every
step and the exact sum ``T a + b (T P + T (T + 1) / 2)``: two traces for any
``T``. A sliding-window layer attends ``min(w, c)`` keys, so the cost is
affine between the window lengths that fall inside ``c1..c2``: one more
trace per such window, and a line per segment (``decode_segments``).
``verify_affine=True`` traces a third length per segment and raises if it
is off the line. A model trace mode cannot go through is run (eager, on zero
inputs), said in the notes.

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
* KV cache (:class:`~paddle_flops_ext.estimates.generation.Geometry`: the
  cache the implementation really keeps): prefill writes ``P`` entries per
  layer; decode step ``i`` reads the ``P + i - 1`` cached entries and writes
  one: ``P + i`` entries of ``n_kv (d_k + d_v)`` elements per layer at
  ``kv_dtype`` (default ``dtype``), per sequence. A sliding-window layer
  keeps at most ``w - 1`` entries and a step touches at most ``w``.
  Multi-head latent attention (DeepSeek-V2/V3) caches every head's key
  (``qk_nope + qk_rope``) and value (``v_head_dim``), as PaddleFormers does;
  ``kv_cache_latent_bytes`` is what a cache of the latent
  (``kv_lora_rank + qk_rope``) would hold.

``kv_cache_bytes``: the cache after ``P + T`` tokens, ``B`` sequences.

Roofline (an *estimate*): a phase takes ``max(FLOPs / peak FLOP/s, bytes /
peak bandwidth)`` and is compute-bound when the first term is larger.
Time to first token (TTFT) = the prefill's estimate; time per output token
(TPOT) = the decode total / ``T``; tokens per second = ``B / TPOT``. Peaks
are measured on this machine by :mod:`paddle_flops_ext.bench.peak` (once per
process) unless given (``peaks={"flops_per_s": ..., "bytes_per_s": ...}``).

Models: the zoo LLaMA / MoE (``forward(tokens, past_key_values,
use_cache)``), PaddleNLP 2.x decoders (``forward(input_ids, ...,
use_cache=True, past_key_values=...)`` with per-layer ``(key, value)``
tuples of ``[batch, seq, kv_heads, head_dim]`` and the geometry in
``net.config``), and PaddleFormers decoders, which keep their cache in a
``DynamicCache`` object: the decode steps get one built from the model's
config (sliding-window layers included), its layers holding ``[batch,
kv_heads, kept, head_dim]``, with explicit ``position_ids`` and
``return_dict=True`` (PaddleFormers' generation path).
"""
from __future__ import annotations

import importlib
import inspect
import json
from dataclasses import dataclass, field

import numpy as np
import paddle

from ..api import _has_lazy_parameters, profile
from ..collect.inputs import dtype_name, model_float_dtype
from ..errors import TraceError
from ..estimates.generation import (Geometry, Phase, affine_sum, decode_affine, decode_breaks, experts_touched,
                                    geometry, num, peaks_for, scaled, weight_groups, width, with_time)
from ..report.content import Column, Content
from ..report.render import Renders, duration, human, human_bytes, human_params

_MEASURED: dict = {}

# ----------------------------------------------------------------------------- the model's protocol

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


def _cache_classes(net):
    """PaddleFormers' cache module when ``net`` is a PaddleFormers model (it
    keeps its KV cache in a ``DynamicCache`` object), else ``None`` (the zoo
    and PaddleNLP 2.x take per-layer ``(key, value)`` tuples)."""
    if not type(net).__module__.startswith("paddleformers."):
        return None
    return importlib.import_module("paddleformers.transformers.cache_utils")


def _zeros(shape, dtype):
    """A read-only array of ``shape`` that takes no memory (zero strides):
    trace mode reads only its shape and dtype."""
    return np.broadcast_to(np.zeros((), dtype=dtype), tuple(shape))


def _float_dtype(net) -> str:
    name = model_float_dtype(net)
    return "float32" if name == "bfloat16" else name   # numpy has no bfloat16: shapes are what count


# ----------------------------------------------------------------------------- result

_COLUMNS = (Column("phase", "Phase", code=True), Column("tokens", "Tokens", "count"),
            Column("context", "Keys attended"), Column("macs", "MACs", "count"), Column("flops", "FLOPs", "count"),
            Column("weight_bytes", "Weight bytes", "bytes", digits=2),
            Column("kv_bytes", "KV bytes", "bytes", digits=2), Column("bytes", "Bytes", "bytes", digits=2),
            Column("flops_per_byte", "FLOP/byte", "number", digits=2),
            Column("est_time_s", "Est. time", "duration"), Column("bound", "Bound (est.)"))


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
    geometry: Geometry | None = None           # the cache the model keeps (windows, MLA latent size)
    kv_cache_latent_bytes: float | None = None  # MLA: a cache of the latent instead, at the end
    # [{"first", "last", "macs": [a, b], "flops": [a, b]}]: steps of contexts first..last cost a + b x context
    # (one segment, unless a sliding window ends inside the decode)
    decode_segments: list = field(default_factory=list)
    mode: str = "trace"                        # how the steps were counted ("eager" after a failed trace)

    # per step -----------------------------------------------------------------
    def step(self, i: int) -> Phase:
        """Decode step ``i`` (1-based): context ``P + i``, exact counts."""
        if not 1 <= i <= self.new_tokens:
            raise ValueError(f"decode steps are 1..{self.new_tokens}, got {i}")
        c = self.prompt_len + i
        affine = self.decode_affine
        for seg in self.decode_segments:
            if seg["first"] <= c <= seg["last"]:
                affine = seg
                break
        (am, bm), (af, bf) = affine["macs"], affine["flops"]
        kv = (self.geometry.step_elements(c) * width(self.kv_dtype) if self.geometry is not None
              else self.kv_bytes_per_token * c)
        p = Phase(f"decode step {i}", self.batch, am + bm * c, af + bf * c, self.step_weight_bytes,
                  kv * self.batch, f"{c}")
        return with_time(p, self.peaks)

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
        rows = [self.prefill, scaled(self.prefill, "prefill per token", self.prefill.tokens, ""),
                self.decode, scaled(self.decode, "decode per token (mean step)", self.new_tokens,
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
            "active_params": self.active_params, "kv_cache_bytes": num(self.kv_cache_bytes),
            "kv_cache_latent_bytes": None if self.kv_cache_latent_bytes is None else num(self.kv_cache_latent_bytes),
            "macs": self.macs, "flops": self.flops,
            "decode_step_macs": self._step_formula("macs"), "decode_step_flops": self._step_formula("flops"),
            "est_ttft_s": self.ttft_s, "est_tpot_s": self.tpot_s, "est_tokens_per_s": self.tokens_per_s,
            "peak_flops_per_s": (self.peaks or {}).get("flops_per_s"),
            "peak_bytes_per_s": (self.peaks or {}).get("bytes_per_s"),
            "peak_source": (self.peaks or {}).get("source"), "exact": self.exact,
        }

    def _step_formula(self, what: str) -> str:
        segments = self.decode_segments or [{"first": None, "last": None, what: self.decode_affine[what]}]
        parts = [f"{seg[what][0]} + {seg[what][1]} x context" for seg in segments]
        if len(parts) == 1:
            return parts[0]
        return "; ".join(f"{p} (context {seg['first']}..{seg['last']})" for p, seg in zip(parts, segments))

    def _step_lines(self) -> list[str]:
        if len(self.decode_segments) <= 1:
            return [f"Decode step at context c (exact): MACs = {self._step_formula('macs')}, "
                    f"FLOPs = {self._step_formula('flops')}"]
        lines = ["Decode step at context c (exact; a sliding window ends inside the decode):"]
        for seg in self.decode_segments:
            (am, bm), (af, bf) = seg["macs"], seg["flops"]
            lines.append(f"  c = {seg['first']}..{seg['last']}: MACs = {am} + {bm} c, FLOPs = {af} + {bf} c")
        return lines

    def to_dict(self) -> dict:
        return {"summary": self.summary(), "phases": [p.to_dict() for p in self.phases()],
                "decode_affine": {k: list(v) for k, v in self.decode_affine.items()},
                "decode_segments": list(self.decode_segments), "moe": self.moe, "notes": list(self.notes)}

    # renderings: one Content, the report renderers -----------------------------
    def footer_lines(self) -> list[str]:
        lines = [f"{self.model}: batch {self.batch}, prompt {self.prompt_len} tokens, {self.new_tokens} decode "
                 f"steps, causal={self.causal}, dtype {self.dtype} (weights {self.weight_dtype}, KV cache "
                 f"{self.kv_dtype})",
                 f"Params: {human_params(self.params, True)} ({self.params:,})   active per token: "
                 f"{human_params(self.active_params, True)} ({self.active_params:,})",
                 f"KV cache at the end: {human_bytes(self.kv_cache_bytes, 2)} ({num(self.kv_cache_bytes):,} bytes)"]
        if self.kv_cache_latent_bytes is not None:
            lines.append(f"MLA latent cache instead: {human_bytes(self.kv_cache_latent_bytes, 2)} "
                         f"({num(self.kv_cache_latent_bytes):,} bytes; kv_lora_rank + rope per layer)")
        lines += [f"Total MACs: {human(self.macs)} ({self.macs:,})   FLOPs: {human(self.flops)} ({self.flops:,})",
                  *self._step_lines()]
        if self.peaks:
            lines.append(f"Roofline estimate on {self.peaks.get('source', 'given peaks')}: "
                         f"{self.peaks['flops_per_s'] / 1e9:,.1f} GFLOP/s, "
                         f"{self.peaks['bytes_per_s'] / 1e9:,.1f} GB/s: TTFT {duration(self.ttft_s)} "
                         f"({self.prefill.bound}-bound), TPOT {duration(self.tpot_s)} "
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
                       data=self.to_dict(), language_model=True)


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
                # local: measuring needs the bench package only when no peaks are given
                from ..bench.peak import measure_peak
                from ..bench.timing import available_cores, set_threads  # local: as above
            except Exception as exc:  # noqa: BLE001 - the bench package is optional here
                notes.append(f"no roofline estimate: peaks not given and paddle_flops_ext.bench.peak is not "
                             f"importable ({exc}); pass peaks={{'flops_per_s': ..., 'bytes_per_s': ...}}")
                return None
            device = "gpu" if paddle.device.get_device().startswith("gpu") else "cpu"
            threads = available_cores()
            _MEASURED["cpu"] = measure_peak(device, quick=True, repeats=5, threads=threads)
            set_threads(threads)
        peaks = _MEASURED["cpu"]
    return peaks_for(peaks, dtype, notes)


# ----------------------------------------------------------------------------- the counter

def profile_generation(net, prompt_len: int, new_tokens: int, batch: int = 1, *, causal: str = "full",
                       dtype=None, weight_dtype=None, kv_dtype=None, peaks=None, verify_affine: bool = False,
                       custom_ops=None, count_functional: bool = True, mode: str = "trace") -> GenerationResult:
    """Prefill of ``prompt_len`` tokens and ``new_tokens`` decode steps of a
    ``batch`` of sequences (see the module doc for every convention).

    ``dtype``: the compute / activation / KV-cache dtype for bytes (default:
    the model's parameter dtype); ``weight_dtype``: the width of weight
    matrices (``"int8"``, ``"int4"``, ``"bfloat16"`` ...; default ``dtype``,
    and parameters the model stores as int8 always count 1 byte);
    ``kv_dtype``: of the cache (default ``dtype``). ``peaks``: ``None``
    measures this machine, ``{"flops_per_s", "bytes_per_s"}`` gives them,
    ``False`` skips the roofline. ``causal``: as in :func:`profile`.
    ``mode``: ``"trace"`` (shapes only; a model that cannot be traced is
    run instead, said in the notes) or ``"eager"`` (runs the model on zero
    inputs: the prompt and the cache must fit in memory).
    """
    for name, v in (("prompt_len", prompt_len), ("new_tokens", new_tokens), ("batch", batch)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if causal not in ("full", "half"):
        raise ValueError(f"causal must be 'full' or 'half', got {causal!r}")
    if mode not in ("trace", "eager"):
        raise ValueError(f"mode must be 'trace' or 'eager', got {mode!r}")
    dtype = dtype_name(dtype) if dtype is not None else model_float_dtype(net)
    weight_dtype = dtype_name(weight_dtype) if weight_dtype is not None else None
    kv_dtype = dtype_name(kv_dtype) if kv_dtype is not None else dtype
    for d in (dtype, weight_dtype, kv_dtype):
        if d is not None:
            width(d)
    geo = geometry(net, windows=_cache_classes(net) is not None)
    notes: list[str] = []
    tracer = _StepTracer(net, geo, batch, mode, dict(causal=causal, custom_ops=custom_ops,
                                                     count_functional=count_functional))
    pre = tracer.prefill(prompt_len)
    c1, c2 = prompt_len + 1, prompt_len + new_tokens
    segments = _decode_segments(tracer, decode_breaks(geo, c1, c2))
    if c2 == c1:
        notes.append("one decode step: its cost is exact; the per-context slope was not measured (0 shown)")
    if verify_affine and new_tokens >= 3:
        for seg in segments:
            if seg.last - seg.first >= 2:
                _verify_affine(tracer, seg.affine, (seg.first + seg.last) // 2, seg.first, seg.last)
    exact = _trace_notes(tracer.results, notes)
    for failure in dict.fromkeys(tracer.fallbacks):
        notes.append(f"counted by running the model (eager, on zero inputs) because the trace failed: {failure}")

    # bytes
    cfg = getattr(net, "config", None)
    tied = bool(getattr(getattr(net, "cfg", None), "tie_embeddings", False)
                or getattr(cfg, "tie_word_embeddings", False))
    dense, emb_rows, expert_bytes, moe = weight_groups(net, dtype, weight_dtype, tied)

    def weight_bytes(tokens: int) -> float:
        b = dense + sum(emb_rows) * tokens
        if moe:
            b += sum(expert_bytes) * experts_touched(moe, tokens)
        return b

    kv_width = width(kv_dtype)
    n_pre, n_dec = batch * prompt_len, batch
    prefill = Phase("prefill", n_pre, pre.macs, pre.flops, weight_bytes(n_pre),
                    geo.kv_elements(prompt_len) * kv_width * batch, "causal" if prompt_len > 1 else "1")
    decode_macs = sum(affine_sum(*seg.affine["macs"], seg.first, seg.last) for seg in _disjoint(segments))
    decode_flops = sum(affine_sum(*seg.affine["flops"], seg.first, seg.last) for seg in _disjoint(segments))
    decode = Phase("decode (all steps)", n_dec * new_tokens, decode_macs, decode_flops,
                   weight_bytes(n_dec) * new_tokens, geo.steps_elements(c1, c2) * kv_width * batch,
                   f"{c1}..{c2}")
    peak = machine_peaks(peaks, dtype, notes)
    with_time(prefill, peak)
    with_time(decode, peak)
    moe_info = _moe_summary(moe, notes)
    _convention_notes(notes, weight_dtype, peak, tracer.key, causal, exact)
    _cache_notes(notes, geo, tracer.cache_module is not None)
    latent = geo.latent_elements(prompt_len + new_tokens)
    return GenerationResult(
        model=type(net).__name__, batch=batch, prompt_len=prompt_len, new_tokens=new_tokens, causal=causal,
        dtype=dtype, weight_dtype=weight_dtype or dtype, kv_dtype=kv_dtype, params=pre.params,
        active_params=moe["active_params"] if moe else pre.params,
        kv_cache_bytes=geo.kv_elements(prompt_len + new_tokens) * kv_width * batch, prefill=prefill,
        decode=decode, decode_affine=segments[0].affine, step_weight_bytes=weight_bytes(n_dec),
        kv_bytes_per_token=geo.kv_bytes_per_token(kv_width), peaks=peak, exact=exact, notes=notes,
        moe=moe_info, geometry=geo,
        kv_cache_latent_bytes=None if latent is None else latent * kv_width * batch,
        decode_segments=[seg.to_dict() for seg in segments], mode=tracer.mode)


@dataclass
class _Segment:
    """Decode steps of contexts ``first..last`` cost ``a + b x context``."""
    first: int
    last: int
    affine: dict

    def to_dict(self) -> dict:
        return {"first": self.first, "last": self.last, **{k: list(v) for k, v in self.affine.items()}}


def _decode_segments(tracer, breaks: list[int]) -> list[_Segment]:
    """One decode step counted at every break; an affine fit between each
    pair of neighbours."""
    counted = {c: tracer.decode(c) for c in breaks}
    if len(breaks) == 1:
        c, r = breaks[0], counted[breaks[0]]
        return [_Segment(c, c, decode_affine((c, r.macs, r.flops), (c, r.macs, r.flops)))]
    out = []
    for lo, hi in zip(breaks, breaks[1:]):
        a, b = counted[lo], counted[hi]
        out.append(_Segment(lo, hi, decode_affine((lo, a.macs, a.flops), (hi, b.macs, b.flops))))
    return out


def _disjoint(segments: list[_Segment]) -> list[_Segment]:
    """The segments with shared end contexts counted once (each segment
    after the first starts one past its predecessor's end)."""
    return [seg if i == 0 else _Segment(seg.first + 1, seg.last, seg.affine) for i, seg in enumerate(segments)]


def _cache_notes(notes: list, geo: Geometry, own_cache: bool) -> None:
    if own_cache:
        notes.append("past keys and values go in through the model's own cache object (PaddleFormers "
                     "DynamicCache built from its config)")
    if geo.windowed:
        sizes = sorted({w for w in geo.windows if w is not None})
        count = sum(w is not None for w in geo.windows)
        notes.append(f"sliding-window attention in {count} of {geo.layers} layers (window "
                     f"{', '.join(map(str, sizes))}): such a layer keeps the last window - 1 entries and a "
                     f"decode step attends min(window, context) keys, which is what the model computes; the "
                     f"prefill computes the whole prompt x prompt score matrix and masks it (counted in full)")
    if geo.latent_dim is not None:
        notes.append(f"multi-head latent attention: the cache PaddleFormers keeps holds every head's key "
                     f"({geo.head_dim}) and value ({geo.value_dim}), {geo.entry_elements} elements per layer and "
                     f"token; a cache of the latent (kv_lora_rank + qk_rope_head_dim) would hold "
                     f"{geo.latent_dim} (kv_cache_latent_bytes)")


class _StepTracer:
    """Counts of the prefill and of one decode step at a given context
    length, on zero inputs (zero-stride arrays: a trace reads only their
    shapes); keeps every result.

    The past keys and values go in as the model keeps them: per-layer
    ``(key, value)`` tuples of ``[batch, seq, kv_heads, head_dim]`` for the
    zoo and PaddleNLP, or a PaddleFormers ``DynamicCache`` built from the
    model's config (its sliding-window layers included) whose layers hold
    ``[batch, kv_heads, kept, head_dim]`` tensors. ``mode="trace"`` first;
    a trace that fails is redone by running the model (``mode="eager"``),
    said in ``fallbacks``."""

    def __init__(self, net, geo: Geometry, batch: int, mode: str, profile_kwargs: dict):
        self.net, self.geo, self.batch, self.mode, self.kwargs = net, geo, batch, mode, profile_kwargs
        self.key = _input_name(net)
        self.cache_module = _cache_classes(net)
        self.float_dtype = _float_dtype(net)
        params = inspect.signature(net.forward).parameters
        # PaddleNLP: tuples out; PaddleFormers: return_dict=True is its generation path (ERNIE-4.5 with
        # return_dict=False takes its training path, which asserts labels are given)
        self.extra = ({} if self.key == "tokens" or "return_dict" not in params
                      else {"return_dict": self.cache_module is not None})
        self.positions = self.cache_module is not None and "position_ids" in params
        self.results: list = []
        self.fallbacks: list[str] = []

    def _run(self, make_inputs):
        inputs = {**make_inputs(), "use_cache": True, **self.extra}
        if self.mode == "trace":
            try:
                result = profile(self.net, inputs=inputs, mode="trace", **self.kwargs)
            except TraceError as exc:
                if _has_lazy_parameters(self.net):     # no weights: nothing to run instead
                    raise
                self.mode = "eager"
                self.fallbacks.append(f"{exc}".split(". Trace mode builds")[0])
                inputs = {**make_inputs(), "use_cache": True, **self.extra}
                result = profile(self.net, inputs=inputs, mode="eager", **self.kwargs)
        else:
            result = profile(self.net, inputs=inputs, mode=self.mode, **self.kwargs)
        self.results.append(result)
        return result

    def _tokens(self, first: int, count: int) -> dict:
        inputs = {self.key: _zeros([self.batch, count], np.int64)}
        if self.positions:   # explicit positions: some models derive them wrongly from the cache length
            inputs["position_ids"] = np.broadcast_to(np.arange(first, first + count, dtype=np.int64),
                                                     (self.batch, count))
        return inputs

    def prefill(self, prompt_len: int):
        return self._run(lambda: self._tokens(0, prompt_len))

    def decode(self, context: int):
        return self._run(lambda: {**self._tokens(context - 1, 1), "past_key_values": self.past(context - 1)})

    def past(self, cached: int):
        """The cache after ``cached`` tokens, in the model's own form."""
        geo, dt = self.geo, self.float_dtype
        value_dim = geo.head_dim if geo.value_dim is None else geo.value_dim
        if self.cache_module is None:
            return tuple((_zeros([self.batch, geo.kept(i, cached), geo.kv_heads, geo.head_dim], dt),
                          _zeros([self.batch, geo.kept(i, cached), geo.kv_heads, value_dim], dt))
                         for i in range(geo.layers))
        cache = self.cache_module.DynamicCache(config=self.net.config)
        if len(cache.layers) != geo.layers:
            raise RuntimeError(f"{type(self.net).__name__}: DynamicCache(config) has {len(cache.layers)} layers, "
                               f"the geometry {geo.layers}")
        for i, layer in enumerate(cache.layers):
            kept = geo.kept(i, cached)
            layer.keys = _zeros([self.batch, geo.kv_heads, kept, geo.head_dim], dt)
            layer.values = _zeros([self.batch, geo.kv_heads, kept, value_dim], dt)
            layer.is_initialized = True
            if getattr(layer, "is_sliding", False):
                layer.cumulative_length = cached
        return cache


def _verify_affine(tracer: _StepTracer, affine: dict, c3: int, c1: int, c2: int) -> None:
    r3 = tracer.decode(c3)
    for what in ("macs", "flops"):
        a, b = affine[what]
        if getattr(r3, what) != a + b * c3:
            raise RuntimeError(f"decode step {what} at {c3} keys is {getattr(r3, what)}, off the line "
                               f"{a} + {b} x context through {c1} and {c2}")


def _trace_notes(results: list, notes: list) -> bool:
    """Carry the traces' INEXACT notes and uncounted operations; True if
    every trace was exact."""
    for n in dict.fromkeys(n for r in results for n in getattr(r, "inexact", [])):
        notes.append(n if n.startswith("INEXACT") else f"INEXACT: {n}")
    uncounted = sorted({u["name"] for r in results for u in r.uncounted})
    if uncounted:
        notes.append("ran with no formula (counted 0): " + ", ".join(uncounted))
    return all(r.exact for r in results)


def _moe_summary(moe: dict | None, notes: list) -> dict | None:
    if not moe:
        return None
    info = {k: moe[k] for k in ("experts", "top_k", "params", "active_params", "shared_params")}
    info["moe_layers"] = len(moe["moe_layers"])
    notes.append(f"MoE: {moe['experts']} routed experts per layer, top-{moe['top_k']}; expert MACs are "
                 f"the N x k token-slots routed (exact in total for any routing without dropped tokens; "
                 f"traced: split evenly over the experts, the expected routing); expert weight bytes are an "
                 f"estimate: E(1 - (1 - k/E)^N) distinct experts read for N tokens under uniform routing")
    return info


def _convention_notes(notes: list, weight_dtype, peak, key: str, causal: str, exact: bool) -> None:
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
