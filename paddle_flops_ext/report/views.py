"""The ways of looking at one profile, each a :class:`Report` (a
:class:`~.content.ProfileContent` that renders itself):

- :func:`layers` - one row per layer that does work or holds parameters, its
  *own* counts (the rows sum to the totals); with ``depth`` the tree down to
  that depth, each row the *total* of its subtree, named by its full dotted
  path (pass it to ``ProfileResult.find``);
- :func:`by_type` - one row per layer type, the sum of those layers' own counts;
- :func:`by_operator` - one row per operation (``matmul``, ``add``, ...), and
  per layer type for layers counted by a formula as a whole (``Conv2D``).

Each takes ``top`` (keep the ``top`` largest rows by ``rank``) and ``rank``
(``"flops"``, ``"macs"`` or ``"params"``), which also picks the percentage
column. Counting happened before; views only select, group and sum.
"""
from __future__ import annotations


from ..formulas.registry import ZERO, Cost
from .content import (OWN, RANK_KEYS, SUMMARY_CSV_FIELDS, TOTAL, Column, Content, ProfileContent, Row, Totals,
                      UncountedWork)
from .render import Renders, human, human_bytes, human_params, render_csv


class Report(ProfileContent, Renders):
    """A view of a profile that renders itself: ``print()`` it, or
    ``.table()`` / ``.to_markdown()`` / ``.to_csv()`` / ``.to_json()``;
    ``.rows``, ``.to_dict()``."""

    def content(self) -> Report:
        return self

    def summary_csv(self) -> str:
        """The whole model's figures as CSV (``section,name,detail,value``,
        ``value`` an integer on every line): what the per-row CSV
        (``to_csv()``) leaves out."""
        return render_csv(Content(columns=[Column(k, k) for k in SUMMARY_CSV_FIELDS],
                                  rows=self.summary_records()))

_RANK_HEADER = {"flops": "FLOPs", "macs": "MACs", "params": "params"}
_COUNTED_AS = {"formula": "layer formula", "user": "user handler", "legacy": "user handler (total_ops)",
               "trace": "traced program", "none": "no formula"}


def _count_columns(counts: str, rank: str, with_params: bool = True) -> list[Column]:
    cols = [Column("params", f"Params ({counts})", "params", short="Params")] if with_params else []
    return cols + [Column("macs", f"MACs ({counts})", "count", short="MACs"),
                   Column("flops", f"FLOPs ({counts})", "count", short="FLOPs"),
                   Column("share", f"% of {_RANK_HEADER[rank]}", "percent", short="%", drop=5)]


def _check(top, rank) -> None:
    if rank not in RANK_KEYS:
        raise ValueError(f"rank must be one of {', '.join(RANK_KEYS)}, got {rank!r}")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise ValueError(f"top must be a positive int, got {top!r}")


def _totals(result) -> Totals:
    return Totals(macs=result.macs, flops=result.flops, paddle_flops=result.paddle_flops,
                  params=result.params, trainable_params=result.trainable_params,
                  paddle_flops_reported=result.paddle_flops_reported,
                  paddle_params_reported=result.paddle_params_reported,
                  active_params=result.active_params if result.moe else None,
                  comm_bytes=result.comm_bytes or None)


def _content(result, view, counts, legend, columns, rows, top, rank, depth=None,
             language_model: bool = False) -> Report:
    totals = _totals(result)
    whole = totals.value(rank)
    for row in rows:
        value = getattr(row, rank)
        row.share = None if value is None else round(100.0 * value / whole if whole else 0.0, 4)
    left_out = 0
    if top is not None:
        ranked = sorted(rows, key=lambda r: -(getattr(r, rank) or 0))
        rows, left_out = ranked[:top], max(len(ranked) - top, 0)
    content = Report(
        view=view, counts=counts, legend=legend, columns=columns, rows=rows, totals=totals,
        ranked_by=rank, mode=result.mode, inputs=list(result.inputs), depth=depth, top=top,
        rows_left_out=left_out,
        uncounted=[UncountedWork(u["name"], u["kind"], u["calls"], tuple(u["layers"])) for u in result.uncounted],
        not_called=list(result.not_called), notes=list(result.notes),
        reconciliation=result.reconciliation,
        training=_training_totals(result), memory=getattr(result, "memory", None), language_model=language_model,
        total={"name": "Total", "params": totals.params, "macs": totals.macs, "flops": totals.flops,
               "share": "100%"})
    content.footer = _footer(content)
    return content


# --------------------------------------------------------------------------- the footer every format shows

def _footer(content: ProfileContent) -> list[str]:
    """Totals, the legend, what paddle.flops prints, rows left out, uncounted
    work, layers not called, training and memory (the notes follow)."""
    t = content.totals

    def params(n: int) -> str:
        return human_params(n, content.language_model)
    lines = [
        f"Total MACs: {human(t.macs)} ({t.macs:,})   FLOPs: {human(t.flops)} ({t.flops:,})   "
        f"paddle.flops corrected: {human(t.paddle_flops)} ({t.paddle_flops:,})",
        f"Total params: {params(t.params)} ({t.params:,})   "
        f"trainable: {params(t.trainable_params)} ({t.trainable_params:,})   "
        f"non-trainable: {t.non_trainable_params:,}"
        + ("" if t.active_params is None else f"   active per token: {params(t.active_params)} "
                                              f"({t.active_params:,})"),
        f"Rows: {content.legend}",
    ]
    if t.comm_bytes:
        lines.append(f"Communication: this rank sends {human_bytes(t.comm_bytes)} ({t.comm_bytes:,} bytes) in the "
                     f"forward's collectives (ring algorithm; MACs and FLOPs leave them out)")
    lines += [
        f"paddle.flops itself prints: Total Flops {t.paddle_flops_reported:,}   Total Params "
        f"{t.paddle_params_reported:,}" + ("" if not content.reconciliation else "; from there: " + "; ".join(
            f"{r['figure']} {r['delta']:+,} {r['line']}" for r in content.reconciliation)),
    ]
    if content.rows_left_out:
        lines.append(f"Showing the top {len(content.rows)} rows by {content.ranked_by}; "
                     f"{content.rows_left_out} more not shown.")
    if content.uncounted:
        lines.append("Uncounted (ran, no formula): " + ", ".join(
            f"{u.name} x{u.calls} in {', '.join(u.layers[:3])}{'...' if len(u.layers) > 3 else ''}"
            for u in content.uncounted))
    if content.not_called:
        shown = content.not_called[:10]
        more = len(content.not_called) - len(shown)
        lines.append(f"Not called in forward (parameters still counted): {', '.join(shown)}"
                     + (f" and {more} more" if more else ""))
    return lines + _training_lines(content)


def _training_lines(content: ProfileContent) -> list[str]:
    """The footer lines for training figures and memory."""
    lines = []
    t = content.training
    if t:
        lines.append(
            f"Training step: forward {human(t['forward_flops'])} + backward {human(t['backward_flops'])} "
            f"(MACs {t['backward_macs']:,}) + optimizer step {human(t['optimizer_flops'])}"
            f"{' (' + t['optimizer'] + ')' if t.get('optimizer') else ''} = training FLOPs "
            f"{human(t['training_flops'])} ({t['training_flops']:,}); hardware FLOPs (with "
            f"recomputation) {human(t['hardware_flops'])} ({t['hardware_flops']:,})")
        if t.get("uncounted_backward"):
            lines.append("Uncounted backward (no gradient formula): " + ", ".join(
                f"{u['name']} x{u['calls']}" for u in t["uncounted_backward"]))
    m = content.memory
    if m:
        def part(key):
            by = m["by_dtype"].get(key) or {}
            detail = ", ".join(f"{d} {human_bytes(b, 2)}" for d, b in sorted(by.items()))
            return f"{key.replace('_', ' ')} {human_bytes(m[key], 2)}" + (f" [{detail}]" if len(by) > 1 else "")
        keys = ("parameters", "gradients", "optimizer_states", "activations") if t else ("parameters",)
        lines.append(("Memory: " if t else "Memory (inference): ") + "   ".join(part(k) for k in keys)
                     + f"   peak {human_bytes(m['peak'], 2)} ({m['peak']:,} bytes"
                     + (")" if t else "; parameters + the largest input + output of a layer)")
                     + (f"   amp {m['amp']}" if m.get("amp") else ""))
    return lines


def _training_totals(result) -> dict | None:
    if not getattr(result, "training", False):
        return None
    fwd, bwd, opt = result.forward, result.backward, result.optimizer_step
    return {"forward_macs": fwd.macs, "forward_flops": fwd.flops, "backward_macs": bwd.macs,
            "backward_flops": bwd.flops, "optimizer_flops": opt.flops, "optimizer": result.optimizer,
            "training_flops": result.training_flops, "hardware_flops": result.hardware_flops,
            "recomputed_flops": result.recomputed_forward.flops,
            "uncounted_backward": result.uncounted_backward}


_TRAINING_COLUMNS = [Column("backward_macs", "Bwd MACs", "count", drop=7),
                     Column("backward_flops", "Bwd FLOPs", "count"),
                     Column("optimizer_flops", "Optim FLOPs", "count", drop=6)]


def _with_training(result, columns: list, rows: list, costs) -> list:
    """Training columns and values: ``costs(row) -> (backward Cost, optimizer Cost)``."""
    if not getattr(result, "training", False):
        return columns
    for row in rows:
        bwd, opt = costs(row)
        row.backward_macs, row.backward_flops, row.optimizer_flops = bwd.macs, bwd.flops, opt.flops
    at = next((i for i, c in enumerate(columns) if c.key == "share"), len(columns))
    return columns[:at] + _TRAINING_COLUMNS + columns[at:]


def _timed(result) -> bool:
    return any(n.seconds for n in result.root.walk())


# --------------------------------------------------------------------------- per layer

def _shows_in_flat_view(node) -> bool:
    """Leaves always; containers when they do work of their own or hold
    parameters (the model itself only when it does)."""
    c = node.cost
    if node.is_leaf:
        return True
    if node.backward.flops:
        return True
    if node.name == "":
        return bool(c.flops or node.params or node.unknown_ops)
    return bool(c.macs or c.flops or c.paddle_flops or node.params or node.unknown_ops)


def _layer_row(node, subtree: bool, timed: bool) -> Row:
    cost = node.total_cost if subtree else node.cost
    return Row(
        name=node.name, type=node.type, depth=node.depth, called=node.called, calls=node.calls,
        input_shape=[list(s) for s in node.input_shape], output_shape=[list(s) for s in node.output_shape],
        params=node.total_params if subtree else node.params,
        trainable_params=node.total_trainable_params if subtree else node.trainable_params,
        macs=cost.macs, flops=cost.flops, paddle_flops=cost.paddle_flops,
        seconds=round(node.seconds, 6) if timed else None, counted_by=node.counted_by,
        ops=None if subtree else {k: dict(v) for k, v in node.ops.items()})


def layers(result, depth: int | None = None, top: int | None = None, rank: str = "flops",
           language_model: bool = False) -> Report:
    _check(top, rank)
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise ValueError(f"depth must be an int >= 0, got {depth!r}")
    timed = _timed(result)
    if depth is None:
        counts = OWN
        legend = "each layer's own work; its sub-layers count in their own rows (rows sum to the totals)."
        nodes = [n for n in result.root.walk() if _shows_in_flat_view(n)]
    else:
        counts = TOTAL
        legend = (f"the tree down to depth {depth}; each row is the total of the layer and "
                  f"everything below it.")
        nodes = [n for n in result.root.walk() if n.depth <= depth]
    rows = [_layer_row(n, subtree=depth is not None, timed=timed) for n in nodes]
    by_row = {id(r): n for r, n in zip(rows, nodes)}
    subtree = depth is not None
    columns = [Column("name", "Layer", "text", code=True), Column("type", "Type", "text", drop=4),
               Column("input_shape", "Input shape", "shape", drop=9),
               Column("output_shape", "Output shape", "shape", drop=8)]
    columns += _count_columns(counts, rank)
    columns = _with_training(result, columns, rows, lambda r: (
        (by_row[id(r)].subtree("backward"), by_row[id(r)].subtree("optimizer_step")) if subtree
        else (by_row[id(r)].backward, by_row[id(r)].optimizer_step)))
    if timed:
        columns.append(Column("seconds", "Time ms (incl. sub-layers)", "seconds", short="ms (incl.)"))
    return _content(result, "layers", counts, legend, columns, rows, top, rank, depth, language_model)


# --------------------------------------------------------------------------- per type

def by_type(result, top: int | None = None, rank: str = "flops", language_model: bool = False) -> Report:
    _check(top, rank)
    rows: dict[str, Row] = {}
    for node in result.root.walk():
        row = rows.setdefault(node.type, Row(name=node.type, layers=0, params=0, trainable_params=0,
                                             paddle_flops=0))
        row.layers += 1
        row.calls += node.calls
        row.params += node.params
        row.trainable_params += node.trainable_params
        row.macs += node.cost.macs
        row.flops += node.cost.flops
        row.paddle_flops += node.cost.paddle_flops
    ordered = sorted(rows.values(), key=lambda r: (-r.flops, -(r.params or 0), r.name))
    columns = [Column("name", "Layer type", "text", code=True), Column("layers", "Layers", "count", drop=2),
               Column("calls", "Calls", "count", drop=3)] + _count_columns(OWN, rank)
    if getattr(result, "training", False):
        sums: dict = {}
        for node in result.root.walk():
            bwd, opt = sums.get(node.type, (None, None))
            sums[node.type] = (node.backward if bwd is None else bwd + node.backward,
                               node.optimizer_step if opt is None else opt + node.optimizer_step)
        columns = _with_training(result, columns, ordered, lambda r: sums[r.name])
    legend = "per layer type, the sum of those layers' own work (rows sum to the totals)."
    return _content(result, "types", OWN, legend, columns, ordered, top, rank, language_model=language_model)


# --------------------------------------------------------------------------- per operation

def by_operator(result, top: int | None = None, rank: str = "flops", language_model: bool = False) -> Report:
    _check(top, rank)
    if rank == "params":
        raise ValueError("the per-operation view has no parameters; rank it by 'flops' or 'macs'")
    rows: dict[tuple, Row] = {}

    def add(name, counted_as, calls, macs, flops):
        row = rows.setdefault((name, counted_as), Row(name=name, type=counted_as))
        row.calls += calls
        row.macs += macs
        row.flops += flops

    for node in result.root.walk():
        for op, stats in node.ops.items():
            add(op, "operation", stats["calls"], stats["macs"], stats["flops"])
        for op, calls in node.zero_ops.items():
            add(op, "operation (free)", calls, 0, 0)
        for op, calls in node.unknown_ops.items():
            add(op, "no formula", calls, 0, 0)
        rest_macs = node.cost.macs - sum(s["macs"] for s in node.ops.values())
        rest_flops = node.cost.flops - sum(s["flops"] for s in node.ops.values())
        whole_layer = node.counted_by not in ("ops",) and node.called
        if whole_layer or rest_macs or rest_flops:
            add(node.type, _COUNTED_AS.get(node.counted_by, node.counted_by), node.calls, rest_macs, rest_flops)
    if getattr(result, "training", False):   # backward per forward op; the optimizer step on its own row
        bwd: dict = {}
        for node in result.root.walk():
            for op, st in node.backward_ops.items():
                bwd[op] = bwd.get(op, ZERO) + Cost(st["macs"], st["flops"], 0)
                if not any(k[0] == op for k in rows):
                    rows[(op, "operation")] = Row(name=op, type="operation")
        opt = result.optimizer_step
        if opt.flops:
            rows[(result.optimizer or "optimizer", "optimizer step")] = Row(name=result.optimizer or "optimizer",
                                                                            type="optimizer step")
    ordered = sorted(rows.values(), key=lambda r: (-r.flops, -r.calls, r.name))
    columns = [Column("name", "Operation", "text", code=True), Column("type", "Counted as", "text", drop=4),
               Column("calls", "Calls", "count", drop=3)] + _count_columns(OWN, rank, with_params=False)
    if getattr(result, "training", False):
        first: set = set()

        def op_costs(r):
            if r.type == "optimizer step":
                return ZERO, opt
            if r.name in first:   # one row per op carries its backward
                return ZERO, ZERO
            first.add(r.name)
            return bwd.get(r.name, ZERO), ZERO
        columns = _with_training(result, columns, ordered, op_costs)
    legend = ("per operation (layers counted by a formula as a whole appear under their type); "
              "rows sum to the totals.")
    return _content(result, "ops", OWN, legend, columns, ordered, top, rank, language_model=language_model)


VIEWS = {"layer": layers, "type": by_type, "op": by_operator}


def report(result, by: str = "layer", depth: int | None = None, top: int | None = None,
           rank: str = "flops", language_model: bool = False) -> Report:
    """The content the CLI prints: ``by`` is ``"layer"``, ``"type"`` or ``"op"``;
    ``depth`` applies to the per-layer view only; ``language_model``:
    parameter counts in M/B."""
    if by not in VIEWS:
        raise ValueError(f"by must be one of {', '.join(VIEWS)}, got {by!r}")
    if by == "layer":
        return layers(result, depth=depth, top=top, rank=rank, language_model=language_model)
    if depth is not None:
        raise ValueError("depth applies to the per-layer view only (by='layer')")
    return VIEWS[by](result, top=top, rank=rank, language_model=language_model)


def compact_depth(result, max_rows: int = 40) -> int | None:
    """The depth a terminal shows by default: ``None`` (every layer, own
    work) when the per-layer view has at most ``max_rows`` rows, else the
    deepest layer-tree depth (at least 1) whose rows fit in ``max_rows``."""
    nodes = list(result.root.walk())
    if sum(1 for n in nodes if _shows_in_flat_view(n)) <= max_rows:
        return None
    deepest = max(n.depth for n in nodes)
    depth = 1
    while depth < deepest and sum(1 for n in nodes if n.depth <= depth + 1) <= max_rows:
        depth += 1
    return depth
