"""Render the formula registry itself as Markdown: the README's "what is
counted" tables come from here, so the documentation cannot drift from the
code."""
from __future__ import annotations

from collections import defaultdict

from ..formulas import registry


def _group(items):
    """Group keys that share one formula function and convention."""
    groups = defaultdict(list)
    for key, spec in items:
        groups[(spec.fn, spec.convention)].append(key)
    return groups


def layer_table() -> str:
    lines = ["| layer types | convention |", "|---|---|"]
    groups = _group((t.__name__, s) for t, s in registry.layer_specs().items())
    for (fn, conv), names in sorted(groups.items(), key=lambda kv: sorted(kv[1])[0]):
        lines.append(f"| {', '.join(sorted(names))} | {conv} |")
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
