"""Renderers: table (prettytable), Markdown, CSV, JSON, and the one
formatter per unit. Each renderer reads one
:class:`~paddle_flops_ext.report.content.Content` (a profile view built by
:mod:`.views`, a generation result, a benchmark table) and only formats it:
the same rows, footer and notes in every format. The table and Markdown show
human units (K/M/G/T, KiB/MiB/GiB, ms); CSV and JSON exact values.
"""
from __future__ import annotations

import csv
import io
import json

from prettytable import PrettyTable

from .content import Column, Content

_UNITS = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"))
_BINARY = ((2 ** 40, "TiB"), (2 ** 30, "GiB"), (2 ** 20, "MiB"), (2 ** 10, "KiB"))


# --------------------------------------------------------------------------- one formatter per kind

def human(n: float, digits: int = 2) -> str:
    """A count: 4089184256 -> '4.09 G'; small numbers stay exact."""
    n = float(n)
    for scale, unit in _UNITS:
        if abs(n) >= scale:
            return f"{n / scale:.{digits}f} {unit}"
    return f"{int(n)}" if n == int(n) else f"{n:.{digits}f}"


def human_bytes(n, digits: int | None = None) -> str:
    """Bytes in binary units: ``digits`` decimals, or (``None``) three
    significant figures: 1536 -> '1.5 KiB'; under 1 KiB exact ('512 B')."""
    if n is None:
        return "-"
    for scale, unit in _BINARY:
        if abs(n) >= scale:
            v = n / scale
            return f"{v:.3g} {unit}" if digits is None else f"{v:.{digits}f} {unit}"
    return f"{float(n):g} B"


def milliseconds(s, digits: int = 3) -> str:
    """Seconds shown in milliseconds (no unit): 0.0123 -> '12.300'."""
    return "-" if s is None else f"{s * 1e3:,.{digits}f}"


def duration(s) -> str:
    """Seconds with the unit their size calls for: '12.3 ms', '34.29 s'."""
    if s is None:
        return "-"
    if s < 1:
        ms = s * 1e3
        return f"{ms:.3g} ms" if ms >= 0.001 else f"{ms:.2e} ms"
    return f"{s:,.2f} s"


def number(x, digits: int | None = 2, scale: float = 1.0) -> str:
    """``x * scale`` with ``digits`` decimals and thousands separators
    (integers exact); ``digits=None``: three significant figures (4.09, 0.301,
    17.6, 86.6; 1,000 and up whole)."""
    if x is None:
        return "-"
    if isinstance(x, int) and scale == 1 and digits in (0, None):
        return f"{x:,}"
    v = x * scale
    if digits is None:
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def percent(x, digits: int = 1, scale: float = 1.0) -> str:
    """A percentage (``scale=100`` for a fraction): 12.345 -> '12.3%'."""
    return "-" if x is None else f"{x * scale:.{digits}f}%"


def shape(shapes) -> str:
    if not shapes:
        return "-"
    return ", ".join(str(list(s)) for s in shapes)


def cell(value, column: Column) -> str:
    """One value as the table and Markdown show it: a string as it is,
    ``None`` (or ``""``) as ``-``, anything else by the column's kind."""
    kind = column.kind
    if kind == "shape":
        return shape(value)
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if kind == "count":
        return human(value, 2 if column.digits is None else column.digits)
    if kind == "bytes":
        return human_bytes(value * column.scale, column.digits)
    if kind == "seconds":
        return milliseconds(value, 3 if column.digits is None else column.digits)
    if kind == "duration":
        return duration(value)
    if kind == "number":
        return number(value, column.digits, column.scale)
    if kind == "percent":
        return percent(value, 1 if column.digits is None else column.digits, column.scale)
    return str(value)


# --------------------------------------------------------------------------- for people

def render_table(content: Content) -> str:
    t = PrettyTable()
    t.field_names = [c.header for c in content.columns]
    for c in content.columns:
        t.align[c.header] = "l" if c.kind == "text" else ("c" if c.kind == "shape" else "r")
    for row in content.rows:
        cells = [cell(content.value(row, c), c) for c in content.columns]
        cells[0] = "  " * content.level(row) + cells[0]
        t.add_row(cells)
    return "\n".join(([content.title] if content.title else []) + [t.get_string()] + content.footer_lines())


def render_markdown(content: Content) -> str:
    """A Markdown table; the footer and notes follow as lines with hard
    breaks; ``content.total`` is a bold last row."""
    cols = content.columns
    lines = [content.title, ""] if content.title else []
    lines += ["| " + " | ".join(c.header for c in cols) + " |",
              "|" + "|".join("---:" if c.numeric else "---" for c in cols) + "|"]
    for row in content.rows:
        cells = [cell(content.value(row, c), c) for c in cols]
        cells = [f"`{text}`" if c.code else text for c, text in zip(cols, cells)]
        cells[0] = "&nbsp;&nbsp;" * content.level(row) + cells[0]
        lines.append("| " + " | ".join(cells) + " |")
    if content.total is not None:
        lines.append("| " + " | ".join(f"**{cell(content.total[c.key], c)}**" if c.key in content.total else ""
                                       for c in cols) + " |")
    footer = content.footer_lines()
    if footer:
        lines.append("")
        lines.extend(f"{line}  " for line in footer)
    return "\n".join(lines)


# --------------------------------------------------------------------------- machine-readable

def render_csv(content: Content) -> str:
    """Exact values; lists as compact JSON."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=content.csv_header(), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for record in content.csv_records():
        w.writerow(record)
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


RENDERERS = {"table": render_table, "markdown": render_markdown, "csv": render_csv, "json": render_json}


class Renders:
    """``table()``, ``to_markdown()``, ``to_csv()``, ``to_json()`` and
    ``str()`` of what :meth:`content` builds, for every result that reports."""

    def content(self) -> Content:
        raise NotImplementedError

    def table(self) -> str:
        return render_table(self.content())

    def to_markdown(self) -> str:
        return render_markdown(self.content())

    def to_csv(self) -> str:
        return render_csv(self.content())

    def to_json(self, indent: int | None = 2) -> str:
        return render_json(self.content(), indent)

    def __str__(self) -> str:
        return self.table()
