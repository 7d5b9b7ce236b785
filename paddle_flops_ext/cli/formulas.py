"""``paddle-flops formulas``: the counting conventions as Markdown tables."""
from __future__ import annotations

from ..quiet import import_paddle_quietly


def run(args, parser, argv) -> int:
    import_paddle_quietly()
    from .. import formulas  # noqa: F401 - registers the built-ins  # local: keeps Paddle out of --help
    from ..report.conventions import conventions_markdown  # local: keeps Paddle out of --help
    print(conventions_markdown(), end="")
    return 0
