"""What a report says, built once and read by every renderer.

A :class:`Content` is one table: its columns (each with a *kind* that picks
the formatter: text, shape, count, bytes, seconds, number, percent), its rows
(:class:`Row` objects or ``{column key: exact value}`` dicts), a title, the
footer lines under it and notes, plus what the machine-readable formats carry
(the CSV lines after the rows, the JSON document). :mod:`.render` turns any
``Content`` into a table, Markdown, LaTeX, CSV or JSON; renderers format, they never
count, so the four formats cannot disagree. :class:`ProfileContent` is the
content of one profile (per layer, per subtree, per layer type, per
operation: rows from :mod:`.views`) with its totals, uncounted work and the
layers never called. This module imports nothing of the package: it is data.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields

# What a row's counts cover, said in every column heading and in the legend.
OWN = "own"      # the layer's own work: sub-layers count in their own rows
TOTAL = "total"  # the layer and everything below it
RANK_KEYS = ("flops", "macs", "params")
KINDS = ("text", "shape", "count", "params", "bytes", "seconds", "duration", "number", "percent")


@dataclass(frozen=True)
class Column:
    """One column. ``kind`` picks the formatter (:func:`.render.cell`):
    ``"text"`` as is, ``"shape"`` a list of shapes, ``"count"`` K/M/G/T,
    ``"params"`` a parameter count (K/M/G, a language model's M/B),
    ``"bytes"`` KiB/MiB/GiB, ``"seconds"`` a value in seconds shown in ms,
    ``"number"`` ``digits`` decimals (``None``: three significant figures),
    ``"percent"`` ``digits`` decimals and a ``%``; ``scale`` multiplies the
    value first (``1e-9``: giga; ``100``: a fraction as a percentage). A
    string cell in any column is shown as it is; ``None`` as ``-``. ``code``:
    Markdown shows the cell as code. ``drop`` and ``short``: how the terminal
    table fits a narrow terminal (:func:`.render.render_table`)."""
    key: str      # field of the row; the name in JSON and CSV
    header: str   # heading in the table and in Markdown
    kind: str = "text"
    digits: int | None = None
    scale: float = 1.0
    code: bool = False
    drop: int = 0          # a narrow terminal leaves out the highest ``drop`` first; 0: always shown
    short: str = ""        # a shorter heading for a narrow terminal

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"column kind must be one of {', '.join(KINDS)}, got {self.kind!r}")

    @property
    def numeric(self) -> bool:
        """Right-aligned in the table and in Markdown."""
        return self.kind not in ("text", "shape")

@dataclass
class Row:
    """One line of a report. Fields a view does not have stay ``None``."""
    name: str                     # full dotted layer name ("" = the model), type or op name
    type: str = ""
    depth: int | None = None      # layer views only
    called: bool | None = None    # layer views only
    calls: int = 0
    layers: int | None = None     # per-type view: how many layers of the type
    input_shape: list | None = None
    output_shape: list | None = None
    params: int | None = None
    trainable_params: int | None = None
    macs: int = 0
    flops: int = 0
    paddle_flops: int | None = None
    share: float | None = None    # percent of the model total of ``Content.ranked_by``
    seconds: float | None = None  # wall time, inclusive of sub-layers (time_layers=True)
    counted_by: str | None = None
    ops: dict | None = None       # op name -> {"calls", "macs", "flops"} (JSON only)
    backward_macs: int | None = None     # training=True: the backward of this row's work
    backward_flops: int | None = None
    optimizer_flops: int | None = None   # training=True: the optimizer step on its parameters

    @property
    def label(self) -> str:
        return self.name or self.type

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class Totals:
    macs: int
    flops: int
    paddle_flops: int
    params: int
    trainable_params: int
    paddle_flops_reported: int = 0    # what paddle.flops itself prints (reproduced)
    paddle_params_reported: int = 0
    active_params: int | None = None  # parameters one token uses (mixture of experts); None: all
    comm_bytes: int | None = None     # bytes this rank sends in collectives; None: none ran

    @property
    def non_trainable_params(self) -> int:
        return self.params - self.trainable_params

    def value(self, key: str) -> int:
        return getattr(self, key)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("active_params", "comm_bytes") or getattr(self, f.name) is not None}


@dataclass(frozen=True)
class UncountedWork:
    """An operation (or a layer, with functional counting off) that ran with
    no formula: counted as 0, never silently."""
    name: str
    kind: str          # "op" | "layer"
    calls: int
    layers: tuple      # where it ran

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "calls": self.calls, "layers": list(self.layers)}


@dataclass(kw_only=True)
class Content:
    """One table and what goes with it, in every format."""
    columns: list[Column]
    rows: list = field(default_factory=list)      # Row objects or {column key: exact value} dicts
    title: str = ""                               # a line above the table
    footer: list[str] = field(default_factory=list)   # lines under the table (table and Markdown)
    notes: list[str] = field(default_factory=list)    # "Note: ..." lines after the footer
    total: dict | None = None         # Markdown: a bold last row ({column key: value}; a string as is)
    row_kind: str | None = None       # CSV: a first column "row" saying what each line is
    csv_fields: list[str] | None = None   # CSV columns (after "row"); default: the columns' keys
    records: list[dict] = field(default_factory=list)    # CSV: lines after the rows
    data: dict | None = None          # the JSON document; default: title, rows, footer, notes
    language_model: bool = False      # parameter counts in M/B, the units language-model readers use

    def value(self, row, column: Column):
        """The exact value of one cell (``None``: none)."""
        return row.get(column.key) if isinstance(row, dict) else getattr(row, column.key, None)

    def level(self, row) -> int:
        """How deep a row sits in a tree (its first cell is indented)."""
        return 0

    def record(self, row) -> dict:
        """A row as the machine-readable formats carry it."""
        return dict(row) if isinstance(row, dict) else row.to_dict()

    def footer_lines(self) -> list[str]:
        return list(self.footer) + [f"Note: {note}" for note in self.notes]

    def csv_header(self) -> list[str]:
        keys = self.csv_fields if self.csv_fields is not None else [c.key for c in self.columns]
        return (["row"] if self.row_kind else []) + list(keys)

    def csv_records(self) -> list[dict]:
        kind = {"row": self.row_kind} if self.row_kind else {}
        return [{**kind, **self.record(r)} for r in self.rows] + [dict(r) for r in self.records]

    def to_dict(self) -> dict:
        if self.data is not None:
            return self.data
        return {"title": self.title, "columns": [c.key for c in self.columns],
                "rows": [self.record(r) for r in self.rows], "footer": list(self.footer),
                "notes": list(self.notes)}


# CSV of a profile is tidy: one line per row of the view, the count columns
# integers on every line. What is about the whole model goes to a second,
# numeric table (``summary_csv``), one line per figure: section, name,
# detail, value (an integer on every line).
SUMMARY_CSV_FIELDS = ("section", "name", "detail", "value")
_TOTAL_NAMES = ("macs", "flops", "paddle_flops", "params", "trainable_params", "paddle_flops_reported",
                "paddle_params_reported", "active_params", "comm_bytes")


@dataclass(kw_only=True)
class ProfileContent(Content):
    """One view of a profile: rows per layer, subtree, layer type or
    operation (:mod:`.views`), the model totals and the footer facts (work
    that ran with no formula, layers never called, notes)."""
    view: str                 # "layers" | "types" | "ops"
    counts: str               # OWN or TOTAL
    legend: str               # one sentence: what a row's counts cover
    totals: Totals
    ranked_by: str = "flops"
    mode: str = "eager"
    inputs: list = field(default_factory=list)
    depth: int | None = None
    top: int | None = None
    rows_left_out: int = 0    # rows beyond ``top``
    uncounted: list[UncountedWork] = field(default_factory=list)
    not_called: list[str] = field(default_factory=list)
    reconciliation: list[dict] = field(default_factory=list)  # {"figure", "line", "delta"}
    training: dict | None = None    # training=True: forward/backward/optimizer_step/training/hardware figures
    memory: dict | None = None      # bytes: parameters, gradients, optimizer_states, activations, peak

    def value(self, row, column: Column):
        if column.key == "name":
            return row.label + (" (not called)" if row.called is False else "")
        return super().value(row, column)

    def level(self, row) -> int:
        """The depth view is a tree."""
        return row.depth if self.depth is not None and row.depth else 0

    def record(self, row) -> dict:
        return {k: json.dumps(v, separators=(",", ":")) if isinstance(v, list) else v
                for k, v in row.to_dict().items()}

    def csv_header(self) -> list[str]:
        """Row fields that some row has (``ops`` stays in JSON), what the
        counts cover, and ``inexact`` (why) when the counts are not exact."""
        present = {f.name for row in self.rows for f in fields(row)
                   if getattr(row, f.name) is not None and f.name != "ops"}
        keys = [f.name for f in fields(Row) if f.name in present or f.name == "name"]
        return keys + ["counts"] + (["inexact"] if self.inexact else [])

    @property
    def inexact(self) -> list[str]:
        return [n for n in self.notes if n.startswith("INEXACT")]

    def csv_records(self) -> list[dict]:
        why = {"inexact": " ".join(self.inexact)} if self.inexact else {}
        return [{**self.record(row), "counts": self.counts, **why} for row in self.rows]

    def summary_records(self) -> list[dict]:
        """The whole model's figures, one per line: totals, training figures,
        memory (bytes by part and dtype), the reconciliation with
        paddle.flops (delta), uncounted work and layers not called (calls).
        Notes are in the JSON document and under the table."""
        t = self.totals.to_dict()
        out = [{"section": "total", "name": k, "detail": "", "value": t[k]} for k in _TOTAL_NAMES if k in t]
        if self.training:
            out += [{"section": "training", "name": k, "detail": self.training.get("optimizer") or "", "value": v}
                    for k, v in self.training.items() if isinstance(v, int) and not isinstance(v, bool)]
        if self.memory:
            m = self.memory
            for part in ("parameters", "gradients", "optimizer_states", "activations"):
                for dtype, n in sorted((m["by_dtype"].get(part) or {}).items()):
                    out.append({"section": "memory", "name": part, "detail": dtype, "value": n})
            out.append({"section": "memory", "name": "peak", "detail": "", "value": m["peak"]})
        out += [{"section": "reconciliation", "name": r["figure"], "detail": r["line"], "value": r["delta"]}
                for r in self.reconciliation]
        out += [{"section": "uncounted", "name": u.name, "detail": f"{u.kind} in {', '.join(u.layers)}",
                 "value": u.calls} for u in self.uncounted]
        out += [{"section": "not_called", "name": name, "detail": "calls", "value": 0} for name in self.not_called]
        return out

    def to_dict(self) -> dict:
        """JSON-ready: rows under ``layers`` / ``types`` / ``ops`` (the view)."""
        return {
            "view": self.view, "counts": self.counts, "legend": self.legend,
            "ranked_by": self.ranked_by, "depth": self.depth, "top": self.top,
            "rows_left_out": self.rows_left_out, "mode": self.mode,
            "inputs": [list(s) for s in self.inputs],
            "total": self.totals.to_dict(),
            self.view: [row.to_dict() for row in self.rows],
            "uncounted": [u.to_dict() for u in self.uncounted],
            "not_called": list(self.not_called),
            "notes": list(self.notes),
            "reconciliation": [dict(r) for r in self.reconciliation],
            **({"training": dict(self.training)} if self.training else {}),
            **({"memory": self.memory} if self.memory else {}),
        }
