"""What a report says, built once and read by every renderer.

A :class:`Content` holds the columns, the rows (exact numbers, percentages
already computed), the model totals and the footer facts: work that ran with
no formula, layers never called, notes. ``render.py`` turns one ``Content``
into a table, Markdown, CSV or JSON; renderers format, they never count, so
the four formats cannot disagree. The rows themselves come from
:mod:`.views` (per layer, per subtree, per layer type, per operation).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

# What a row's counts cover, said in every column heading and in the legend.
OWN = "own"      # the layer's own work: sub-layers count in their own rows
TOTAL = "total"  # the layer and everything below it
RANK_KEYS = ("flops", "macs", "params")


@dataclass(frozen=True)
class Column:
    key: str      # field of :class:`Row`; the name in JSON and CSV
    header: str   # heading in the table and in Markdown
    kind: str     # "text" | "shape" | "count" | "percent" | "seconds"


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

    @property
    def non_trainable_params(self) -> int:
        return self.params - self.trainable_params

    def value(self, key: str) -> int:
        return getattr(self, key)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


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


@dataclass
class Content:
    view: str                 # "layers" | "types" | "ops"
    counts: str               # OWN or TOTAL
    legend: str               # one sentence: what a row's counts cover
    columns: list[Column]
    rows: list[Row]
    totals: Totals
    ranked_by: str = "flops"
    mode: str = "eager"
    inputs: list = field(default_factory=list)
    depth: int | None = None
    top: int | None = None
    rows_left_out: int = 0    # rows beyond ``top``
    uncounted: list[UncountedWork] = field(default_factory=list)
    not_called: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reconciliation: list[dict] = field(default_factory=list)  # {"figure", "line", "delta"}
    training: dict | None = None    # training=True: forward/backward/optimizer_step/training/hardware figures
    memory: dict | None = None      # bytes: parameters, gradients, optimizer_states, activations, peak

    def training_lines(self) -> list[str]:
        """The footer lines for training figures and memory (every format)."""
        from .render import human
        lines = []
        t = self.training
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
        m = self.memory
        if m:
            def part(key):
                by = m["by_dtype"].get(key) or {}
                detail = ", ".join(f"{d} {human(b)}B" for d, b in sorted(by.items()))
                return f"{key.replace('_', ' ')} {human(m[key])}B" + (f" [{detail}]" if len(by) > 1 else "")
            keys = ("parameters", "gradients", "optimizer_states", "activations") if t else ("parameters",)
            lines.append(("Memory: " if t else "Memory (inference): ") + "   ".join(part(k) for k in keys)
                         + f"   peak {human(m['peak'])}B ({m['peak']:,} bytes"
                         + (")" if t else "; parameters + the largest input + output of a layer)")
                         + (f"   amp {m['amp']}" if m.get("amp") else ""))
        return lines

    # the footer every renderer shows ---------------------------------------
    def footer_lines(self) -> list[str]:
        from .render import human
        t = self.totals
        lines = [
            f"Total MACs: {human(t.macs)} ({t.macs:,})   FLOPs: {human(t.flops)} ({t.flops:,})   "
            f"paddle.flops corrected: {human(t.paddle_flops)} ({t.paddle_flops:,})",
            f"Total params: {human(t.params)} ({t.params:,})   "
            f"trainable: {human(t.trainable_params)} ({t.trainable_params:,})   "
            f"non-trainable: {t.non_trainable_params:,}",
            f"Rows: {self.legend}",
            f"paddle.flops itself prints: Total Flops {t.paddle_flops_reported:,}   Total Params "
            f"{t.paddle_params_reported:,}" + ("" if not self.reconciliation else "; from there: " + "; ".join(
                f"{r['figure']} {r['delta']:+,} {r['line']}" for r in self.reconciliation)),
        ]
        if self.rows_left_out:
            lines.append(f"Showing the top {len(self.rows)} rows by {self.ranked_by}; "
                         f"{self.rows_left_out} more not shown.")
        if self.uncounted:
            lines.append("Uncounted (ran, no formula): " + ", ".join(
                f"{u.name} x{u.calls} in {', '.join(u.layers[:3])}{'...' if len(u.layers) > 3 else ''}"
                for u in self.uncounted))
        if self.not_called:
            shown = self.not_called[:10]
            more = len(self.not_called) - len(shown)
            lines.append(f"Not called in forward (parameters still counted): {', '.join(shown)}"
                         + (f" and {more} more" if more else ""))
        lines.extend(self.training_lines())
        lines.extend(f"Note: {note}" for note in self.notes)
        return lines

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

    # rendering (render.py) --------------------------------------------------
    def table(self) -> str:
        from .render import render_table
        return render_table(self)

    def to_markdown(self) -> str:
        from .render import render_markdown
        return render_markdown(self)

    def to_csv(self) -> str:
        from .render import render_csv
        return render_csv(self)

    def to_json(self, indent: int | None = 2) -> str:
        from .render import render_json
        return render_json(self, indent)

    def __str__(self) -> str:
        return self.table()
