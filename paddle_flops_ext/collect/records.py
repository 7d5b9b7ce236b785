"""What engines return: one :class:`LayerRecord` per distinct layer (its
calls, shapes, own cost and operations), gathered in a :class:`Collection`.
``report.assemble`` turns a collection into the result; nothing here counts.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, NamedTuple

from ..formulas.registry import ZERO, Cost


@dataclass
class OpStat:
    calls: int = 0
    cost: Cost = ZERO


_NO_TALLY: Mapping = MappingProxyType({})   # a record's tallies until something is added


class LayerRecord:
    """What one distinct layer did during the observed forward.

    A plain class with ``__slots__``: one is made per layer of the model on
    every profile, so its construction is kept to bare assignments, and
    its tallies (``ops``, ``unknown_ops``, ``zero_ops``, ``corrections``)
    are read-only empty mappings until the ``add_*`` methods first write
    one (most layers never run an op of their own)."""

    __slots__ = ("path", "layer", "parent", "calls", "input_shapes", "output_shapes", "cost", "counted_by",
                 "ops", "unknown_ops", "zero_ops", "seconds", "params", "trainable_params", "paddle_reported",
                 "corrections")

    def __init__(self, path: str, layer, parent: "LayerRecord | None" = None, calls: int = 0,
                 counted_by: str = "ops"):
        self.path = path                  # dotted path from the model ("" for the model)
        self.layer = layer
        self.parent = parent
        self.calls = calls
        self.input_shapes: list = []      # of the first call
        self.output_shapes: list = []
        self.cost: Cost = ZERO            # own work: formula + direct ops
        self.counted_by = counted_by      # formula | user | legacy | ops | none
        self.ops: Mapping = _NO_TALLY     # op name -> OpStat
        self.unknown_ops: Mapping = _NO_TALLY   # op name -> calls
        self.zero_ops: Mapping = _NO_TALLY      # op name -> calls
        self.seconds = 0.0                # inclusive wall time of its calls (time_layers)
        self.params = 0                   # set only where no model holds them (bare programs)
        self.trainable_params = 0
        self.paddle_reported = 0          # what paddle.flops itself adds for this layer's calls
        self.corrections: Mapping = _NO_TALLY   # kind -> paddle_flops - reported

    def _tally(self, field: str, factory) -> dict:
        """The record's own table ``field``, made on first write."""
        table = getattr(self, field)
        if table is _NO_TALLY:
            table = defaultdict(factory)
            setattr(self, field, table)
        return table

    def add_op(self, name: str, cost: Cost) -> None:
        stat = self._tally("ops", OpStat)[name]
        stat.calls += 1
        stat.cost = stat.cost + cost
        self.cost = self.cost + cost

    def add_zero_op(self, name: str) -> None:
        self._tally("zero_ops", int)[name] += 1

    def add_unknown_op(self, name: str) -> None:
        self._tally("unknown_ops", int)[name] += 1

    def add_correction(self, kind: str, amount: int) -> None:
        self._tally("corrections", int)[kind] += amount

    def __repr__(self) -> str:
        return f"LayerRecord({self.path!r}, {type(self.layer).__name__}, calls={self.calls}, cost={self.cost})"


def layer_records(model) -> list[LayerRecord]:
    """One record per distinct layer, depth first in definition order, with
    paths and parents taken from the layer tree itself (a sub-layer name may
    contain dots; a layer reachable under two names keeps the first)."""
    records: list[LayerRecord] = []
    seen = {id(model)}
    stack = [LayerRecord("", model)]
    while stack:
        rec = stack.pop()
        records.append(rec)
        table = rec.layer._sub_layers
        if not table:
            continue
        prefix = rec.path + "." if rec.path else ""
        children = []
        for name, sub in table.items():
            if sub is None or id(sub) in seen:
                continue
            seen.add(id(sub))
            children.append(LayerRecord(prefix + str(name), sub, rec))
        children.reverse()
        stack += children
    return records


@dataclass
class Collection:
    """What an engine hands to the result builder."""
    model: Any
    records: list
    inputs: list                       # input shapes
    mode: str
    notes: list = field(default_factory=list)
    inexact: list = field(default_factory=list)   # why counts may be wrong (shown loudly, strict raises)
    # the records' parameters as the forward left them (a parameter built on the first call included),
    # read before the session puts the model back; None: read when the result is assembled
    parameters: Any = None


@dataclass
class Span:
    """Trace mode: the op-creation positions (lo, hi) of a call; ops created
    directly inside are charged to ``record`` when ``counts_ops``."""
    lo: int
    hi: int
    record: LayerRecord | None
    counts_ops: bool


# --------------------------------------------------------------------------
# a training step (profile(training=True))
# --------------------------------------------------------------------------

@dataclass
class LayerTraining:
    """A layer's own work in a training step beyond its forward."""
    backward: Cost = ZERO
    optimizer: Cost = ZERO
    recompute: Cost = ZERO
    backward_ops: dict = field(default_factory=lambda: defaultdict(lambda: {"calls": 0, "macs": 0, "flops": 0}))
    uncounted: dict = field(default_factory=lambda: defaultdict(int))


class TensorBytes(NamedTuple):
    """A parameter, buffer or activation as memory sees it."""
    dtype: str            # "float32", "bfloat16", ...
    nbytes: int
    numel: int = 0
    element_size: int = 0
    trainable: bool = False
    keeps_fp32: bool = False   # amp.decorate(level="O2") leaves it in float32 (normalisation layers)


class OpTensors(NamedTuple):
    """One operation of a training forward, by tensor key, for the memory
    estimate: what it read and wrote, what its backward keeps."""
    outs: list
    ins: list
    saved: list
    saved_extra: int      # bytes the kernel keeps beyond its tensors
    region: int           # recompute block (0: none)
    name: str = ""        # the operation's name (AMP decides its dtype by it)
    needs: tuple = ()     # keys of the inputs the backward computes a gradient for


@dataclass
class StepLog:
    """What the memory estimate of a training step needs, as plain data:
    every tensor's dtype and bytes by key, the operations in order, the
    model's parameters and buffers (unique), the trainable ones the
    optimizer updates, which keys are parameters (never activations), and
    the keys of the step's inputs and outputs; ``gradients``: every
    parameter Paddle computes a ``.grad`` for (every trainable parameter the
    forward used, whatever the optimizer updates)."""
    tensors: dict                 # key -> TensorBytes
    ops: list                     # OpTensors in execution (or creation) order
    parameters: list              # TensorBytes of every parameter and buffer
    trainable: list               # TensorBytes of what the optimizer updates
    parameter_keys: set
    inputs: list
    outputs: list
    gradients: list = field(default_factory=list)   # TensorBytes
    parameter_bytes: dict = field(default_factory=dict)   # parameter key -> TensorBytes


@dataclass
class TrainingRecords:
    """What the training engines hand to the result assembly besides the
    forward :class:`Collection`."""
    per_layer: dict               # LayerRecord path -> LayerTraining
    optimizer: str | None
    amp: str | None
    step: StepLog
    notes: list = field(default_factory=list)
