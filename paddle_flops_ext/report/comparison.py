"""Several models side by side, one row each: the table a paper reports.

A :class:`Comparison` holds one :class:`ComparedModel` per model (its exact
counts, memory and, when it was timed, the median latency with its 95 %
interval) and renders through the one content model and renderers, so the
terminal table, Markdown, LaTeX, CSV and JSON carry the same rows. Counting
and timing happen elsewhere (``paddle_flops_ext.bench.compare``); this module
only arranges the figures.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .content import Column, Content
from .render import Renders, duration


@dataclass
class ComparedModel:
    """One model's row. Counts are exact integers; ``memory`` is the
    inference peak in bytes (``None`` when not known); the latency fields are
    seconds, ``None`` unless the model was timed."""
    model: str
    inputs: str                       # e.g. "1x3x224x224" or "1x3x224x224 + 1x16 int64"
    params: int
    trainable_params: int
    macs: int
    flops: int
    paddle_flops: int                 # the same work in paddle.flops' convention (one per MAC, ...)
    memory: int | None = None
    latency_s: float | None = None    # median of the timed forwards
    ci_low_s: float | None = None     # its 95 % confidence interval
    ci_high_s: float | None = None
    timed_runs: int | None = None
    converged: bool | None = None     # the interval reached the target width
    inexact: list[str] = field(default_factory=list)   # why a count is not exact; empty when exact

    @property
    def interval(self) -> str | None:
        if self.ci_low_s is None or self.ci_high_s is None:
            return None
        return f"{duration(self.ci_low_s)} - {duration(self.ci_high_s)}"


# Narrow terminals leave out, first to last: Input, paddle.flops, Trainable, Memory, 95% CI.
COLUMNS = [Column("model", "Model", code=True), Column("inputs", "Input", drop=9),
           Column("params", "Params", "params"), Column("trainable_params", "Trainable", "params", drop=7),
           Column("macs", "MACs", "count"), Column("flops", "FLOPs", "count"),
           Column("paddle_flops", "paddle.flops", "count", drop=8, short="paddle"),
           Column("memory", "Memory", "bytes", digits=2, drop=6)]
LATENCY_COLUMNS = [Column("latency_s", "Latency", "duration"),
                   Column("interval", "95% CI", drop=5), Column("converged", "Conv.", drop=4)]


@dataclass
class Comparison(Renders):
    """Rows of :class:`ComparedModel`; ``print()`` it, or ``.to_markdown()``,
    ``.to_latex()``, ``.to_csv()``, ``.to_json()``, ``.to_dict()``."""
    models: list[ComparedModel]
    notes: list[str] = field(default_factory=list)
    language_model: bool = False      # parameter counts in M/B

    @property
    def timed(self) -> bool:
        return any(m.latency_s is not None for m in self.models)

    def content(self) -> Content:
        columns = COLUMNS + (LATENCY_COLUMNS if self.timed else [])
        rows = [{**self.record(m), "interval": m.interval, "inexact": "; ".join(m.inexact)} for m in self.models]
        inexact = [f"INEXACT ({m.model}): {why}" for m in self.models for why in m.inexact]
        footer = ["Params: all parameters; Trainable: those with gradients.",
                  "FLOPs: 2 per MAC plus the non-MAC work; paddle.flops: the same work in its convention.",
                  "Memory: inference peak (parameters + the largest input and output of a layer)."]
        if self.timed:
            footer += ["Latency: median of the timed eager forwards; 95% CI: the median's interval.",
                       "Conv.: whether the interval reached the target width (2% of the median)."]
        keys = [c.key for c in COLUMNS] + (["latency_s", "ci_low_s", "ci_high_s", "timed_runs", "converged"]
                                           if self.timed else [])
        keys += ["inexact"] if inexact else []
        return Content(columns=columns, rows=rows, footer=footer, notes=inexact + list(self.notes),
                       csv_fields=keys, data=self.to_dict(), language_model=self.language_model)

    @staticmethod
    def record(m: ComparedModel) -> dict:
        return {k: v for k, v in asdict(m).items() if k != "inexact"}

    def to_dict(self) -> dict:
        return {"models": [asdict(m) for m in self.models], "notes": list(self.notes),
                "exact": not any(m.inexact for m in self.models)}
