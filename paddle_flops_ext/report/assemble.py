"""The one place a :class:`~paddle_flops_ext.report.result.ProfileResult` is
built: from what an engine returns (a
:class:`~paddle_flops_ext.collect.records.Collection`, and for a training
step its :class:`~paddle_flops_ext.collect.records.TrainingRecords`), with
the parameters each layer owns, the reconciliation with what ``paddle.flops``
would print, training work and memory, and the mixture-of-experts structure.
Nothing is added to a result after this returns.
"""
from __future__ import annotations

from operator import attrgetter

from ..collect.params import parameter_counts
from ..collect.records import Collection, TrainingRecords
from ..estimates.memory import training_memory
from ..estimates.moe import moe_structure
from .render import human, human_params
from .result import LayerNode, ProfileResult, TrainingWork


def assemble(collection: Collection, training: TrainingRecords | None = None) -> ProfileResult:
    """The complete result of one profile, for every mode: the tree of
    :class:`LayerNode` from the engine's records plus the parameters each
    layer owns (a layer counts as called if it or any layer below it ran: a
    ``LayerList`` is iterated, never called); with ``training``, each
    layer's backward, optimizer step and recomputed forward, and the step's
    memory (else inference memory, derived on first use)."""
    result = _counted(collection)
    if training is not None:
        _add_training(result, training)
    return result


def moe_note(moe: dict) -> str:
    """The line every report format carries for an MoE model."""
    return (f"mixture of experts: {len(moe['moe_layers'])} layers of {moe['experts']} routed experts, top-"
            f"{moe['top_k']}; active parameters per token {human_params(moe['active_params'], True)} "
            f"({moe['active_params']:,}) of {human_params(moe['params'], True)} (shared parts + "
            f"{moe['top_k']} experts); "
            f"expert MACs are priced by the tokens routed (eager: as routed; traced zoo MoE: the N x k "
            f"token-slots split evenly over the experts, the expected routing)"
            + ("" if not moe.get("stacked_layers") else
               f"; {len(moe['stacked_layers'])} layer(s) keep their experts as stacked [E, ...] weights: "
               f"MACs are what the forward ran (the routed share where it routes; every expert on every "
               f"token where it runs them densely, as PaddleFormers' GPT-OSS does in eval)"))


def _with_repeats(rec, hooked: int) -> dict:
    corrections = dict(rec.corrections) if rec.corrections else {}
    if hooked > 1 and rec.paddle_reported:
        corrections["repeated"] = -(hooked - 1) * rec.paddle_reported
    return corrections


def _hook_multiplicity(model) -> dict[int, int]:
    """How many hooks paddle.flops puts on each layer: ``Layer.apply`` visits a
    layer once per distinct parent path, so a layer reachable under k names
    is hooked (and counted) k times."""
    order, seen, stack = [], set(), [model]
    while stack:  # parents before children (DFS post-order, reversed)
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        order.append(layer)
        stack.extend(s for s in layer._sub_layers.values() if s is not None)
    parents: dict[int, list] = {}
    for layer in order:
        for child in dict.fromkeys(s for s in layer._sub_layers.values() if s is not None):
            parents.setdefault(id(child), []).append(layer)
    paths: dict[int, int] = {}

    def count(layer) -> int:
        key = id(layer)
        if key not in paths:
            ps = parents.get(key)
            paths[key] = 1 if not ps else sum(count(p) for p in ps)
        return paths[key]

    for layer in order:
        count(layer)
    return paths


def _counted(collection: Collection) -> ProfileResult:
    """The result of a profile, for every mode: the tree of
    :class:`LayerNode` from an engine's :class:`~paddle_flops_ext.collect.records.Collection`
    (records with their parents, shapes, costs and ops) plus the parameters
    each layer owns. A layer counts as called if it or any layer below it
    ran (a ``LayerList`` is iterated, never called)."""
    records = collection.records
    model = collection.model
    if model is not None:
        counts = collection.parameters or parameter_counts([r.layer for r in records])
        owned = zip(records, counts.params, counts.trainable, counts.held)
    else:   # a bare program: its records carry their parameters
        owned = ((r, r.params, r.trainable_params, 0) for r in records)
    slots = sum(map(len, map(attrgetter("_sub_layers"), (r.layer for r in records)))) if model is not None else 0
    shared = slots != len(records) - 1   # some layer sits in two places (or a slot is None)
    hooks = _hook_multiplicity(model) if model is not None and shared else {}
    nodes: dict[int, LayerNode] = {}
    new_node = LayerNode.__new__
    for rec, params, trainable, held in owned:
        layer = rec.layer
        repeats = hooks.get(id(layer), 1) if hooks else 1
        parent = nodes[id(rec.parent)] if rec.parent is not None else None
        # Filled field by field (no keyword binding of 19 arguments): one
        # node per layer on every profile; the fields are LayerNode's.
        node = new_node(LayerNode)
        node.name = rec.path
        node.type = type(layer).__name__ if layer is not None else "Program"
        node.depth = 0 if parent is None else parent.depth + 1
        node.called = rec.calls > 0
        node.calls = rec.calls
        node.input_shape = rec.input_shapes
        node.output_shape = rec.output_shapes
        node.params = params
        node.trainable_params = trainable
        node.cost = rec.cost
        node.counted_by = rec.counted_by
        node.ops = {k: {"calls": v.calls, "macs": v.cost.macs, "flops": v.cost.flops}
                    for k, v in rec.ops.items()} if rec.ops else {}
        node.unknown_ops = dict(rec.unknown_ops)
        node.zero_ops = dict(rec.zero_ops)
        node.seconds = rec.seconds
        node.paddle_reported = rec.paddle_reported * repeats
        node.params_reported = held if rec.calls and layer is not None and not layer._sub_layers else 0
        node.corrections = _with_repeats(rec, repeats) if rec.corrections or repeats > 1 else {}
        node.children = []
        node.training_work = None
        node._total = None
        nodes[id(rec)] = node
        if parent is not None:
            parent.children.append(node)
    root = nodes[id(records[0])]
    order = list(root.walk())
    for node in reversed(order):  # a container whose children ran took part
        if not node.called and node.children:
            node.called = any(map(attrgetter("called"), node.children))
    root._fill_totals(order)
    result = ProfileResult(root=root, inputs=list(collection.inputs), mode=collection.mode)
    result.notes.extend(collection.inexact + collection.notes)
    result.inexact.extend(collection.inexact)
    if model is not None:
        result._layers = [r.layer for r in records]
        result.moe = moe_structure(model)
        if result.moe:
            result.notes.append(moe_note(result.moe))
    return result


def _add_training(result: ProfileResult, training: TrainingRecords) -> None:
    """Put a training step's records on the result's layer nodes (by dotted
    path), and its memory on the result."""
    result.training = True
    result.optimizer = training.optimizer
    result.memory = training_memory(training.step, training.optimizer, training.amp)
    nodes = {n.name: n for n in result.root.walk()}
    for path, lt in training.per_layer.items():
        node = nodes.get(path, result.root)
        work = node.training_work
        if work is None:
            work = node.training_work = TrainingWork()
        work.backward = work.backward + lt.backward
        work.optimizer_step = work.optimizer_step + lt.optimizer
        work.recompute = work.recompute + lt.recompute
        for op, stat in lt.backward_ops.items():
            mine = work.backward_ops.setdefault(op, {"calls": 0, "macs": 0, "flops": 0})
            for k in mine:
                mine[k] += stat[k]
        for op, calls in lt.uncounted.items():
            work.uncounted_backward[op] = work.uncounted_backward.get(op, 0) + calls
    result.notes.extend(training.notes)
