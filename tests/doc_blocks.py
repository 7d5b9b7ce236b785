"""The fenced code blocks of the README and the docs, and the convention
that says which of them run.

- A block's fence names its language. ``python`` blocks run in a fresh
  interpreter and ``bash`` blocks in ``bash -euo pipefail``, each from an
  empty folder. ``text`` blocks are output or file contents and never run.
  An unlabelled fence is a mistake (tests/test_docs.py fails on it).
- ``<!-- illustrative: REASON -->`` on the line (blank lines allowed) just
  above a ``python`` or ``bash`` fence keeps that block from running; the
  reason is required and says why (it installs packages, it takes minutes).
  The comment is invisible on GitHub and on the site.
- ``<!-- output of the block above -->`` just above a ``text`` fence makes
  the block a checked excerpt: each of its lines must be a line of what the
  nearest ``bash`` or ``python`` block above it printed (trailing spaces
  ignored), so shown output stays real output.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNABLE = ("python", "bash")
SHOWN = ("text",)
_FENCE = re.compile(r"^```(\S*)\s*$")
_ILLUSTRATIVE = re.compile(r"^<!-- illustrative: (.*\S)\s*-->$")
OUTPUT_MARK = "<!-- output of the block above -->"


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its text, and the
    note above it (``illustrative`` reason, or whether it is checked output)."""
    path: str          # relative to the repository root
    line: int          # 1-based line of the opening fence
    language: str
    code: str
    illustrative: str | None
    checked_output: bool

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.language in RUNNABLE and self.illustrative is None


def blocks_of(path: str) -> list[Block]:
    """Every fenced block of the Markdown file at ``path`` (relative to the root)."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        lines = f.read().split("\n")
    blocks, i = [], 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start, language = i, match.group(1)
        end = start + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        above = start - 1
        while above >= 0 and not lines[above].strip():
            above -= 1
        note = lines[above].strip() if above >= 0 else ""
        reason = _ILLUSTRATIVE.match(note)
        blocks.append(Block(path, start + 1, language, "\n".join(lines[start + 1:end]) + "\n",
                            reason.group(1) if reason else None, note == OUTPUT_MARK))
        i = end + 1
    return blocks


def documentation_files() -> list[str]:
    """README.md and every Markdown page under docs/, relative to the root."""
    pages = sorted(os.path.relpath(os.path.join(folder, name), ROOT)
                   for folder, _, names in os.walk(os.path.join(ROOT, "docs"))
                   for name in names if name.endswith(".md"))
    return ["README.md"] + pages


def marked_section(text: str, name: str) -> str:
    """What lies between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``."""
    return text.split(f"<!-- {name}:start -->\n", 1)[1].split(f"<!-- {name}:end -->", 1)[0]


def replace_marked_section(text: str, name: str, content: str) -> str:
    """``text`` with what lies between the ``NAME`` markers replaced by ``content``."""
    start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
    head, rest = text.split(start, 1)
    return head + start + content + end + rest.split(end, 1)[1]


FORMULAS_PAGE = "docs/formulas.md"


def generated_formula_sections() -> dict:
    """The registry's own rendering of each generated section of docs/formulas.md."""
    import paddle_flops_ext  # noqa: F401  (registers the formulas)
    from paddle_flops_ext.report.conventions import conventions_markdown, gradient_table
    return {"formulas": conventions_markdown(), "gradients": gradient_table()}


def write_formula_page() -> bool:
    """Rewrite the generated sections of docs/formulas.md; True if it changed."""
    path = os.path.join(ROOT, FORMULAS_PAGE)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    new = text
    for name, content in generated_formula_sections().items():
        new = replace_marked_section(new, name, content)
    if new != text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
    return new != text


if __name__ == "__main__":
    # python tests/doc_blocks.py: docs/formulas.md's tables from the registry
    print(FORMULAS_PAGE + (": tables rewritten" if write_formula_page() else ": already up to date"))
