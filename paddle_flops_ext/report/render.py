"""Renderers: table (prettytable), JSON, CSV, Markdown. They only read a
:class:`~paddle_flops_ext.report.result.ProfileResult`."""
from __future__ import annotations

import csv
import io
import json

from prettytable import PrettyTable

_UNITS = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"))


def human(n: float, digits: int = 2) -> str:
    """4089184256 -> '4.09 G'; small numbers stay exact."""
    n = float(n)
    for scale, unit in _UNITS:
        if abs(n) >= scale:
            return f"{n / scale:.{digits}f} {unit}"
    return f"{int(n)}" if n == int(n) else f"{n:.{digits}f}"


def _shape(shapes) -> str:
    if not shapes:
        return "-"
    if len(shapes) == 1:
        return str(list(shapes[0]))
    return ", ".join(str(list(s)) for s in shapes)


def _rows(result, depth):
    """(node, use subtotal) pairs to show. depth=None: every layer that does
    work or holds parameters, own counts. depth=k: the tree down to depth k,
    subtotals for the deepest shown level."""
    if depth is None:
        for n in result.root.walk():
            c = n.cost
            if n.is_leaf or c.macs or c.flops or c.paddle_flops or n.params or n.unknown_ops:
                if n.name == "" and not (c.flops or n.params or n.unknown_ops) and n.children:
                    continue
                yield n, False
        return
    def visit(n):
        yield n, True
        if n.depth < depth:
            for ch in n.children:
                yield from visit(ch)
    yield from visit(result.root)


def _row_values(node, subtotal):
    cost = node.total_cost if subtotal else node.cost
    params = node.total_params if subtotal else node.params
    return cost, params


def render_table(result, depth=None) -> str:
    hierarchical = depth is not None
    t = PrettyTable()
    t.field_names = ["Layer", "Type", "Input Shape", "Output Shape", "Params", "MACs", "FLOPs"]
    for col in ("Params", "MACs", "FLOPs"):
        t.align[col] = "r"
    t.align["Layer"] = "l"
    for node, sub in _rows(result, depth):
        cost, params = _row_values(node, sub)
        label = node.display_name
        if hierarchical:
            label = "  " * node.depth + (node.name.rsplit(".", 1)[-1] if node.name else node.type)
        if not node.called:
            label += " (not called)"
        t.add_row([label, node.type, _shape(node.input_shape), _shape(node.output_shape),
                   human(params), human(cost.macs), human(cost.flops)])
    lines = [t.get_string()]
    lines.append(
        f"Total MACs: {human(result.macs)} ({result.macs:,})   "
        f"FLOPs: {human(result.flops)} ({result.flops:,})   "
        f"paddle.flops: {human(result.paddle_flops)} ({result.paddle_flops:,})")
    lines.append(
        f"Total params: {human(result.params)} ({result.params:,})   "
        f"trainable: {human(result.trainable_params)} ({result.trainable_params:,})   "
        f"non-trainable: {result.params - result.trainable_params:,}")
    unc = result.uncounted
    if unc:
        lines.append("Uncounted (ran, no formula): " + ", ".join(
            f"{e['name']} x{e['calls']} in {', '.join(e['layers'][:3])}{'...' if len(e['layers']) > 3 else ''}"
            for e in unc))
    nc = result.not_called
    if nc:
        lines.append(f"Not called in forward (parameters still counted): {', '.join(nc[:10])}"
                     + (f" and {len(nc) - 10} more" if len(nc) > 10 else ""))
    for note in result.notes:
        lines.append(f"Note: {note}")
    return "\n".join(lines)


def _layer_dict(n) -> dict:
    return {
        "name": n.name,
        "type": n.type,
        "depth": n.depth,
        "called": n.called,
        "calls": n.calls,
        "input_shape": [list(s) for s in n.input_shape],
        "output_shape": [list(s) for s in n.output_shape],
        "params": n.params,
        "trainable_params": n.trainable_params,
        "macs": n.cost.macs,
        "flops": n.cost.flops,
        "paddle_flops": n.cost.paddle_flops,
        "counted_by": n.counted_by,
        "ops": {k: dict(v) for k, v in n.ops.items()},
        "subtotal": {"macs": n.total_cost.macs, "flops": n.total_cost.flops,
                     "paddle_flops": n.total_cost.paddle_flops, "params": n.total_params},
    }


def to_dict(result) -> dict:
    """Layer rows hold *own* counts (they sum to the totals); ``subtotal``
    holds the layer's whole subtree."""
    return {
        "total": {"macs": result.macs, "flops": result.flops, "params": result.params,
                  "trainable_params": result.trainable_params, "paddle_flops": result.paddle_flops},
        "mode": result.mode,
        "inputs": [list(s) for s in result.inputs],
        "layers": [_layer_dict(n) for n in result.root.walk()],
        "uncounted": result.uncounted,
        "not_called": result.not_called,
        "notes": list(result.notes),
    }


def render_json(result, indent=2) -> str:
    return json.dumps(to_dict(result), indent=indent)


CSV_COLUMNS = ["name", "type", "depth", "calls", "input_shape", "output_shape",
               "params", "trainable_params", "macs", "flops", "paddle_flops", "counted_by"]


def render_csv(result) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for row in to_dict(result)["layers"]:
        w.writerow([json.dumps(row[c]) if isinstance(row[c], list) else row[c] for c in CSV_COLUMNS])
    return buf.getvalue()


def render_markdown(result, depth=None) -> str:
    lines = ["| Layer | Type | Output Shape | Params | MACs | FLOPs |", "|---|---|---|---:|---:|---:|"]
    for node, sub in _rows(result, depth):
        cost, params = _row_values(node, sub)
        label = ("&nbsp;&nbsp;" * node.depth if depth is not None else "") + f"`{node.display_name}`"
        lines.append(f"| {label} | {node.type} | {_shape(node.output_shape)} | {human(params)} | "
                     f"{human(cost.macs)} | {human(cost.flops)} |")
    lines.append(f"| **Total** | | | **{human(result.params)}** | **{human(result.macs)}** | "
                 f"**{human(result.flops)}** |")
    return "\n".join(lines)
