"""Calibrating this machine for latency prediction, and predicting a model's
latency from the calibration without running the model.

**Micro-benchmarks** (:data:`CASES`, :class:`MicroCase`): one small network
per operation kind and shape regime -- convolutions by kernel, groups and
channels (depthwise, grouped, 1x1, 3x3, stems; each a conv + batch norm +
ReLU block, the pattern Paddle Inference's oneDNN passes fuse into one
kernel), Linear by rows, inputs and outputs, attention (scores, softmax,
weighted sum; also split from one packed query-key-value tensor, whose
operands are strided views), layer and batch norm, activations, element-wise additions,
reductions, pooling, data movement (transpose, roll, concat), an almost empty network for the
fixed cost of one forward, and chains of N tiny operations in one layer and
of N tiny layers (``op_chain``, ``layer_chain``): the fixed cost of one
operation and of one layer call, measured directly rather than left to
the fit to guess from cases that all have a handful of each. Each is timed in every requested mode with the
bench's own machinery (:func:`.modes.prepare_mode`, :func:`.timing.time_callable`
with :func:`.timing.make_timer`: CUDA events on a GPU), traced once with
:func:`paddle_flops_ext.profile` (``mode="trace"``), and turned into work
items by :func:`paddle_flops_ext.estimates.latency.work_items` -- the same
function a prediction uses -- so both read the same counts.

**Budget.** Cases run in :data:`CASES` order (the commonest kinds first)
until ``budget_s`` is spent; the ones left are listed in the file. Each
prints a progress line.

**Fit.** Per mode, :func:`.latency.fit` finds non-negative coefficients per
kind in one of :data:`.latency.FORMS` (by default the roofline form: a
shared per-operation and per-layer cost plus, per kind, the slower of
compute and memory); the file keeps them, each micro-benchmark's features and times (a
later fit needs no re-measuring), the fit's residuals, the machine's
description and its peaks (for the roofline beside the prediction).

**Prediction** (:func:`predict_latency`): the model traced at its input
size (no kernel runs), its work items priced by the calibration.

The machine and the timer are parameters (``measure``, ``describe``,
``peak``, ``clock``), so the tests calibrate with fakes.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from ..estimates.latency import DEFAULT_FORM, Fit, LayerFacts, Prediction, Sample, Work, fit, predict, work_items
from ..files import write_text
from .machine import cpu_has_bf16, describe_machine
from .modes import prepare_mode
from .peak import measure_peak
from .timing import make_timer, set_threads, thread_restorer, time_callable

SCHEMA = "paddle_flops_ext.calibration/1"
DEFAULT_BUDGET_S = 300.0
PRECISION_MODES = {"fp32": ("inference", "eager"), "bf16": ("inference_bf16",)}


# a calibration file that cannot be read or is not a calibration (a ValueError: the user's mistake)
CalibrationFileError = ValueError


@dataclass(frozen=True)
class MicroCase:
    """One micro-benchmark: ``op`` names the network (:func:`build_case`),
    ``shape`` its sizes, ``batch`` the leading dimension."""
    op: str
    shape: tuple
    batch: int = 1

    @property
    def name(self) -> str:
        return f"{self.op}[{'x'.join(map(str, self.shape))}]b{self.batch}"


def _conv(cin, cout, hw, k, stride=1, groups=1, batch=1):
    return MicroCase("conv_bn_relu", (cin, cout, hw, k, stride, groups), batch)


def _dw(c, hw, k=3, stride=1, batch=1):
    return _conv(c, c, hw, k, stride, c, batch)


def _cases() -> tuple:
    """Every kind once first (a short budget still covers each), then the
    regimes of each kind: channels, spatial size, stride, kernel, batch."""
    first = [MicroCase("empty", (8,)), MicroCase("op_chain", (16,)), MicroCase("op_chain", (64,)),
             MicroCase("op_chain", (256,)), MicroCase("layer_chain", (16,)), MicroCase("layer_chain", (64,)),
             MicroCase("layer_chain", (256,)), _conv(64, 64, 56, 3), _conv(64, 256, 56, 1), _dw(144, 56),
             MicroCase("linear", (197, 768, 768)), MicroCase("attention", (12, 197, 64)),
             MicroCase("layer_norm", (197, 768)), MicroCase("add", (64, 56)),
             MicroCase("activation", ("gelu", 197 * 3072)), MicroCase("max_pool", (64, 112)),
             MicroCase("global_pool", (512, 7)), MicroCase("batch_norm", (64, 56)),
             MicroCase("transpose", (196, 768)), MicroCase("softmax", (1000, 197)), MicroCase("mean", (197, 768)),
             _conv(128, 128, 56, 3, 1, 32)]
    more = [MicroCase("empty", (8,), 8)]
    more += [_conv(c, c, hw, 3) for c, hw in ((16, 112), (32, 112), (32, 56), (48, 56), (128, 28), (96, 28),
                                              (256, 14), (192, 14), (512, 7), (384, 7))]
    more += [_conv(a, b, hw, 3, 2) for a, b, hw in ((32, 64, 112), (64, 128, 56), (128, 256, 28), (256, 512, 14))]
    more += [_conv(3, c, 224, k, 2) for c, k in ((32, 3), (16, 3), (24, 3), (64, 7))]
    more += [_conv(96, 96, 28, 5), _conv(64, 64, 56, 7)]
    # narrow outputs (few output channels, a growth-rate layer): the GEMM's short side
    more += [_conv(128, 32, hw, 3) for hw in (56, 28, 14, 7)]
    more += [_conv(a, 128, hw, 1) for a, hw in ((256, 56), (512, 28), (1024, 14), (1024, 7))]
    more += [_conv(a, b, hw, 1) for a, b, hw in (
        (16, 96, 112), (96, 24, 56), (24, 144, 56), (144, 24, 56), (144, 32, 28), (32, 192, 28), (192, 64, 14),
        (64, 384, 14), (384, 96, 14), (96, 576, 14), (576, 160, 7), (160, 960, 7), (960, 1280, 7),
        (256, 64, 56), (256, 128, 56), (128, 512, 28), (512, 128, 28), (512, 256, 28), (1024, 256, 14),
        (256, 1024, 14), (1024, 512, 14), (2048, 512, 7), (512, 2048, 7), (58, 58, 28), (116, 116, 14),
        (232, 232, 7), (24, 24, 56), (16, 8, 1), (72, 24, 1), (24, 72, 1), (960, 240, 1), (240, 960, 1),
        (576, 144, 1), (1280, 1000, 1))]
    more += [_conv(512, 1024, 28, 1, 2), _conv(256, 512, 56, 1, 2)]
    more += [_dw(c, hw, 3, st) for c, hw, st in ((32, 112, 1), (96, 112, 2), (144, 56, 2), (192, 28, 1),
                                                 (384, 14, 1), (576, 14, 1), (576, 14, 2), (960, 7, 1), (16, 112, 1),
                                                 (64, 56, 1), (116, 28, 1), (232, 14, 1), (58, 56, 2))]
    more += [_dw(c, hw, 5, st) for c, hw, st in ((72, 56, 2), (120, 28, 1), (240, 14, 1), (480, 14, 1),
                                                 (672, 14, 1), (672, 14, 2), (960, 7, 1), (576, 7, 1))]
    more += [_dw(c, hw, 7) for c, hw in ((96, 56), (192, 28), (384, 14), (768, 7))]
    more += [_conv(c, c, hw, 3, 1, 32) for c, hw in ((256, 28), (512, 14), (1024, 7))]
    more += [_conv(116, 116, 28, 1, 1, 2), _conv(64, 64, 56, 3, 1, 2)]
    more += [MicroCase("linear", s) for s in (
        (1, 512, 1000), (1, 1024, 1000), (1, 1280, 1000), (1, 2048, 1000), (1, 4096, 4096), (1, 1024, 1280),
        (197, 768, 2304), (197, 768, 3072), (197, 3072, 768), (50, 768, 768), (50, 768, 3072),
        (128, 256, 256), (128, 256, 1024), (128, 1024, 256), (128, 512, 512), (128, 512, 2048),
        (128, 2048, 512), (3136, 96, 288), (3136, 96, 384), (3136, 384, 96), (784, 192, 576),
        (784, 192, 768), (196, 384, 1152), (196, 384, 1536), (196, 1536, 384), (49, 768, 2304),
        (49, 768, 3072), (49, 3072, 768), (64, 128, 128))]
    attention_shapes = (((4, 128, 64), 1), ((8, 128, 64), 1), ((3, 49, 32), 64), ((6, 49, 32), 16),
                        ((12, 49, 32), 4), ((24, 49, 32), 1), ((8, 64, 64), 1), ((2, 128, 64), 1), ((12, 50, 64), 1))
    more += [MicroCase("attention", s, b) for s, b in attention_shapes]
    more += [MicroCase("attention_qkv", s, b) for s, b in (((3, 197, 64), 1), ((6, 197, 64), 1)) + attention_shapes]
    more += [MicroCase("layer_norm", s) for s in ((128, 256), (128, 512), (3136, 96), (784, 192), (196, 384),
                                                  (49, 768), (50, 768))]
    more += [MicroCase("batch_norm", s) for s in ((256, 14), (32, 112), (128, 28), (1280, 7))]
    more += [MicroCase("activation", (a, n)) for a, n in (
        ("relu", 64 * 56 * 56), ("relu", 512 * 7 * 7), ("hardswish", 16 * 112 * 112), ("hardswish", 960 * 49),
        ("sigmoid", 4096), ("gelu", 128 * 1024), ("gelu", 3136 * 384), ("relu", 1024), ("hardsigmoid", 960))]
    more += [MicroCase("add", s) for s in ((256, 14), (24, 112), (24, 56), (512, 7), (96, 14), (2048, 7))]
    more += [MicroCase("max_pool", s) for s in ((64, 56), (24, 112), (128, 28))]
    more += [MicroCase("global_pool", s) for s in ((2048, 7), (1280, 7), (960, 7), (576, 7), (1024, 7),
                                                   (72, 56), (240, 14))]
    more += [MicroCase("transpose", s) for s in ((197, 768), (3136, 96), (128, 512), (49, 384))]
    more += [MicroCase("softmax", s) for s in ((128, 128), (1, 1000), (64, 4096))]
    more += [MicroCase(op, s) for op in ("roll", "concat") for s in ((3136, 96), (784, 192), (196, 384))]
    more += [MicroCase("mean", s) for s in ((49, 768), (128, 512), (3136, 96))]
    batch8 = [_conv(64, 64, 56, 3, batch=8), _conv(256, 256, 14, 3, batch=8), _conv(128, 128, 28, 3, batch=8),
              _conv(512, 512, 7, 3, batch=8), _conv(3, 64, 224, 7, 2, batch=8), _conv(3, 32, 224, 3, 2, batch=8),
              _conv(64, 256, 56, 1, batch=8), _conv(256, 64, 56, 1, batch=8), _conv(1024, 256, 14, 1, batch=8),
              _conv(24, 144, 56, 1, batch=8), _conv(576, 160, 7, 1, batch=8), _conv(960, 240, 1, 1, batch=8),
              _dw(144, 56, batch=8), _dw(384, 14, batch=8), _dw(960, 7, 5, batch=8), _dw(96, 112, 3, 2, batch=8),
              _conv(128, 128, 56, 3, 1, 32, batch=8),
              MicroCase("linear", (197, 768, 768), 8), MicroCase("linear", (197, 768, 3072), 8),
              MicroCase("linear", (1, 2048, 1000), 8), MicroCase("linear", (128, 256, 1024), 8),
              MicroCase("linear", (49, 768, 2304), 8), MicroCase("attention", (12, 197, 64), 8),
              MicroCase("attention", (4, 128, 64), 8), MicroCase("layer_norm", (197, 768), 8),
              MicroCase("add", (256, 56), 8), MicroCase("activation", ("hardswish", 8 * 960 * 49)),
              MicroCase("max_pool", (64, 112), 8), MicroCase("global_pool", (1280, 7), 8),
              MicroCase("transpose", (49, 96), 64), MicroCase("softmax", (1000, 197), 8),
              MicroCase("mean", (49, 768), 8), MicroCase("batch_norm", (64, 56), 8)]
    return tuple(first + more + batch8)


CASES = _cases()


def build_case(case: MicroCase):
    """``(network, [input shapes])`` for ``case``."""
    import paddle.nn as nn

    b, s = case.batch, case.shape
    if case.op == "conv_bn_relu":
        cin, cout, hw, k, stride, groups = s
        net = nn.Sequential(nn.Conv2D(cin, cout, k, stride, k // 2, groups=groups, bias_attr=False),
                            nn.BatchNorm2D(cout), nn.ReLU())
        return net, [(b, cin, hw, hw)]
    if case.op == "linear":
        rows, k, n = s
        return nn.Linear(k, n), [(b, k) if rows == 1 else (b, rows, k)]
    if case.op == "layer_norm":
        return nn.LayerNorm(s[1]), [(b, s[0], s[1])]
    if case.op == "batch_norm":
        return nn.BatchNorm2D(s[0]), [(b, s[0], s[1], s[1])]
    if case.op == "max_pool":
        return nn.MaxPool2D(3, 2, 1), [(b, s[0], s[1], s[1])]
    if case.op == "global_pool":
        return nn.AdaptiveAvgPool2D(1), [(b, s[0], s[1], s[1])]
    if case.op == "activation":
        act = {"gelu": nn.GELU, "relu": nn.ReLU, "hardswish": nn.Hardswish, "sigmoid": nn.Sigmoid,
               "hardsigmoid": nn.Hardsigmoid}[s[0]]
        return act(), [(b, s[1])]
    if case.op == "layer_chain":
        return nn.Sequential(*[_functional_nets()["empty"]() for _ in range(s[0])]), [(b, 8)]
    net_cls = _functional_nets()[case.op]
    if case.op == "attention":
        heads, seq, dim = s
        return net_cls(heads, dim), [(b, seq, heads * dim)]
    if case.op == "attention_qkv":
        heads, seq, dim = s
        return net_cls(heads, dim), [(b, seq, 3 * heads * dim)]
    if case.op == "add":
        return net_cls(), [(b, s[0], s[1], s[1]), (b, s[0], s[1], s[1])]
    if case.op in ("transpose", "softmax", "mean", "roll", "concat"):
        return net_cls(), [(b, s[0], s[1])]
    if case.op == "empty":
        return net_cls(), [(b, s[0])]
    if case.op == "op_chain":
        return net_cls(s[0]), [(b, 8)]
    raise ValueError(f"unknown micro-benchmark {case.op!r}")


_NETS: dict = {}


def _functional_nets() -> dict:
    """The micro networks written as a ``forward`` (made once, on first use)."""
    if _NETS:
        return _NETS
    import paddle
    import paddle.nn as nn
    import paddle.nn.functional as F

    class Attention(nn.Layer):
        def __init__(self, heads, dim):
            super().__init__()
            self.heads, self.dim = heads, dim

        def forward(self, x):
            b, n, _ = x.shape
            q = x.reshape([b, n, self.heads, self.dim]).transpose([0, 2, 1, 3])
            attn = F.softmax(paddle.matmul(q, q, transpose_y=True) * (self.dim ** -0.5), axis=-1)
            return paddle.matmul(attn, q).transpose([0, 2, 1, 3]).reshape([b, n, self.heads * self.dim])

    class AttentionQKV(nn.Layer):
        """Attention on a packed query-key-value tensor, split by a permute and indexing, the key
        transposed explicitly: the operands of both products are strided views."""
        def __init__(self, heads, dim):
            super().__init__()
            self.heads, self.dim = heads, dim

        def forward(self, x):
            b, n, _ = x.shape
            qkv = x.reshape([b, n, 3, self.heads, self.dim]).transpose([2, 0, 3, 1, 4])
            q, k, v = qkv[0], qkv[1], qkv[2]
            attn = F.softmax((q @ k.transpose([0, 1, 3, 2])) * (self.dim ** -0.5), axis=-1)
            return (attn @ v).transpose([0, 2, 1, 3]).reshape([b, n, self.heads * self.dim])

    class Add(nn.Layer):
        def forward(self, x, y):
            return x + y

    class Transpose(nn.Layer):
        def forward(self, x):
            return x.transpose([0, 2, 1])

    class Roll(nn.Layer):
        def forward(self, x):
            return paddle.roll(x, shifts=3, axis=1)

    class Concat(nn.Layer):
        def forward(self, x):
            return paddle.concat([x, x], axis=-1)

    class Softmax(nn.Layer):
        def forward(self, x):
            return F.softmax(x, axis=-1)

    class Mean(nn.Layer):
        def forward(self, x):
            return x.mean(axis=-1)

    class Empty(nn.Layer):
        def forward(self, x):
            return x * 2.0

    class OpChain(nn.Layer):
        """``length`` tiny operations in one layer: the fixed cost of an operation."""
        def __init__(self, length):
            super().__init__()
            self.length = length

        def forward(self, x):
            for _ in range(self.length):
                x = x - x       # not x * 1.0: Paddle Inference deletes an identity scale
            return x

    _NETS.update(attention=Attention, attention_qkv=AttentionQKV, add=Add, transpose=Transpose, softmax=Softmax,
                 mean=Mean, empty=Empty, op_chain=OpChain, roll=Roll, concat=Concat)
    return _NETS


def layer_facts(net) -> dict[str, LayerFacts]:
    """Each sub-layer's Paddle base class, and a convolution's kernel, groups
    and input channels, by dotted path ("" for ``net``)."""
    facts = {}
    for path, layer in net.named_sublayers(include_self=True):
        bases = [c.__name__ for c in type(layer).__mro__ if c.__module__.startswith("paddle.nn")]
        base = bases[0] if bases else type(layer).__name__
        kernel = tuple(int(k) for k in (getattr(layer, "_kernel_size", ()) or ()))
        facts[path] = LayerFacts(base, kernel, int(getattr(layer, "_groups", 1) or 1),
                                 int(getattr(layer, "_in_channels", 0) or 0))
    return facts


def case_works(case: MicroCase, mode: str, profile=None) -> tuple[list[Work], object, list]:
    """``(work items in mode, network, input shapes)`` of ``case``, counted by a trace."""
    if profile is None:
        from ..api import profile  # local: the API layer imports Paddle
    net, shapes = build_case(case)
    result = profile(net, input_size=shapes if len(shapes) > 1 else shapes[0], mode="trace")
    return work_items(result, mode, layer_facts(net), dtype_size=2 if mode == "inference_bf16" else 4), net, shapes


# -- measuring ----------------------------------------------------------------

@dataclass
class CaseTimer:
    """Times a built case in one mode with the bench's modes and timer."""
    device: str = "cpu"
    threads: int = 1
    timer: Callable | None = None       # a WallTimer / EventTimer (default: make_timer(device))
    warmup: int = 3
    repeats: int = 15      # timings per case; its median is the case's time

    def __call__(self, net, shapes: list, mode: str) -> float:
        import paddle
        timer = self.timer or make_timer(self.device)
        inputs = [paddle.randn(list(s), dtype="float32") for s in shapes]
        if self.device != "cpu":
            inputs = [t.cuda() for t in inputs]
        thread_restorer(self.threads)()
        pm = prepare_mode(mode, net, inputs, device=self.device, threads=self.threads)
        try:
            if pm.status != "ran":
                raise RuntimeError(f"{mode} {pm.status}: {pm.reason}")
            fn = pm.fn
            if mode == "eager":
                restore = thread_restorer(self.threads)
                restore()
            _, st = time_callable(fn, warmup=self.warmup, repeats=self.repeats, timer=timer)
            return st.median
        finally:
            pm.close()


@dataclass
class Calibration:
    """What a calibration run found: per-mode fits, every case's features and
    seconds, the machine and its peaks."""
    machine: dict
    peak: dict | None
    fits: dict                                  # mode -> Fit
    cases: list = field(default_factory=list)   # {"case", "mode", "seconds", "works"}
    skipped: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    budget_s: float = DEFAULT_BUDGET_S
    spent_s: float = 0.0
    machine_load: dict | None = None            # the load when it ran (bench.machine.load_check)

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "machine": self.machine, "peak": self.peak, "budget_s": self.budget_s,
                "spent_s": round(self.spent_s, 1), "load": self.machine_load,
                "fits": {m: f.to_dict() for m, f in self.fits.items()},
                "cases": self.cases, "skipped": self.skipped, "failed": self.failed}

    def save(self, path: str) -> None:
        write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def from_dict(cls, d: Mapping) -> "Calibration":
        if not isinstance(d, Mapping) or d.get("schema") != SCHEMA:
            raise CalibrationFileError(f"not a calibration file (schema {SCHEMA} expected)")
        return cls(d.get("machine", {}), d.get("peak"), {m: Fit.from_dict(m, f) for m, f in d["fits"].items()},
                   list(d.get("cases", [])), list(d.get("skipped", [])), list(d.get("failed", [])),
                   d.get("budget_s", DEFAULT_BUDGET_S), d.get("spent_s", 0.0), d.get("load"))

    def refit(self, form: str = DEFAULT_FORM, cases=None) -> "Calibration":
        """The same measurements fitted again in ``form`` (no re-measuring);
        ``cases`` replaces the stored items (re-counted micro-benchmarks)."""
        cases = self.cases if cases is None else cases
        fits = {m: fit(m, samples_of(cases, m), form) for m in self.fits}
        return Calibration(self.machine, self.peak, fits, list(cases), list(self.skipped), list(self.failed),
                           self.budget_s, self.spent_s, self.machine_load)

    @classmethod
    def load(cls, path: str) -> "Calibration":
        try:
            with open(path, encoding="utf-8") as f:
                return cls.from_dict(json.load(f))
        except OSError as e:
            raise CalibrationFileError(f"cannot read the calibration file {path}: {e.strerror}") from None
        except (ValueError, KeyError, TypeError) as e:
            raise CalibrationFileError(f"{path} is not a calibration file ({type(e).__name__}: {e})") from None


def samples_of(cases: list, mode: str) -> list[Sample]:
    """The stored cases of ``mode`` as fit samples."""
    return [Sample(c["case"], [Work(**w) for w in c["works"]], c["seconds"]) for c in cases if c["mode"] == mode]


def recount(cases: list, profile=None) -> list:
    """Stored cases with their work items counted again by this version's
    :func:`work_items` (the times are kept): a calibration measured before
    the items changed refits without re-measuring. A case whose name is not
    in :data:`CASES` cannot be recounted: that raises, naming each."""
    by_name = {c.name: c for c in CASES}
    unknown = sorted({c["case"] for c in cases if c["case"] not in by_name})
    if unknown:
        raise CalibrationFileError(f"cannot recount cases this version does not define: {', '.join(unknown)}")
    out = []
    for c in cases:
        items, _, _ = case_works(by_name[c["case"]], c["mode"], profile)
        out.append({**c, "works": [w.__dict__ for w in items]})
    return out


def modes_for(precisions, simd=None) -> list[str]:
    """The modes to calibrate for ``precisions`` (bf16 only where the CPU has it)."""
    modes = []
    for p in precisions:
        if p not in PRECISION_MODES:
            raise ValueError(f"unknown precision {p!r}; choose from {', '.join(PRECISION_MODES)}")
        if p == "bf16" and not cpu_has_bf16(simd):
            continue
        modes += PRECISION_MODES[p]
    return modes


def calibrate(*, modes=("inference", "eager"), cases=CASES, budget_s: float = DEFAULT_BUDGET_S,
              measure: Callable | None = None, works: Callable = case_works,
              describe: Callable[[], dict] | None = None, peak: Callable[[], dict] | None = None,
              clock: Callable[[], float] = time.monotonic, progress=sys.stderr,
              device: str = "cpu", threads: int | None = None, form: str = DEFAULT_FORM) -> Calibration:
    """Run ``cases`` in ``modes`` until ``budget_s`` is spent and fit each mode.

    ``measure(net, shapes, mode) -> seconds`` times one case (default
    :class:`CaseTimer`); ``works(case, mode)`` gives its work items;
    ``describe()`` the machine and ``peak()`` its roofs (the defaults
    measure this one); ``form`` is the fit's form (:data:`.latency.FORMS`)."""
    if not budget_s > 0:
        raise ValueError("budget_s must be > 0")
    thread_info = set_threads(threads) if measure is None else {"threads": threads or 1}
    measure = measure or CaseTimer(device=device, threads=thread_info["threads"])
    machine = describe() if describe is not None else describe_machine(device, thread_info)
    t0 = clock()
    peak_doc = None
    if peak is not None:
        peak_doc = peak()
    else:
        peak_doc = measure_peak(device, quick=True, repeats=3)
    stored, failed, skipped = [], [], []
    for i, case in enumerate(cases):
        spent = clock() - t0
        if spent >= budget_s:
            skipped = [c.name for c in cases[i:]]
            _say(progress, f"time budget of {budget_s:.0f} s spent; {len(skipped)} case(s) left out")
            break
        times = []
        for mode in modes:
            try:
                items, net, shapes = works(case, mode)
                secs = measure(net, shapes, mode)
            except Exception as e:  # a case that cannot run in a mode is recorded, not fatal
                failed.append({"case": case.name, "mode": mode, "error": f"{type(e).__name__}: {e}"[:200]})
                continue
            stored.append({"case": case.name, "mode": mode, "seconds": secs,
                           "works": [w.__dict__ for w in items]})
            times.append(f"{mode} {secs * 1e3:.3f} ms")
        _say(progress, f"[{i + 1}/{len(cases)}] {case.name}: {', '.join(times) or 'failed'} "
                       f"({clock() - t0:.0f}/{budget_s:.0f} s)")
    fits = {m: fit(m, samples_of(stored, m), form) for m in modes}
    return Calibration(machine, peak_doc, fits, stored, skipped, failed, budget_s, clock() - t0)


def _say(stream, line: str) -> None:
    if stream is not None:
        print(line[:100], file=stream, flush=True)


# -- prediction ---------------------------------------------------------------

def predict_latency(net, input_size=None, calibration=None, *, modes=None, inputs=None,
                    profile=None) -> dict[str, Prediction]:
    """Predicted latency of one forward of ``net`` per calibrated mode, with
    the roofline time beside it, from a trace (the model is not run).
    ``calibration`` is a :class:`Calibration` or the path of its file."""
    if calibration is None:
        raise ValueError("predict_latency needs a calibration (a file written by paddle-flops calibrate)")
    cal = calibration if isinstance(calibration, Calibration) else Calibration.load(str(calibration))
    modes = list(modes or cal.fits)
    missing = [m for m in modes if m not in cal.fits]
    if missing:
        raise ValueError(f"the calibration has no fit for {', '.join(missing)}; it has {', '.join(cal.fits)}")
    if profile is None:
        from ..api import profile  # local: the API layer imports Paddle
    result = profile(net, input_size=input_size, inputs=inputs, mode="trace")
    facts = layer_facts(net) if hasattr(net, "named_sublayers") else {}
    return {m: predict(result, cal.fits[m], m, facts, cal.peak, dtype_size=2 if m == "inference_bf16" else 4)
            for m in modes}


__all__ = ["CASES", "Calibration", "CalibrationFileError", "CaseTimer", "MicroCase", "build_case",
           "calibrate", "layer_facts", "modes_for", "predict_latency", "recount", "samples_of"]
