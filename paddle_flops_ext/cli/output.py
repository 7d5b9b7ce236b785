"""What the commands that write a report share: the format from
``--format`` / the ``--output`` suffix, rendering (the terminal table fitted
to the terminal, a file at full width), writing the report, and errors that
are not the user's."""
from __future__ import annotations

import os
import sys

from ..files import output_problem, write_text
from ..report.render import RENDERERS, render_table, terminal_width
from .parser import FORMAT_OF_SUFFIX, error_text


def output_format(args) -> str:
    """``--format``, else the one the ``--output`` suffix names, else table."""
    return args.format or FORMAT_OF_SUFFIX.get(os.path.splitext(args.output or "")[1].lower(), "table")


def check_output(parser, args) -> None:
    """``-o FILE`` that cannot be written is a command-line mistake, found
    before any work."""
    problem = args.output and output_problem(args.output)
    if problem:
        parser.error(f"argument -o/--output: {problem}")


def render(content, fmt: str, output: str | None) -> str:
    """``content`` in ``fmt``; a table for the terminal fits its width, one
    for a file keeps every column."""
    if fmt == "table" and not output:
        return render_table(content, width=terminal_width())
    return RENDERERS[fmt](content)


def run_or_exit(parser, args, work, mistakes: tuple):
    """``work()``'s result; an exception of ``mistakes`` (the user's) ends
    the command with one message and exit status 2, any other with
    :func:`exit_unexpected` (``--traceback`` shows either in full)."""
    try:
        return work()
    except mistakes as exc:
        if args.traceback:
            raise
        parser.exit(2, error_text(f"{parser.prog}: error: {exc}") + "\n")
    except Exception as exc:  # noqa: BLE001
        exit_unexpected(parser, args, exc)


def exit_unexpected(parser, args, exc: Exception) -> None:
    """An error that is not the user's: one message (the full trace with
    ``--traceback``), exit status 1."""
    if args.traceback:
        raise exc
    parser.exit(1, error_text(f"{parser.prog}: error: {type(exc).__name__}: {exc}") +
                "\n(run again with --traceback for the full trace)\n")


def write_report(text: str, output: str | None, fmt: str) -> None:
    """The rendered report to ``-o FILE`` (saying so on stderr) or stdout."""
    text = text.rstrip("\n") + "\n"
    if output:
        write_text(output, text)
        print(f"wrote {output} ({fmt})", file=sys.stderr)
    else:
        sys.stdout.write(text)
