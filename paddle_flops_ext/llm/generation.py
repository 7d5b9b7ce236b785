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
from dataclasses import dataclass, field

import numpy as np
import paddle

from ..api import profile
from ..collect.inputs import dtype_name, model_float_dtype
from ..estimates.generation import (Geometry, Phase, decode_affine, experts_touched, geometry, num, peaks_for,
                                    scaled, weight_groups, width, with_time)
from ..report.content import Column, Content
from ..report.render import Renders, duration, human, human_bytes

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

    # per step -----------------------------------------------------------------
    def step(self, i: int) -> Phase:
        """Decode step ``i`` (1-based): context ``P + i``, exact counts."""
        if not 1 <= i <= self.new_tokens:
            raise ValueError(f"decode steps are 1..{self.new_tokens}, got {i}")
        c = self.prompt_len + i
        (am, bm), (af, bf) = self.decode_affine["macs"], self.decode_affine["flops"]
        p = Phase(f"decode step {i}", self.batch, am + bm * c, af + bf * c, self.step_weight_bytes,
                  self.kv_bytes_per_token * c * self.batch, f"{c}")
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
                 f"KV cache at the end: {human_bytes(self.kv_cache_bytes, 2)} ({num(self.kv_cache_bytes):,} bytes)",
                 f"Total MACs: {human(self.macs)} ({self.macs:,})   FLOPs: {human(self.flops)} ({self.flops:,})",
                 f"Decode step at context c (exact): MACs = {s['decode_step_macs']}, "
                 f"FLOPs = {s['decode_step_flops']}"]
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
                       data=self.to_dict())


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
    notes: list[str] = []
    tracer = _StepTracer(net, geo, batch, dict(mode="trace", causal=causal, custom_ops=custom_ops,
                                                count_functional=count_functional))
    pre = tracer.prefill(prompt_len)
    c1, c2 = prompt_len + 1, prompt_len + new_tokens
    r1 = tracer.decode(c1)
    r2 = tracer.decode(c2) if c2 != c1 else r1
    affine = decode_affine((c1, r1.macs, r1.flops), (c2, r2.macs, r2.flops))
    if c2 == c1:
        notes.append("one decode step: its cost is exact; the per-context slope was not measured (0 shown)")
    if verify_affine and new_tokens >= 3:
        _verify_affine(tracer, affine, prompt_len + (new_tokens + 1) // 2, c1, c2)
    exact = _trace_notes(tracer.results, notes)

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
    with_time(prefill, peak)
    with_time(decode, peak)
    moe_info = _moe_summary(moe, notes)
    _convention_notes(notes, weight_dtype, peak, tracer.key, causal, exact)
    return GenerationResult(
        model=type(net).__name__, batch=batch, prompt_len=prompt_len, new_tokens=new_tokens, causal=causal,
        dtype=dtype, weight_dtype=weight_dtype or dtype, kv_dtype=kv_dtype, params=pre.params,
        active_params=moe["active_params"] if moe else pre.params,
        kv_cache_bytes=kv_tok * (prompt_len + new_tokens) * batch, prefill=prefill, decode=decode,
        decode_affine=affine, step_weight_bytes=weight_bytes(n_dec), kv_bytes_per_token=kv_tok,
        peaks=peak, exact=exact, notes=notes, moe=moe_info)


class _StepTracer:
    """Shape-only traces of the prefill and of one decode step at a given
    context length, on zero-stride inputs; keeps every result."""

    def __init__(self, net, geo: Geometry, batch: int, profile_kwargs: dict):
        self.net, self.geo, self.batch, self.kwargs = net, geo, batch, profile_kwargs
        self.key = _input_name(net)
        self.float_dtype = _float_dtype(net)
        self.extra = {} if self.key == "tokens" else {"return_dict": False} if "return_dict" in \
            inspect.signature(net.forward).parameters else {}
        self.results: list = []

    def _run(self, inputs: dict):
        result = profile(self.net, inputs={**inputs, "use_cache": True, **self.extra}, **self.kwargs)
        self.results.append(result)
        return result

    def prefill(self, prompt_len: int):
        return self._run({self.key: _zeros([self.batch, prompt_len], np.int64)})

    def decode(self, context: int):
        geo, cached = self.geo, [self.batch, context - 1, self.geo.kv_heads, self.geo.head_dim]
        past = tuple((_zeros(cached, self.float_dtype), _zeros(cached, self.float_dtype)) for _ in range(geo.layers))
        return self._run({self.key: _zeros([self.batch, 1], np.int64), "past_key_values": past})


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
