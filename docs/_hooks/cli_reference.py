"""MkDocs hook: the CLI reference page is rendered from the parser itself.

``docs/cli.md`` holds the marker ``<!-- cli-reference -->``; at build time it is
replaced by the ``--help`` of ``paddle-flops`` and of every subcommand the
top-level help lists, formatted at 100 columns by ``build_parser()`` from
``paddle_flops_ext/cli/parser.py``. A new subcommand or option appears in the
docs on the next build, with nothing to edit here. ``tests/test_docs.py``
checks that the page names every listed subcommand.
"""
from __future__ import annotations

import argparse
import os

MARKER = "<!-- cli-reference -->"
COLUMNS = "100"


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of each subcommand the top-level help lists."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return [(choice.dest, choice.help or "", action.choices[choice.dest])
                    for choice in action._choices_actions]
    return []


def cli_reference_markdown() -> str:
    """Markdown of the whole command-line reference, from the live parser."""
    from paddle_flops_ext.cli.parser import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = COLUMNS     # argparse wraps help text to $COLUMNS
    try:
        parser = build_parser()
        parts = ["## paddle-flops", "", "```text", parser.format_help().rstrip(), "```", ""]
        for name, summary, sub in _subcommands(parser):
            parts += [f"## paddle-flops {name}", ""]
            if summary:
                parts += [summary[:1].upper() + summary[1:] + ".", ""]
            parts += ["```text", sub.format_help().rstrip(), "```", ""]
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, cli_reference_markdown())
