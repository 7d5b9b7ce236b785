"""Render the formula registry itself as Markdown: the README's "what is
counted" tables come from here, so the documentation cannot drift from the
code."""
from __future__ import annotations

from collections import defaultdict

from ..formulas import gradients, registry
from ..formulas.paddle_reported import PADDLE_FLOPS_TABLE


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
    lines = ["| layer types | convention | in `paddle_flops` (types paddle.flops hooks) |", "|---|---|---|"]
    groups = _group((t.__name__, s) for t, s in registry.layer_specs().items())
    for (fn, conv), names in sorted(groups.items(), key=lambda kv: sorted(kv[1])[0]):
        counted = sorted(n for n in names if n in hooked)
        cell = "all" if len(counted) == len(names) else (", ".join(counted) if counted else "none (0)")
        lines.append(f"| {', '.join(sorted(names))} | {conv} | {cell} |")
    return "\n".join(lines)


def op_table() -> str:
    lines = ["| operations (`paddle._C_ops` / `pd_op.`) | MACs? | convention |", "|---|---|---|"]
    groups = _group(registry.op_specs().items())
    for (fn, conv), names in sorted(groups.items(), key=lambda kv: sorted(kv[1])[0]):
        contraction = registry.op_specs()[names[0]].contraction
        lines.append(f"| {', '.join(sorted(names))} | {'yes' if contraction else 'no'} | {conv} |")
    return "\n".join(lines)


def zero_cost_table() -> str:
    groups = defaultdict(list)
    for name, why in registry.zero_cost_table().items():
        groups[why].append(name)
    lines = ["| free operations (0 FLOPs) | why |", "|---|---|"]
    for why, names in sorted(groups.items()):
        lines.append(f"| {', '.join(sorted(names))} | {why} |")
    return "\n".join(lines)


def conventions_markdown() -> str:
    return "\n\n".join([
        "### Layers\n\n" + layer_table(),
        "### Operations\n\n" + op_table(),
        "### Free operations\n\n" + zero_cost_table(),
    ]) + "\n"


def gradient_table() -> str:
    """The README's gradient-operation table (Training cost), from
    :mod:`paddle_flops_ext.formulas.gradients`: one row per formula, keyed by
    the forward operation."""
    groups = _group(gradients.grad_specs().items())
    lines = ["| forward operations | MACs? | backward convention (only inputs that need a gradient) |",
             "|---|---|---|"]
    for (fn, conv), names in sorted(groups.items(), key=lambda kv: sorted(kv[1])[0]):
        contraction = gradients.grad_specs()[names[0]].contraction
        lines.append(f"| {', '.join(sorted(names))} | {'yes' if contraction else 'no'} | {conv} |")
    lines.append("| every other free operation (reshape, transpose, concat, slicing, cast, ...) | no | "
                 "0: the gradient is moved back |")
    return "\n".join(lines) + "\n"
