"""The result of a profile: a tree of layers with own and subtree counts.

Nothing here counts or prints: :mod:`.assemble` builds it once from what the
engines return, renderers read it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..estimates.memory import inference_memory
from ..formulas.paddle_reported import CORRECTION_LINES
from ..formulas.registry import ZERO, Cost
from . import views


class TrainingWork:
    """A layer's own work in a training step beyond its forward."""

    __slots__ = ("backward", "optimizer_step", "recompute", "backward_ops", "uncounted_backward")

    def __init__(self):
        self.backward = ZERO
        self.optimizer_step = ZERO
        self.recompute = ZERO
        self.backward_ops: dict = {}
        self.uncounted_backward: dict = {}


class LayerNode:
    """One layer of the result: its own counts, shapes and parameters, and its
    children. A plain class with ``__slots__`` (one is built per layer on
    every profile); the constructor takes the fields by keyword, ``name``,
    ``type`` and ``depth`` also by position."""

    __slots__ = ("name", "type", "depth", "called", "calls", "input_shape", "output_shape", "params",
                 "trainable_params", "cost", "counted_by", "ops", "unknown_ops", "zero_ops", "seconds",
                 "paddle_reported", "params_reported", "corrections", "children", "training_work", "_total",
                 "_total_params", "_total_trainable")

    def __init__(self, name: str, type: str, depth: int, called: bool = True, calls: int = 0,
                 input_shape: list | None = None, output_shape: list | None = None, params: int = 0,
                 trainable_params: int = 0, cost: Cost = ZERO, counted_by: str = "ops", ops: dict | None = None,
                 unknown_ops: dict | None = None, zero_ops: dict | None = None, seconds: float = 0.0,
                 paddle_reported: int = 0, params_reported: int = 0, corrections: dict | None = None,
                 children: list | None = None):
        self.name = name                  # dotted path; "" for the model itself
        self.type = type
        self.depth = depth
        self.called = called
        self.calls = calls
        self.input_shape = [] if input_shape is None else input_shape
        self.output_shape = [] if output_shape is None else output_shape
        self.params = params              # owned directly
        self.trainable_params = trainable_params
        self.cost = cost                  # own work
        self.counted_by = counted_by      # formula | user | legacy | ops | trace | none
        self.ops = {} if ops is None else ops                        # op name -> {"calls", "macs", "flops"}
        self.unknown_ops = {} if unknown_ops is None else unknown_ops  # op name -> calls
        self.zero_ops = {} if zero_ops is None else zero_ops           # op name -> calls
        self.seconds = seconds
        self.paddle_reported = paddle_reported  # what paddle.flops itself adds for this layer
        self.params_reported = params_reported  # what paddle.flops adds to its parameter total for this layer
        self.corrections = {} if corrections is None else corrections  # kind -> paddle_flops - paddle_reported
        self.children = [] if children is None else children
        self.training_work: TrainingWork | None = None   # training=True only
        self._total: Cost | None = None     # subtree totals, filled on first use
        self._total_params = 0
        self._total_trainable = 0

    # training=True only: own backward / optimizer-step / recomputed-forward
    # work (zero / empty on an inference profile)
    @property
    def backward(self) -> Cost:
        return self.training_work.backward if self.training_work else ZERO

    @property
    def optimizer_step(self) -> Cost:
        return self.training_work.optimizer_step if self.training_work else ZERO

    @property
    def recompute(self) -> Cost:
        return self.training_work.recompute if self.training_work else ZERO

    @property
    def backward_ops(self) -> dict:
        """op name -> {"calls", "macs", "flops"}"""
        return self.training_work.backward_ops if self.training_work else {}

    @property
    def uncounted_backward(self) -> dict:
        """forward op name -> calls (no gradient formula)"""
        return self.training_work.uncounted_backward if self.training_work else {}

    def __repr__(self) -> str:
        return (f"LayerNode({self.name!r}, {self.type!r}, depth={self.depth}, calls={self.calls}, "
                f"cost={self.cost}, params={self.params}, children={len(self.children)})")

    # subtree totals (computed once, by the builder or on first use) -----
    def walk(self):
        """This node and every node below it, depth first in order (a loop,
        not nested generators: a deep tree costs O(n), not O(n x depth))."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    @property
    def total_cost(self) -> Cost:
        if self._total is None:
            self._fill_totals()
        return self._total

    @property
    def total_params(self) -> int:
        if self._total is None:
            self._fill_totals()
        return self._total_params

    @property
    def total_trainable_params(self) -> int:
        if self._total is None:
            self._fill_totals()
        return self._total_trainable

    def _fill_totals(self, order: list | None = None) -> None:
        """Subtree totals of every node below, children before parents
        (``order``: ``list(self.walk())`` if the caller has it)."""
        for node in reversed(list(self.walk()) if order is None else order):
            kids = node.children
            cost = node.cost
            if not kids:
                node._total, node._total_params, node._total_trainable = cost, node.params, node.trainable_params
                continue
            macs, flops, paddle_flops, comm = cost.macs, cost.flops, cost.paddle_flops, cost.comm_bytes
            params, trainable = node.params, node.trainable_params
            for c in kids:
                total = c._total
                macs += total.macs
                flops += total.flops
                paddle_flops += total.paddle_flops
                comm += total.comm_bytes
                params += c._total_params
                trainable += c._total_trainable
            node._total = Cost(macs, flops, paddle_flops, comm)
            node._total_params, node._total_trainable = params, trainable

    def subtree(self, attr: str) -> Cost:
        """Sum of a per-layer Cost field (``backward``, ``optimizer_step``,
        ``recompute``) over this layer and everything below it."""
        total = ZERO
        for n in self.walk():
            total = total + getattr(n, attr)
        return total

    @property
    def is_leaf(self) -> bool:
        return not self.children

    @property
    def display_name(self) -> str:
        return self.name or self.type


@dataclass
class ProfileResult:
    root: LayerNode
    inputs: list = field(default_factory=list)     # input shapes
    mode: str = "eager"
    notes: list = field(default_factory=list)      # the INEXACT ones are also in ``inexact``
    inexact: list = field(default_factory=list)    # why counts may be wrong; empty when exact
    moe: dict | None = None                        # mixture of experts: see paddle_flops_ext.estimates.moe

    @property
    def active_params(self) -> int:
        """Parameters one token uses: for a mixture-of-experts model, all but
        the routed experts beyond its top-k (``moe``); else ``params``."""
        return self.moe["active_params"] if self.moe else self.params
    training: bool = False                         # profile(training=True)
    optimizer: str | None = None                   # the optimizer whose step is counted
    _memory: dict | None = field(default=None, repr=False)
    # the model's distinct layers: inference memory is derived from them on first use (profiling stays cheap)
    _layers: list | None = field(default=None, repr=False, compare=False)

    @property
    def memory(self) -> dict | None:
        """Bytes: parameters, gradients, optimizer states, activations, peak,
        by dtype (inference: parameters and buffers, and the peak from the
        recorded shapes, computed on first use)."""
        if self._memory is None and self._layers is not None:
            self._memory = inference_memory(self._layers, self.root)
        return self._memory

    def memory_at(self, float_dtype: str) -> dict:
        """Inference memory with the floating-point tensors stored as
        ``float_dtype`` (e.g. a model built in float32 that is served in
        bfloat16); the result's own ``memory`` is left as it is."""
        if self._layers is None or self.training:
            raise ValueError("memory_at() prices an inference profile of a Layer; this result has no layers "
                             "to re-price (a program, a training step, or memory set by hand)")
        return inference_memory(self._layers, self.root, float_dtype)

    @memory.setter
    def memory(self, value: dict | None) -> None:
        self._memory, self._layers = value, None

    # training figures (None unless training=True) ----------------------
    @property
    def forward(self) -> Cost:
        return self.root.total_cost

    @property
    def backward(self) -> Cost | None:
        return self.root.subtree("backward") if self.training else None

    @property
    def optimizer_step(self) -> Cost | None:
        return self.root.subtree("optimizer_step") if self.training else None

    @property
    def recomputed_forward(self) -> Cost | None:
        return self.root.subtree("recompute") if self.training else None

    @property
    def training_flops(self) -> int | None:
        """Model FLOPs of one step: forward + backward + optimizer step."""
        if not self.training:
            return None
        return self.forward.flops + self.backward.flops + self.optimizer_step.flops

    @property
    def hardware_flops(self) -> int | None:
        """What the hardware executes: ``training_flops`` + the forward of
        recomputed blocks."""
        if not self.training:
            return None
        return self.training_flops + self.recomputed_forward.flops

    @property
    def uncounted_backward(self) -> list[dict]:
        out: dict[str, dict] = {}
        for n in self.root.walk():
            for op, calls in n.uncounted_backward.items():
                entry = out.setdefault(op, {"name": op, "calls": 0, "layers": []})
                entry["calls"] += calls
                entry["layers"].append(n.display_name)
        return sorted(out.values(), key=lambda e: -e["calls"])

    @property
    def exact(self) -> bool:
        """True unless something forced a guess (see ``inexact``)."""
        return not self.inexact

    # totals --------------------------------------------------------------
    @property
    def macs(self) -> int:
        return self.root.total_cost.macs

    @property
    def flops(self) -> int:
        return self.root.total_cost.flops

    @property
    def paddle_flops(self) -> int:
        return self.root.total_cost.paddle_flops

    @property
    def comm_bytes(self) -> int:
        """Bytes this rank sends in the forward's collectives and sends
        (:mod:`~paddle_flops_ext.formulas.communication`); 0 without any."""
        return self.root.total_cost.comm_bytes

    @property
    def params(self) -> int:
        return self.root.total_params

    @property
    def trainable_params(self) -> int:
        return self.root.total_trainable_params

    # reconciliation with paddle.flops -------------------------------------
    @property
    def paddle_flops_reported(self) -> int:
        """The ``Total Flops`` that ``paddle.flops`` prints for this model and
        input, reproduced from the records (its mistakes included; see
        :mod:`paddle_flops_ext.formulas.paddle_reported`)."""
        return sum(n.paddle_reported for n in self.root.walk())

    @property
    def paddle_params_reported(self) -> int:
        """The ``Total Params`` that ``paddle.flops`` prints: parameters of
        the leaf layers that ran, a shared one once per layer."""
        return sum(n.params_reported for n in self.root.walk())

    @property
    def reconciliation(self) -> list[dict]:
        """From what paddle.flops prints to our figures, one named line per
        cause: ``{"figure", "line", "delta"}``; the deltas of a figure add
        up to ``ours - reported``."""
        kinds: dict[str, int] = {}
        functional = nonleaf = uncalled = 0
        for n in self.root.walk():
            for kind, delta in n.corrections.items():
                kinds[kind] = kinds.get(kind, 0) + delta
            if n.counted_by == "ops":
                functional += n.cost.paddle_flops
            if n.children:
                nonleaf += n.params
            elif not n.called:
                uncalled += n.params
        lines = [{"figure": "paddle_flops", "line": CORRECTION_LINES[k], "delta": d} for k, d in kinds.items() if d]
        if functional:
            lines.append({"figure": "paddle_flops", "line": CORRECTION_LINES["functional"], "delta": functional})
        shared = self.paddle_params_reported - sum(n.params for n in self.root.walk() if not n.children and n.called)
        for line, delta in (("parameters of layers that have sub-layers (paddle.flops counts leaf layers only)",
                             nonleaf),
                            ("parameters of layers that never ran", uncalled),
                            ("shared parameters paddle.flops counts once per layer", -shared)):
            if delta:
                lines.append({"figure": "params", "line": line, "delta": delta})
        non_trainable = self.params - self.trainable_params
        if non_trainable:
            lines.append({"figure": "trainable_params", "line": "non-trainable parameters (BatchNorm running "
                          "statistics, frozen weights) that the params total includes", "delta": -non_trainable})
        return lines

    def layers(self):
        """Every layer node, depth-first (the model first)."""
        return list(self.root.walk())

    def find(self, name: str) -> LayerNode:
        for n in self.root.walk():
            if n.name == name:
                return n
        raise KeyError(f"no layer named {name!r}")

    @property
    def uncounted(self) -> list[dict]:
        """Operations that ran with no formula, and layers never called that
        hold parameters, with call counts and where they happened."""
        out: dict[str, dict] = {}
        for n in self.root.walk():
            for op, calls in n.unknown_ops.items():
                entry = out.setdefault(op, {"name": op, "kind": "op", "calls": 0, "layers": []})
                entry["calls"] += calls
                entry["layers"].append(n.display_name)
            if n.counted_by == "none" and n.called:
                entry = out.setdefault(n.type, {"name": n.type, "kind": "layer", "calls": 0, "layers": []})
                entry["calls"] += n.calls
                entry["layers"].append(n.display_name)
        return sorted(out.values(), key=lambda e: -e["calls"])

    @property
    def not_called(self) -> list[str]:
        return [n.display_name for n in self.root.walk() if not n.called]

    # presentation (delegated) -------------------------------------------
    def report(self, by: str = "layer", depth: int | None = None, top: int | None = None,
               rank: str = "flops", language_model: bool = False):
        """The :class:`~.content.Content` every renderer reads: ``by`` is
        ``"layer"``, ``"type"`` or ``"op"``; ``language_model``: parameter
        counts in M/B; see :mod:`.views`."""
        return views.report(self, by=by, depth=depth, top=top, rank=rank, language_model=language_model)

    def top(self, k: int = 10, by: str = "flops"):
        """The ``k`` layers with the most own ``by`` (``"flops"``, ``"macs"``,
        ``"params"``), with their share of the total; ``print()`` it or
        ``.to_markdown()`` / ``.to_csv()`` / ``.to_json()``; ``.rows``."""
        return views.layers(self, top=k, rank=by)

    def by_type(self, top: int | None = None, rank: str = "flops"):
        """One row per layer type: the sum of those layers' own counts."""
        return views.by_type(self, top=top, rank=rank)

    def by_operator(self, top: int | None = None, rank: str = "flops"):
        """One row per operation (layers counted whole appear by type)."""
        return views.by_operator(self, top=top, rank=rank)

    def table(self, depth: int | None = None) -> str:
        return self.report(depth=depth).table()

    def to_dict(self, depth: int | None = None) -> dict:
        return self.report(depth=depth).to_dict()

    def to_json(self, indent: int | None = 2, depth: int | None = None) -> str:
        return self.report(depth=depth).to_json(indent)

    def to_csv(self, depth: int | None = None) -> str:
        """One line per layer row, integer count columns (tidy); the totals,
        memory and the rest are in :meth:`summary_csv` and the JSON."""
        return self.report(depth=depth).to_csv()

    def summary_csv(self) -> str:
        """The whole model's figures as CSV: ``section,name,detail,value``."""
        return self.report().summary_csv()

    def to_latex(self, depth: int | None = None) -> str:
        return self.report(depth=depth).to_latex()

    def to_markdown(self, depth: int | None = None) -> str:
        return self.report(depth=depth).to_markdown()

    def __str__(self) -> str:
        """The per-layer table fitted to the terminal (``table()``: every column)."""
        return str(self.report())

    def __repr__(self) -> str:
        return (f"ProfileResult(macs={self.macs}, flops={self.flops}, params={self.params}, "
                f"trainable_params={self.trainable_params}, paddle_flops={self.paddle_flops})")
