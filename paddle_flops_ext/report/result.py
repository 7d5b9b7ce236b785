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

    # subtree totals ----------------------------------------------------
    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

    @property
    def total_cost(self) -> Cost:
        total = ZERO
        for n in self.walk():
            total = total + n.cost
        return total

    @property
    def total_params(self) -> int:
        return sum(n.params for n in self.walk())

    @property
    def total_trainable_params(self) -> int:
        return sum(n.trainable_params for n in self.walk())

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
    notes: list = field(default_factory=list)

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


def result_from_records(records, owners, inputs, mode="eager", count_functional=True) -> "ProfileResult":
    """The tree of :class:`LayerNode` from an engine's per-layer records
    (path, layer, calls, shapes, cost, ops) and the parameter owners."""
    nodes: dict[str, LayerNode] = {}
    root = None
    for rec in records:
        depth = 0 if rec.path == "" else rec.path.count(".") + 1
        own = owners.get(id(rec.layer))
        counted_by = rec.counted_by
        is_leaf = not rec.layer._sub_layers
        if counted_by == "ops" and rec.calls and is_leaf and not count_functional:
            counted_by = "none"
        node = LayerNode(
            name=rec.path, type=type(rec.layer).__name__, depth=depth,
            called=rec.calls > 0, calls=rec.calls,
            input_shape=rec.input_shapes, output_shape=rec.output_shapes,
            params=own.params if own else 0, trainable_params=own.trainable if own else 0,
            cost=rec.cost, counted_by=counted_by,
            ops={k: {"calls": v.calls, "macs": v.cost.macs, "flops": v.cost.flops} for k, v in rec.ops.items()},
            unknown_ops=dict(rec.unknown_ops), zero_ops=dict(rec.zero_ops), seconds=rec.seconds)
        nodes[rec.path] = node
        if rec.path == "":
            root = node
        else:
            parent = rec.path.rsplit(".", 1)[0] if "." in rec.path else ""
            nodes[parent].children.append(node)
    return ProfileResult(root=root, inputs=inputs, mode=mode)
