"""Renderers: table (prettytable), Markdown, LaTeX, CSV, JSON, and the one
formatter per unit. Each renderer reads one
:class:`~paddle_flops_ext.report.content.Content` (a profile view built by
:mod:`.views`, a comparison, a generation result, a benchmark table) and only
formats it: the same rows, footer and notes in every format. The table,
Markdown and LaTeX show human units (counts K/M/G/T, a language model's
parameters M/B, bytes always binary KiB/MiB/GiB, times in ms or s); CSV and
JSON exact values.

The terminal table fits a width when given one (the CLI and ``str()`` /
``print()`` pass the terminal's, :func:`terminal_width`): headings first take their short form,
then columns are left out, highest ``Column.drop`` first (the footer names
them), then the first column's long names are shortened from the left
(``…block.3.mlp``) when that is enough, then the other columns from the
right; footer lines wrap at the width. Without a width (a file,
``table()``) nothing is left out.
"""
from __future__ import annotations

import csv
import io
import json
import shutil
import textwrap

from prettytable import PrettyTable

from .content import Column, Content

PROSE_WIDTH = 100    # LaTeX's comment lines (title, footer, notes) wrap at this width
_UNITS = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"))
_PARAM_UNITS = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))   # language models: billions as "B"
_BINARY = ((2 ** 40, "TiB"), (2 ** 30, "GiB"), (2 ** 20, "MiB"), (2 ** 10, "KiB"))


# --------------------------------------------------------------------------- one formatter per kind

def human(n: float, digits: int = 2) -> str:
    """A count: 4089184256 -> '4.09 G'; small numbers stay exact."""
    n = float(n)
    for scale, unit in _UNITS:
        if abs(n) >= scale:
            return f"{n / scale:.{digits}f} {unit}"
    return f"{int(n)}" if n == int(n) else f"{n:.{digits}f}"


def human_params(n: int, language_model: bool = False, digits: int = 2) -> str:
    """A parameter count: as :func:`human` (G for 1e9), or for a language
    model in the units its readers use: 405853388800 -> '405.85 B',
    7241732096 -> '7.24 B', 124439808 -> '124.44 M'."""
    if not language_model:
        return human(n, digits)
    for scale, unit in _PARAM_UNITS:
        if abs(n) >= scale:
            return f"{n / scale:.{digits}f} {unit}"
    return f"{int(n)}"


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


def cell(value, column: Column, language_model: bool = False) -> str:
    """One value as the table and Markdown show it: a string as it is,
    ``None`` (or ``""``) as ``-``, anything else by the column's kind
    (``params``: in B/M when ``language_model``)."""
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
    if kind == "params":
        return human_params(value, language_model, 2 if column.digits is None else column.digits)
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

def terminal_width() -> int:
    """The terminal's width in columns (``COLUMNS`` wins; 80 when unknown)."""
    return shutil.get_terminal_size((80, 24)).columns


def wrap_lines(lines: list[str], width: int | None) -> list[str]:
    """Each line wrapped at ``width`` (continuations indented two spaces; a
    word longer than the width, a path, stays whole); ``None``: as they are."""
    if not width:
        return list(lines)
    out = []
    for line in lines:
        out.extend(textwrap.wrap(line, width, subsequent_indent="  ", break_on_hyphens=False,
                                 break_long_words=False) or [""])
    return out


def _cells(content: Content, row) -> list[str]:
    cells = [cell(content.value(row, c), c, content.language_model) for c in content.columns]
    cells[0] = "  " * content.level(row) + cells[0]
    return cells


def _table_width(headers: list[str], rows: list[list[str]], keep: list[int]) -> int:
    """What prettytable draws: '| a | b |' with every column padded."""
    widths = [max([len(headers[i])] + [len(r[i]) for r in rows]) for i in keep]
    return sum(widths) + 3 * len(keep) + 1


def _shorten_left(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[len(text) - width + 1:]


_NAME_ROOM = 16    # the first column is not shortened below this


def _first_name_then_right_to_left(content, headers, rows, width, keep) -> list:
    """After the hinted columns: shorten the first column (``None``) when
    that alone makes the table fit, then leave out the other columns from
    the right (a table whose columns carry no hints still fits)."""
    rest = [i for i in reversed(keep) if i != 0 and not content.columns[i].drop]
    return [None] + rest


def _shorten_first(cols, headers, rows, keep, width) -> list:
    if not keep or keep[0] != 0 or cols[0].kind != "text":
        return rows
    first = max([len(headers[0])] + [len(r[0]) for r in rows])
    room = first - (_table_width(headers, rows, keep) - width)
    if room < max(_NAME_ROOM, len(headers[0])):
        return rows        # shortening alone would not make it fit: names stay whole
    return [[_shorten_left(r[0], room)] + r[1:] for r in rows]


def render_table(content: Content, width: int | None = None) -> str:
    """The table for a terminal; ``width``: fit that many columns (see the
    module docstring), ``None``: every column at full length."""
    cols = content.columns
    headers = [c.header for c in cols]
    rows = [_cells(content, row) for row in content.rows]
    keep = list(range(len(cols)))
    left_out: list[str] = []
    if width and _table_width(headers, rows, keep) > width:
        headers = [c.short or c.header for c in cols]
        hinted = sorted((i for i in keep if cols[i].drop), key=lambda i: (-cols[i].drop, -i))
        for i in hinted + _first_name_then_right_to_left(content, headers, rows, width, keep):
            if i is None:      # the first column's long names, shortened from the left
                rows = _shorten_first(cols, headers, rows, keep, width)
            elif _table_width(headers, rows, keep) > width:
                keep.remove(i)
                left_out.append(cols[i].header)
            if _table_width(headers, rows, keep) <= width:
                break
    t = PrettyTable()
    t.field_names = [headers[i] for i in keep]
    for i in keep:
        c = cols[i]
        t.align[headers[i]] = "l" if c.kind == "text" else ("c" if c.kind == "shape" else "r")
    for r in rows:
        t.add_row([r[i] for i in keep])
    footer = content.footer_lines()
    if left_out:
        footer.append(f"Left out to fit {width} columns: {', '.join(left_out)} (a wider terminal, "
                      f"e.g. COLUMNS=200, or -o FILE shows every column)")
    head = wrap_lines([content.title], width) if content.title else []
    return "\n".join(head + [t.get_string()] + wrap_lines(footer, width))


def render_markdown(content: Content) -> str:
    """A Markdown table; the footer and notes follow as lines with hard
    breaks; ``content.total`` is a bold last row."""
    cols = content.columns
    lines = [content.title, ""] if content.title else []
    lines += ["| " + " | ".join(c.header for c in cols) + " |",
              "|" + "|".join("---:" if c.numeric else "---" for c in cols) + "|"]
    for row in content.rows:
        cells = [cell(content.value(row, c), c, content.language_model) for c in cols]
        cells = [f"`{text}`" if c.code else text for c, text in zip(cols, cells)]
        cells[0] = "&nbsp;&nbsp;" * content.level(row) + cells[0]
        lines.append("| " + " | ".join(cells) + " |")
    if content.total is not None:
        lines.append("| " + " | ".join(f"**{cell(content.total[c.key], c, content.language_model)}**"
                                       if c.key in content.total else "" for c in cols) + " |")
    footer = content.footer_lines()
    if footer:       # one line each (a Markdown viewer reflows them), ending in a hard break
        lines.append("")
        lines.extend(f"{line}  " for line in footer)
    return "\n".join(lines)


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "…": r"\ldots{}"}


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def render_latex(content: Content) -> str:
    """A booktabs ``tabular`` ready for ``\\input`` (needs
    ``\\usepackage{booktabs}``): text columns left, numbers right, every
    cell escaped; ``content.total`` below a rule; the title, footer and notes
    as ``%`` comment lines (kept with the table, ignored by TeX)."""
    cols = content.columns
    lines = _latex_comments([content.title] if content.title else [])
    lines += ["\\begin{tabular}{" + "".join("r" if c.numeric else "l" for c in cols) + "}", "\\toprule",
              " & ".join(latex_escape(c.header) for c in cols) + r" \\", "\\midrule"]
    for row in content.rows:
        cells = [cell(content.value(row, c), c, content.language_model) for c in cols]
        cells[0] = "\\quad " * content.level(row) + latex_escape(cells[0])
        lines.append(" & ".join([cells[0]] + [latex_escape(x) for x in cells[1:]]) + r" \\")
    if content.total is not None:
        lines.append("\\midrule")
        lines.append(" & ".join(latex_escape(cell(content.total[c.key], c, content.language_model))
                                if c.key in content.total else "" for c in cols) + r" \\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    lines += _latex_comments(content.footer_lines())
    return "\n".join(lines)


def _latex_comments(lines: list[str]) -> list[str]:
    return ["% " + part for line in lines
            for part in textwrap.wrap(line, PROSE_WIDTH - 2, break_on_hyphens=False, break_long_words=False)]


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


RENDERERS = {"table": render_table, "markdown": render_markdown, "latex": render_latex, "csv": render_csv,
             "json": render_json}


class Renders:
    """``table()``, ``to_markdown()``, ``to_latex()``, ``to_csv()``,
    ``to_json()`` and ``str()`` of what :meth:`content` builds, for every
    result that reports."""

    def content(self) -> Content:
        raise NotImplementedError

    def table(self) -> str:
        return render_table(self.content())

    def to_markdown(self) -> str:
        return render_markdown(self.content())

    def to_latex(self) -> str:
        return render_latex(self.content())

    def to_csv(self) -> str:
        return render_csv(self.content())

    def to_json(self, indent: int | None = 2) -> str:
        return render_json(self.content(), indent)

    def __str__(self) -> str:
        """The table fitted to the terminal (``table()``: every column)."""
        return render_table(self.content(), terminal_width())
