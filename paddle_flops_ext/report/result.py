"""The result of a profile: a tree of layers with own and subtree counts.

Nothing here counts or prints; collectors fill it, renderers read it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..formulas.registry import ZERO, Cost


@dataclass
class LayerNode:
    name: str                      # dotted path; "" for the model itself
    type: str
    depth: int
    called: bool = True
    calls: int = 0
    input_shape: list = field(default_factory=list)
    output_shape: list = field(default_factory=list)
    params: int = 0                # owned directly
    trainable_params: int = 0
    cost: Cost = ZERO              # own work
    counted_by: str = "ops"        # formula | user | legacy | ops | trace | none
    ops: dict = field(default_factory=dict)         # op name -> {"calls", "macs", "flops"}
    unknown_ops: dict = field(default_factory=dict)  # op name -> calls
    zero_ops: dict = field(default_factory=dict)     # op name -> calls
    seconds: float = 0.0
    children: list = field(default_factory=list)
    _total: Cost | None = field(default=None, repr=False, compare=False)
    _total_params: int = field(default=0, repr=False, compare=False)
    _total_trainable: int = field(default=0, repr=False, compare=False)

    # subtree totals (computed once, by the builder or on first use) -----
    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

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

    def _fill_totals(self) -> None:
        """Subtree totals of every node below, children before parents."""
        order = list(self.walk())
        for node in reversed(order):
            total, params, trainable = node.cost, node.params, node.trainable_params
            for c in node.children:
                total = total + c._total
                params += c._total_params
                trainable += c._total_trainable
            node._total, node._total_params, node._total_trainable = total, params, trainable

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
    moe: dict | None = None                        # mixture of experts: see paddle_flops_ext.llm.moe

    @property
    def active_params(self) -> int:
        """Parameters one token uses: for a mixture-of-experts model, all but
        the routed experts beyond its top-k (``moe``); else ``params``."""
        return self.moe["active_params"] if self.moe else self.params

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
    def params(self) -> int:
        return self.root.total_params

    @property
    def trainable_params(self) -> int:
        return self.root.total_trainable_params

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
               rank: str = "flops"):
        """The :class:`~.content.Content` every renderer reads: ``by`` is
        ``"layer"``, ``"type"`` or ``"op"``; see :mod:`.views`."""
        from .views import report
        return report(self, by=by, depth=depth, top=top, rank=rank)

    def top(self, k: int = 10, by: str = "flops"):
        """The ``k`` layers with the most own ``by`` (``"flops"``, ``"macs"``,
        ``"params"``), with their share of the total; ``print()`` it or
        ``.to_markdown()`` / ``.to_csv()`` / ``.to_json()``; ``.rows``."""
        from .views import layers
        return layers(self, top=k, rank=by)

    def by_type(self, top: int | None = None, rank: str = "flops"):
        """One row per layer type: the sum of those layers' own counts."""
        from .views import by_type
        return by_type(self, top=top, rank=rank)

    def by_operator(self, top: int | None = None, rank: str = "flops"):
        """One row per operation (layers counted whole appear by type)."""
        from .views import by_operator
        return by_operator(self, top=top, rank=rank)

    def table(self, depth: int | None = None) -> str:
        return self.report(depth=depth).table()

    def to_dict(self, depth: int | None = None) -> dict:
        return self.report(depth=depth).to_dict()

    def to_json(self, indent: int | None = 2, depth: int | None = None) -> str:
        return self.report(depth=depth).to_json(indent)

    def to_csv(self, depth: int | None = None) -> str:
        return self.report(depth=depth).to_csv()

    def to_markdown(self, depth: int | None = None) -> str:
        return self.report(depth=depth).to_markdown()

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return (f"ProfileResult(macs={self.macs}, flops={self.flops}, params={self.params}, "
                f"trainable_params={self.trainable_params}, paddle_flops={self.paddle_flops})")


def build_result(collection) -> "ProfileResult":
    """The result of a profile, for every mode: the tree of
    :class:`LayerNode` from an engine's :class:`~paddle_flops_ext.collect.core.Collection`
    (records with their parents, shapes, costs and ops) plus the parameters
    each layer owns. A layer counts as called if it or any layer below it
    ran (a ``LayerList`` is iterated, never called)."""
    from ..collect.params import parameter_owners

    records = collection.records
    owners = parameter_owners(collection.model, [r.layer for r in records]) if collection.model is not None else {}
    nodes: dict[int, LayerNode] = {}
    for rec in records:
        own = owners.get(id(rec.layer))
        node = LayerNode(
            name=rec.path, type=type(rec.layer).__name__ if rec.layer is not None else "Program",
            depth=rec.depth, called=rec.calls > 0, calls=rec.calls,
            input_shape=rec.input_shapes, output_shape=rec.output_shapes,
            params=own.params if own else rec.params,
            trainable_params=own.trainable if own else rec.trainable_params,
            cost=rec.cost, counted_by=rec.counted_by,
            ops={k: {"calls": v.calls, "macs": v.cost.macs, "flops": v.cost.flops} for k, v in rec.ops.items()},
            unknown_ops=dict(rec.unknown_ops), zero_ops=dict(rec.zero_ops), seconds=rec.seconds)
        nodes[id(rec)] = node
        if rec.parent is not None:
            nodes[id(rec.parent)].children.append(node)
    root = nodes[id(records[0])]
    for node in reversed(list(root.walk())):  # a container whose children ran took part
        if not node.called and any(c.called for c in node.children):
            node.called = True
    root._fill_totals()
    result = ProfileResult(root=root, inputs=list(collection.inputs), mode=collection.mode)
    result.notes.extend(collection.inexact + collection.notes)
    result.inexact.extend(collection.inexact)
    if collection.model is not None:
        from ..llm.moe import moe_note, moe_structure
        result.moe = moe_structure(collection.model)
        if result.moe:
            result.notes.append(moe_note(result.moe))
    return result
