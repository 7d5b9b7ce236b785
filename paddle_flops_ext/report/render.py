"""Renderers: table (prettytable), Markdown, CSV, JSON. Each reads one
:class:`~paddle_flops_ext.report.content.Content` (built by
:mod:`.views`) and only formats it: the same rows, totals, uncounted work,
not-called layers and notes in every format. The table and Markdown show
human units (K/M/G/T); CSV and JSON exact integers.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import fields

from prettytable import PrettyTable

from .content import Column, Content, Row

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
    return ", ".join(str(list(s)) for s in shapes)


def _indent(row: Row, content: Content, unit: str) -> str:
    """The depth view is a tree: each level indented by ``unit``."""
    return unit * row.depth if content.depth is not None and row.depth else ""


def _cell(row: Row, column: Column) -> str:
    """A value as the table and Markdown show it."""
    value = getattr(row, column.key)
    if column.key == "name":
        return row.label + (" (not called)" if row.called is False else "")
    if value is None:
        return "-"
    if column.kind == "shape":
        return _shape(value)
    if column.kind == "count":
        return human(value)
    if column.kind == "percent":
        return f"{value:.1f}%"
    if column.kind == "seconds":
        return f"{value * 1e3:.3f}"
    return str(value)


def render_table(content: Content) -> str:
    t = PrettyTable()
    t.field_names = [c.header for c in content.columns]
    for c in content.columns:
        t.align[c.header] = "l" if c.kind == "text" else ("c" if c.kind == "shape" else "r")
    for row in content.rows:
        cells = [_cell(row, c) for c in content.columns]
        cells[0] = _indent(row, content, "  ") + cells[0]
        t.add_row(cells)
    return "\n".join([t.get_string()] + content.footer_lines())


def render_markdown(content: Content) -> str:
    cols = content.columns
    lines = ["| " + " | ".join(c.header for c in cols) + " |",
             "|" + "|".join("---" if c.kind in ("text", "shape") else "---:" for c in cols) + "|"]
    for row in content.rows:
        cells = [_cell(row, c) for c in cols]
        cells[0] = _indent(row, content, "&nbsp;&nbsp;") + f"`{cells[0]}`"
        lines.append("| " + " | ".join(cells) + " |")
    totals = {"name": "**Total**", "params": f"**{human(content.totals.params)}**",
              "macs": f"**{human(content.totals.macs)}**", "flops": f"**{human(content.totals.flops)}**",
              "share": "**100%**"}
    lines.append("| " + " | ".join(totals.get(c.key, "") for c in cols) + " |")
    lines.append("")
    lines.extend(f"{line}  " for line in content.footer_lines())
    return "\n".join(lines)


# --------------------------------------------------------------------------- machine-readable

# CSV: the rows as they are, then one line per total / uncounted operation /
# layer not called / note, told apart by the first column ("row").
CSV_ROW_KINDS = ("layer", "type", "op", "total", "uncounted", "not_called", "note", "reconciliation",
                 "training", "memory")
_CSV_ROW_KIND = {"layers": "layer", "types": "type", "ops": "op"}


def _csv_columns(content: Content) -> list[str]:
    """Row fields that some row has (``ops`` stays in JSON)."""
    present = {f.name for row in content.rows for f in fields(row)
               if getattr(row, f.name) is not None and f.name != "ops"}
    keys = [f.name for f in fields(Row) if f.name in present]
    for needed in ("name", "params", "trainable_params", "macs", "flops", "paddle_flops"):
        if needed not in keys:
            keys.append(needed)
    return keys


def render_csv(content: Content) -> str:
    keys = _csv_columns(content)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["row"] + keys + ["counts", "delta"], extrasaction="ignore",
                       lineterminator="\n")
    if content.memory:
        w.fieldnames = list(w.fieldnames) + ["bytes"]
    w.writeheader()
    kind = _CSV_ROW_KIND[content.view]
    for row in content.rows:
        record = {k: json.dumps(v, separators=(",", ":")) if isinstance(v, list) else v
                  for k, v in row.to_dict().items()}
        w.writerow({"row": kind, "counts": content.counts, **record})
    w.writerow({"row": "total", "name": "", "counts": "total", **content.totals.to_dict()})
    for u in content.uncounted:
        w.writerow({"row": "uncounted", "name": u.name, "type": u.kind, "calls": u.calls,
                    "macs": 0, "flops": 0})
    for name in content.not_called:
        w.writerow({"row": "not_called", "name": name, "called": False})
    for note in content.notes:
        w.writerow({"row": "note", "name": note})
    for r in content.reconciliation:
        w.writerow({"row": "reconciliation", "name": r["line"], "type": r["figure"], "delta": r["delta"]})
    if content.training:   # one line per figure: name = figure, flops (and macs) = value
        t = content.training
        for figure in ("forward", "backward"):
            w.writerow({"row": "training", "name": figure, "macs": t[f"{figure}_macs"], "flops": t[f"{figure}_flops"]})
        for figure, key in (("optimizer_step", "optimizer_flops"), ("training", "training_flops"),
                            ("hardware", "hardware_flops"), ("recomputed_forward", "recomputed_flops")):
            w.writerow({"row": "training", "name": figure, "type": t.get("optimizer") or "" if figure ==
                        "optimizer_step" else "", "flops": t[key]})
    if content.memory:     # one line per part and dtype: name = part, type = dtype, bytes
        m = content.memory
        for part in ("parameters", "gradients", "optimizer_states", "activations"):
            for dtype, n in sorted((m["by_dtype"].get(part) or {}).items()):
                w.writerow({"row": "memory", "name": part, "type": dtype, "bytes": n})
        w.writerow({"row": "memory", "name": "peak", "type": "", "bytes": m["peak"]})
    return buf.getvalue()


def render_json(content: Content, indent: int | None = 2) -> str:
    """One row per line (shapes stay on the row's line); ``indent=None``: all
    on one line."""
    doc = content.to_dict()
    if indent is None:
        return json.dumps(doc)
    pad = " " * indent
    entries = []
    for key, value in doc.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            items = (",\n" + pad * 2).join(json.dumps(v) for v in value)
            text = f"[\n{pad * 2}{items}\n{pad}]"
        else:
            text = json.dumps(value)
        entries.append(f"{pad}{json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(entries) + "\n}"
