"""Latency predicted from a traced profile and a calibration of the machine,
without running the model.

**Work items.** :func:`work_items` turns a :class:`ProfileResult` into the
kernels a forward runs, each a :class:`Work`: the layer that pays, a
**kind** (``conv_3x3``, ``conv_1x1``, ``conv_dw``, ``matmul`` (a Linear),
``batched_matmul`` (a product of two activations, as in attention),
``softmax``, ``movement`` ...), its calls, FLOPs (this package's convention) and bytes
(:func:`~.roofline.layer_bytes` for a leaf layer; 0 for an operation run
directly inside a layer, whose tensors are not recorded). A leaf layer with
a formula is one item; every operation a layer runs itself is one item per
operation name; data-movement operations (``transpose``, ``concat`` ...)
are priced by their calls and the owning layer's output bytes; views
(``reshape``, ``flatten`` ...) by their calls, and in eager mode also by
the owning layer's output bytes (eager views are strided: a reshape of a
transposed tensor copies it). Each layer also has one ``dispatch`` item
counting the operations it launches (the fixed cost of starting any
operation, whatever it computes); in ``eager`` mode every called layer also
pays one ``layer_call`` (Python's ``Layer.__call__``); a depthwise
convolution also pays per (sample, channel) plane it filters
(``dw_plane``); the forward's ``run`` item carries the model's input and
output bytes (the copies and layout changes at the run's boundary).

**Fusion.** Paddle Inference on the CPU (oneDNN) folds a batch norm into the
convolution before it and fuses the activation after a convolution or a
Linear into that kernel. :func:`work_items` marks such a layer ``fused``
(no time) when its input has the output shape of the convolution or
Linear (or folded norm) before it in the layer order, or of one under the
same parent layer (a block that calls one ReLU layer after each of its
convolutions: every call is taken as fused). A residual sum is priced as
run (not taken as folded into the convolution). Eager runs every layer and
operation.

**Cost of one kind** (:class:`KindCoefficients`), in one of :data:`FORMS`:
``roofline`` (the default): the shared overheads ``run`` (once per forward:
the predictor's run, plus seconds per byte of its input and output),
``layer_call``, ``dispatch`` and ``dw_plane`` are seconds per call; a work kind costs
``max(flops x per_flop, bytes x per_byte)``, compute or memory bound,
whichever is slower at that kind's fitted rates. ``overhead``: the same
with the sum of the two. ``free``: every kind ``calls x per_call + flops x
per_flop + bytes x per_byte`` with no shared dispatch. :func:`fit` finds
the coefficients from micro-benchmarks (:mod:`paddle_flops_ext.bench.calibrate`)
whose items are made by this same module, so a counting convention can
never differ between calibration and prediction: a non-negative least
squares on relative error over every micro-benchmark at once (one
benchmark may run several kinds: eager conv + bn + relu). The shared
overheads are pinned by micro-benchmarks made for them (chains of tiny
operations and of tiny layers).

**Prediction.** :func:`predict` sums the items per layer and in total, and
puts the roofline time (``max(flops / peak, bytes / bandwidth)`` per item
against the cache-aware roofs of :mod:`.roofline`) beside it. A kind the
calibration has no coefficients for is priced as ``elementwise`` and listed
in ``uncalibrated``; an operation the counter does not know is priced as
``other`` and listed too: the prediction says where it guessed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from .roofline import _shapes, bandwidth_roofs, layer_bytes, roof_for, roofline_seconds

MODES = ("inference", "inference_bf16", "eager")
COMPILED = ("inference", "inference_bf16")      # modes whose program Paddle Inference fuses
FEATURES = ("per_call", "per_flop", "per_byte")

CONV_BASES = ("Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
NORM_BATCH = ("BatchNorm", "BatchNorm1D", "BatchNorm2D", "BatchNorm3D", "SyncBatchNorm")
NORM_OTHER = ("LayerNorm", "GroupNorm", "InstanceNorm1D", "InstanceNorm2D", "InstanceNorm3D", "RMSNorm",
              "LocalResponseNorm")
ACTIVATIONS = ("ReLU", "ReLU6", "GELU", "Hardswish", "Hardsigmoid", "Sigmoid", "SiLU", "Swish", "Tanh",
               "LeakyReLU", "PReLU", "ELU", "Mish", "Softplus", "Hardtanh", "SELU", "CELU", "Silu")
POOLS = ("MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D", "AdaptiveAvgPool1D",
         "AdaptiveAvgPool2D", "AdaptiveAvgPool3D", "AdaptiveMaxPool1D", "AdaptiveMaxPool2D",
         "AdaptiveMaxPool3D")
NO_WORK = ("Dropout", "Dropout2D", "Dropout3D", "AlphaDropout", "Identity", "Flatten")

# operation name -> kind, for the operations layers run themselves
OP_KINDS = {
    **{n: "matmul" for n in ("mm", "linear", "addmm")},
    # a product of two activations run by the layer itself (attention's scores and weighted sum): many
    # small products batched over heads and windows, far slower per FLOP than one Linear's
    **{n: "batched_matmul" for n in ("matmul", "bmm", "einsum", "baddbmm")},
    **{n: "softmax" for n in ("softmax", "log_softmax")},
    **{n: "layer_norm" for n in ("layer_norm", "rms_norm", "group_norm")},
    **{n: "reduce" for n in ("mean", "sum", "max", "min", "amax", "amin", "logsumexp", "norm", "var", "std")},
    **{n: "activation" for n in ("relu", "relu6", "gelu", "hardswish", "hardsigmoid", "sigmoid", "silu",
                                 "swish", "tanh", "leaky_relu", "elu", "mish", "softplus", "exp", "sqrt",
                                 "rsqrt", "erf", "pow", "square", "abs", "clip", "cos", "sin")},
    **{n: "pool" for n in ("pool2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d")},
    **{n: "conv_kxk" for n in ("conv2d", "conv1d", "conv3d", "conv2d_transpose")},
    **{n: "conv_dw" for n in ("depthwise_conv2d",)},
}
ELEMENTWISE = "elementwise"
MOVEMENT_OPS = ("transpose", "concat", "split", "slice", "expand", "tile", "roll", "gather", "index_select",
                "stack", "pad", "chunk", "strided_slice", "embedding", "take_along_axis", "flip", "unbind",
                "pixel_shuffle", "interpolate", "nearest_interp", "bilinear_interp", "assign", "cast")
VIEW_OPS = ("reshape", "flatten", "squeeze", "unsqueeze", "view", "full", "full_like", "shape", "arange",
            "zeros", "ones", "zeros_like", "ones_like", "detach", "t")

FUSED, RUN, LAYER_CALL, OTHER = "fused", "run", "layer_call", "other"
# eager views are strided: a reshape of a transposed tensor copies it, so an eager view is priced by the
# owning layer's output bytes (at the rate fitted for views) as well as its calls
EAGER_VIEWS_COPY = True
DEPTHWISE_PLANES = True      # whether a depthwise convolution pays per plane (dw_plane)
DISPATCH = "dispatch"    # the fixed cost of launching any one operation, whatever its kind
DW_PLANE = "dw_plane"    # a depthwise convolution's fixed cost per (sample, channel) plane it filters
OVERHEADS = (RUN, LAYER_CALL, DISPATCH, DW_PLANE)    # kinds that are pure per-call costs, no work

# How a kind's seconds are made from its features (:class:`KindCoefficients`):
#   "free":     calls x per_call + flops x per_flop + bytes x per_byte, all three fitted per kind
#               (no shared dispatch item; every kind's per-call cost fitted separately)
#   "overhead": one measured per-operation cost (``dispatch``), per-layer cost (``layer_call``) and
#               per-forward cost (``run``) shared by every kind; a kind itself only flops x per_flop
#               + bytes x per_byte
#   "roofline": as "overhead", but a kind costs max(flops x per_flop, bytes x per_byte): compute or
#               memory bound, whichever is slower
#   "roofline_kind_call": as "roofline", plus a per-call cost of each kind's own on top of the shared ones
FORMS = ("free", "overhead", "roofline", "roofline_kind_call")
KIND_CALL_FORMS = ("free", "roofline_kind_call")      # forms where a work kind has a per-call cost
BOUND_FORMS = ("roofline", "roofline_kind_call")      # forms pricing the slower of compute and memory
DEFAULT_FORM = "roofline"


@dataclass(frozen=True)
class LayerFacts:
    """What the traced records do not keep about a layer: its Paddle base
    class and, for a convolution, its kernel, groups and input channels."""
    base: str
    kernel: tuple = ()
    groups: int = 1
    in_channels: int = 0


@dataclass(frozen=True)
class Work:
    """One kind of kernel a layer runs: ``calls`` launches in all, with
    ``flops`` and ``bytes`` summed over them."""
    layer: str
    kind: str
    calls: int
    flops: float = 0.0
    bytes: float = 0.0
    source: str = ""         # the layer type or operation name it came from

    @property
    def features(self) -> tuple:
        return (float(self.calls), float(self.flops), float(self.bytes))


@dataclass(frozen=True)
class KindCoefficients:
    """``seconds = calls x per_call + flops x per_flop + bytes x per_byte``;
    with ``bound`` the slower of the compute and the memory time instead of
    their sum: ``calls x per_call + max(flops x per_flop, bytes x per_byte)``."""
    per_call: float = 0.0
    per_flop: float = 0.0
    per_byte: float = 0.0
    bound: bool = False

    def seconds(self, work: Work) -> float:
        compute, memory = work.flops * self.per_flop, work.bytes * self.per_byte
        return work.calls * self.per_call + (max(compute, memory) if self.bound else compute + memory)

    def compute_bound(self, work: Work) -> bool:
        """Whether ``work``'s compute time is at least its memory time."""
        return work.flops * self.per_flop >= work.bytes * self.per_byte

    def to_dict(self) -> dict:
        return {"per_call_us": self.per_call * 1e6,
                "gflops_per_s": (1e-9 / self.per_flop) if self.per_flop > 0 else None,
                "gbytes_per_s": (1e-9 / self.per_byte) if self.per_byte > 0 else None,
                "combine": "max" if self.bound else "sum"}

    @classmethod
    def from_dict(cls, d: Mapping) -> "KindCoefficients":
        return cls(per_call=float(d.get("per_call_us") or 0.0) * 1e-6,
                   per_flop=1e-9 / d["gflops_per_s"] if d.get("gflops_per_s") else 0.0,
                   per_byte=1e-9 / d["gbytes_per_s"] if d.get("gbytes_per_s") else 0.0,
                   bound=d.get("combine") == "max")


# -- classification -------------------------------------------------------------

def conv_kind(kernel: Iterable[int], groups: int, in_channels: int) -> str:
    """``conv_dw`` (one group per input channel), ``conv_group``, ``conv_1x1``,
    ``conv_3x3`` or ``conv_kxk`` (any other kernel)."""
    kernel = tuple(int(k) for k in kernel)
    groups = int(groups or 1)
    if groups > 1 and groups == int(in_channels or 0):
        return "conv_dw"
    if groups > 1:
        return "conv_group"
    if kernel and all(k == 1 for k in kernel):
        return "conv_1x1"
    if kernel and all(k == 3 for k in kernel):
        return "conv_3x3"
    return "conv_kxk"


def layer_kind(type_name: str, facts: LayerFacts | None) -> str | None:
    """The kind of a leaf layer's own formula work; ``None`` when it does none
    (dropout, identity)."""
    base = facts.base if facts is not None else type_name
    if base in CONV_BASES:
        if facts is None or not facts.kernel:
            return "conv_kxk"
        return conv_kind(facts.kernel, facts.groups, facts.in_channels)
    if base == "Linear":
        return "matmul"
    if base in NORM_BATCH:
        return "batch_norm"
    if base in NORM_OTHER:
        return "layer_norm"
    if base in ACTIVATIONS:
        return "activation"
    if base in ("Softmax", "LogSoftmax"):
        return "softmax"
    if base in POOLS:
        return "pool"
    if base in NO_WORK:
        return None
    return OTHER


def op_kind(name: str) -> str:
    """The kind of an operation a layer runs itself."""
    if name in OP_KINDS:
        return OP_KINDS[name]
    if name in MOVEMENT_OPS:
        return "movement"
    if name in VIEW_OPS:
        return "view"
    return ELEMENTWISE


def _elems(shapes) -> int:
    total = 0
    for s in _shapes(shapes):
        n = 1
        for d in s:
            n *= max(int(d), 0)
        total += n
    return total


def work_items(result, mode: str, facts: Mapping[str, LayerFacts] | None = None,
               dtype_size: int = 4) -> list[Work]:
    """The kernels a forward of ``result``'s model runs in ``mode``
    (``inference``, ``inference_bf16`` or ``eager``), in layer order; see the module docstring."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    facts = facts or {}
    compiled = mode in COMPILED
    parents = {c.name: n for n in result.root.walk() for c in n.children} if compiled else {}
    producers: dict = {}       # layer name -> output shapes of the conv / Linear leaves below it

    def produced(node) -> set:
        if node.name not in producers:
            kinds = ((n, layer_kind(n.type, facts.get(n.name)) or "") for n in node.walk() if n.is_leaf and n.called)
            producers[node.name] = {next(iter(_shapes(n.output_shape)), None) for n, kind in kinds
                                    if kind.startswith(("conv", "matmul"))}
        return producers[node.name]

    root = result.root
    boundary = (_elems(root.input_shape) + _elems(root.output_shape)) * dtype_size
    items: list[Work] = [Work("", RUN, 1, bytes=float(boundary), source="forward")]
    producer_out = None        # output shape of the last conv / Linear (or a norm folded into it)
    for node in result.root.walk():
        if not node.called:
            continue
        if mode == "eager":
            items.append(Work(node.name, LAYER_CALL, node.calls, source=node.type))
        calls = max(int(node.calls), 1)
        own: list[Work] = []
        if node.is_leaf and node.counted_by != "ops":
            kind = layer_kind(node.type, facts.get(node.name))
            nbytes = layer_bytes(node.input_shape, node.output_shape, node.params, dtype_size) * calls
            first_in = next(iter(_shapes(node.input_shape)), None)
            parent = parents.get(node.name)
            if compiled and kind in ("batch_norm", "activation") and first_in is not None and (
                    first_in == producer_out
                    or (parent is not None and first_in in produced(parent))):
                kind = FUSED
            if kind is not None:
                own.append(Work(node.name, kind, calls, float(node.cost.flops), float(nbytes), node.type))
            if kind is not None and (kind.startswith("conv") or kind == "matmul" or kind == FUSED):
                producer_out = next(iter(_shapes(node.output_shape)), None)
            elif kind is not None:
                producer_out = None
        out_bytes = _elems(node.output_shape) * dtype_size
        for name, stat in node.ops.items():
            own.append(Work(node.name, op_kind(name), int(stat["calls"]), float(stat["flops"]), 0.0, name))
        for name, n in node.zero_ops.items():
            kind = op_kind(name)
            if kind not in ("movement", "view"):
                kind = "view"
            copies = kind == "movement" or (kind == "view" and mode == "eager" and EAGER_VIEWS_COPY)
            own.append(Work(node.name, kind, int(n), 0.0, float(out_bytes * n) if copies else 0.0, name))
        for name, n in node.unknown_ops.items():
            own.append(Work(node.name, OTHER, int(n), 0.0, float(out_bytes * n), name))
        launches = sum(w.calls for w in own if w.kind != FUSED)
        items += own
        if launches:
            items.append(Work(node.name, DISPATCH, launches, source="operations"))
        if DEPTHWISE_PLANES and any(w.kind == "conv_dw" for w in own):
            first_in = next(iter(_shapes(node.input_shape)), ())
            planes = first_in[0] * first_in[1] if len(first_in) >= 2 else 0
            if planes:
                items.append(Work(node.name, DW_PLANE, calls * int(planes), source=node.type))
    return items


# -- the fit ------------------------------------------------------------------

def nnls(a: list[list[float]], b: list[float], iterations: int = 500) -> list[float]:
    """Non-negative least squares ``min |A x - b|, x >= 0`` (Lawson and
    Hanson's active-set method)."""
    import numpy as np
    A = np.asarray(a, dtype="float64")
    y = np.asarray(b, dtype="float64")
    n = A.shape[1]
    x = np.zeros(n)
    passive = np.zeros(n, dtype=bool)
    w = A.T @ (y - A @ x)
    tol = 1e-10 * max(1.0, float(np.abs(w).max(initial=0.0)))
    for _ in range(iterations):
        if passive.all() or not (w[~passive] > tol).any():
            break
        j = int(np.argmax(np.where(passive, -np.inf, w)))
        passive[j] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(A[:, passive], y, rcond=None)[0]
            if (z[passive] > 0).all():
                x = z
                break
            neg = passive & (z <= 0)
            alpha = float(np.min(x[neg] / (x[neg] - z[neg])))
            x = x + alpha * (z - x)
            passive &= x > 1e-15
            x[~passive] = 0.0
        w = A.T @ (y - A @ x)
    return [float(v) for v in x]


@dataclass
class Sample:
    """One micro-benchmark: the work it ran and the seconds it took."""
    name: str
    works: list
    seconds: float


@dataclass
class Fit:
    """Coefficients per kind for one mode, and how well they reproduce the
    micro-benchmarks they came from."""
    mode: str
    kinds: dict                   # kind -> KindCoefficients
    residuals: dict = field(default_factory=dict)   # sample name -> predicted / measured - 1
    form: str = "free"            # one of FORMS

    def to_dict(self) -> dict:
        return {"form": self.form, "kinds": {k: c.to_dict() for k, c in sorted(self.kinds.items())},
                "residuals": dict(self.residuals)}

    @classmethod
    def from_dict(cls, mode: str, d: Mapping) -> "Fit":
        return cls(mode, {k: KindCoefficients.from_dict(v) for k, v in d["kinds"].items()},
                   dict(d.get("residuals", {})), d.get("form", "free"))


def _priced(works, form: str) -> list:
    """The items a fit of ``form`` prices: fused items cost nothing, and only
    the shared-overhead forms have a ``dispatch`` item."""
    return [w for w in works if w.kind != FUSED and (form != "free" or w.kind != DISPATCH)]


def _solve(samples: list[Sample], form: str, kinds: list, binding: Mapping | None = None) -> dict:
    """One non-negative least squares on relative error; ``binding`` maps
    ``(sample, item index)`` to the feature (1 flops, 2 bytes) that bounds
    that item (a bound form), else every feature counts (their sum)."""
    cols = []
    for k in kinds:
        if form in KIND_CALL_FORMS or k in OVERHEADS:
            cols.append((k, 0))
        if k not in OVERHEADS:
            cols += [(k, 1), (k, 2)]
        elif k == RUN and form != "free":
            cols.append((k, 2))     # the model's input and output crossing into and out of the run
    col = {c: i for i, c in enumerate(cols)}
    rows = []
    for si, s in enumerate(samples):
        row = [0.0] * len(cols)
        for wi, w in enumerate(_priced(s.works, form)):
            for f, v in enumerate(w.features):
                if (w.kind, f) not in col or (binding is not None and f > 0 and binding[(si, wi)] != f):
                    continue
                row[col[(w.kind, f)]] += v / s.seconds
        rows.append(row)
    scale = [max(abs(r[j]) for r in rows) or 1.0 for j in range(len(cols))]
    x = nnls([[v / scale[j] for j, v in enumerate(r)] for r in rows], [1.0] * len(rows))
    got = {c: x[i] / scale[i] for c, i in col.items()}
    return {k: KindCoefficients(got.get((k, 0), 0.0), got.get((k, 1), 0.0), got.get((k, 2), 0.0),
                                bound=form in BOUND_FORMS and k not in OVERHEADS) for k in kinds}


def fit(mode: str, samples: list[Sample], form: str = DEFAULT_FORM) -> Fit:
    """Coefficients per kind in ``form`` (:data:`FORMS`) minimising the
    relative error over ``samples``, all non-negative; fused items carry no
    cost. The roofline form alternates: each item is assigned to the
    feature that bounds it under the current coefficients (from the sum
    form at first), the fit is redone on those features, until no item
    changes side (at most 20 rounds)."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    samples = [s for s in samples if s.seconds > 0]
    kinds = sorted({w.kind for s in samples for w in _priced(s.works, form)})
    if not samples:
        return Fit(mode, {}, form=form)
    coeffs = _solve(samples, form, kinds)      # the sum of compute and memory first
    if form in BOUND_FORMS:
        binding = None
        for _ in range(20):
            new = {(si, wi): (1 if w.flops > 0 and (w.bytes <= 0 or coeffs[w.kind].compute_bound(w)) else 2)
                   for si, s in enumerate(samples) for wi, w in enumerate(_priced(s.works, form))}
            if new == binding:
                break
            binding = new
            coeffs = _solve(samples, form, kinds, binding)
    result = Fit(mode, coeffs, form=form)
    for s in samples:
        pred = sum(coeffs[w.kind].seconds(w) for w in _priced(s.works, form))
        result.residuals[s.name] = pred / s.seconds - 1.0
    return result


# -- prediction ---------------------------------------------------------------

@dataclass
class LayerLatency:
    name: str
    kinds: list
    seconds: float
    roofline_seconds: float
    flops: float


@dataclass
class Prediction:
    """Predicted seconds of one forward in ``mode``, per layer and in total,
    with the roofline time beside it."""
    mode: str
    seconds: float
    roofline_seconds: float
    layers: list                   # LayerLatency, in layer order
    by_kind: dict                  # kind -> seconds
    uncalibrated: list             # "kind (source)" priced by a fallback
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"mode": self.mode, "ms": self.seconds * 1e3, "roofline_ms": self.roofline_seconds * 1e3,
                "by_kind_ms": {k: v * 1e3 for k, v in sorted(self.by_kind.items(), key=lambda t: -t[1])},
                "uncalibrated": list(self.uncalibrated), "notes": list(self.notes),
                "layers": [{"name": r.name, "kinds": r.kinds, "ms": r.seconds * 1e3,
                            "roofline_ms": r.roofline_seconds * 1e3, "flops": r.flops} for r in self.layers]}


def roofline_time(work: Work, peak: Mapping | None) -> float:
    """``max(flops / peak, bytes / bandwidth)`` of one item against the
    cache-aware roof for its bytes per call; 0 without a peak."""
    if not peak or work.kind == FUSED or work.kind in OVERHEADS:
        return 0.0
    peak_flops = peak["matmul_gflops_peak"] * 1e9
    per_call = work.bytes / max(work.calls, 1)
    _, gbps = roof_for(per_call, bandwidth_roofs(peak))
    return roofline_seconds(work.flops, work.bytes, peak_flops, gbps * 1e9)


def predict(result, fit_: Fit, mode: str, facts: Mapping[str, LayerFacts] | None = None,
            peak: Mapping | None = None, dtype_size: int = 4) -> Prediction:
    """Per-layer and whole-model latency of ``result``'s model in ``mode``."""
    items = work_items(result, mode, facts, dtype_size)
    fallback = fit_.kinds.get(ELEMENTWISE, KindCoefficients())
    per_layer: dict[str, LayerLatency] = {}
    by_kind: dict[str, float] = {}
    uncalibrated = []
    total = roof = 0.0
    for w in items:
        if w.kind == FUSED or (w.kind in OVERHEADS and w.kind not in fit_.kinds):
            secs = 0.0      # fused away, or an overhead this fit's form does not price
        elif w.kind in fit_.kinds:
            secs = fit_.kinds[w.kind].seconds(w)
        else:
            secs = fallback.seconds(w)
            uncalibrated.append(f"{w.kind} ({w.source})")
        if w.kind == OTHER:
            uncalibrated.append(f"{w.kind} ({w.source})")
        r = roofline_time(w, peak)
        row = per_layer.setdefault(w.layer, LayerLatency(w.layer, [], 0.0, 0.0, 0.0))
        if w.kind not in row.kinds:
            row.kinds.append(w.kind)
        row.seconds += secs
        row.roofline_seconds += r
        row.flops += w.flops
        by_kind[w.kind] = by_kind.get(w.kind, 0.0) + secs
        total += secs
        roof += r
    notes = []
    uncal = list(dict.fromkeys(uncalibrated))
    if uncal:
        notes.append("priced without a calibration of their own (as elementwise work): " + ", ".join(uncal))
    if result.inexact:
        notes.append("the counts are not exact: " + "; ".join(map(str, result.inexact)))
    return Prediction(mode, total, roof, list(per_layer.values()), by_kind, uncal, notes)
