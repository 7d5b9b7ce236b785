"""MkDocs hook: square brackets in the generated formula tables are text.

The registry writes optional parts of a formula in brackets
(``conv + BatchNorm [+ shortcut conv + BatchNorm] [+ add z]``); Markdown would
read ``[a] [b]`` as a reference link. On docs/formulas.md, whose tables hold
no links, every bracket of a table row is escaped at build time; the page's
source stays byte-equal to ``paddle-flops formulas``, which tests/test_docs.py
checks.
"""
from __future__ import annotations

PAGES = ("formulas.md",)


def _escape(line: str) -> str:
    if not line.startswith("|"):
        return line
    return line.replace("[", "\\[").replace("]", "\\]")


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri not in PAGES:
        return markdown
    return "\n".join(_escape(line) for line in markdown.split("\n"))
