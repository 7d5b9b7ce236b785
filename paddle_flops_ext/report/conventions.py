"""Render the formula registry itself as Markdown: the docs' "what is
counted" tables come from here, so the documentation cannot drift from the
code."""
from __future__ import annotations

from collections import defaultdict

from ..formulas import gradients, registry
from ..formulas.paddle_reported import PADDLE_FLOPS_TABLE
from .content import Column, Content
from .render import render_markdown


def _markdown(headers: tuple, rows: list) -> str:
    """A Markdown table of text cells, through the one renderer."""
    columns = [Column(f"c{i}", header) for i, header in enumerate(headers)]
    return render_markdown(Content(columns=columns, rows=[{f"c{i}": v for i, v in enumerate(r)} for r in rows]))


def _group(items):
    """Group keys that share one formula function and convention."""
    groups = defaultdict(list)
    for key, spec in items:
        groups[(spec.fn, spec.convention)].append(key)
    return groups


def layer_table() -> str:
    """One row per formula; the last column says which of its types
    paddle.flops hooks (only those enter ``paddle_flops``, with the
    ``paddle:`` part of the convention; the others count 0 there)."""
    hooked = {t.__name__ for t in PADDLE_FLOPS_TABLE}
    rows = []
    groups = _group((t.__name__, s) for t, s in registry.layer_specs().items())
    for (fn, conv), names in sorted(groups.items(), key=lambda kv: sorted(kv[1])[0]):
        counted = sorted(n for n in names if n in hooked)
        cell = "all" if len(counted) == len(names) else (", ".join(counted) if counted else "none (0)")
        rows.append((", ".join(sorted(names)), conv, cell))
    return _markdown(("layer types", "convention", "in `paddle_flops` (types paddle.flops hooks)"), rows)


def op_table() -> str:
    specs = registry.op_specs()
    rows = [(", ".join(sorted(names)), "yes" if specs[names[0]].contraction else "no", conv)
            for (fn, conv), names in sorted(_group(specs.items()).items(), key=lambda kv: sorted(kv[1])[0])]
    return _markdown(("operations (`paddle._C_ops` / `pd_op.`)", "MACs?", "convention"), rows)


def zero_cost_table() -> str:
    groups = defaultdict(list)
    for name, why in registry.zero_cost_table().items():
        groups[why].append(name)
    rows = [(", ".join(sorted(names)), why) for why, names in sorted(groups.items())]
    return _markdown(("free operations (0 FLOPs)", "why"), rows)


def conventions_markdown() -> str:
    return "\n\n".join([
        "### Layers\n\n" + layer_table(),
        "### Operations\n\n" + op_table(),
        "### Free operations\n\n" + zero_cost_table(),
    ]) + "\n"


def gradient_table() -> str:
    """The gradient-operation table of docs/formulas.md (Training cost), from
    :mod:`paddle_flops_ext.formulas.gradients`: one row per formula, keyed by
    the forward operation."""
    specs = gradients.grad_specs()
    rows = [(", ".join(sorted(names)), "yes" if specs[names[0]].contraction else "no", conv)
            for (fn, conv), names in sorted(_group(specs.items()).items(), key=lambda kv: sorted(kv[1])[0])]
    rows.append(("every other free operation (reshape, transpose, concat, slicing, cast, ...)", "no",
                 "0: the gradient is moved back"))
    return _markdown(("forward operations", "MACs?", "backward convention (only inputs that need a gradient)"),
                     rows) + "\n"
