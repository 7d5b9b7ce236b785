"""``paddle-flops compare MODEL [MODEL ...]``: several models in one table,
one row each (``paddle_flops_ext.bench.compare`` counts and, with
``--latency``, times them)."""
from __future__ import annotations

import sys

from ..quiet import import_paddle_quietly
from .output import check_output, output_format, render, run_or_exit, write_report
from .parser import EXIT_STRICT, input_arg


def _split(text: str) -> tuple[str, list | None]:
    """'MODEL@1,3,32,32+1,16:int64' -> ('MODEL', [two inputs]); 'MODEL' -> ('MODEL', None)."""
    if "@" not in text:
        return text, None
    spec, _, inputs = text.rpartition("@")
    return spec, [input_arg(part) for part in inputs.split("+")]


def _compare(args):
    import_paddle_quietly()
    from ..bench.compare import compare  # local: keeps Paddle out of --help
    return compare([_split(text) for text in args.models], args.input, latency=args.latency,
                   budget_s=args.budget, mode=args.mode, verbose=args.verbose)


def run(args, parser, argv) -> int:
    fmt = output_format(args)
    check_output(parser, args)
    if args.budget <= 0:
        parser.error(f"argument --budget: must be > 0 seconds, got {args.budget}")
    if len(set(args.models)) != len(args.models):
        parser.error("argument MODEL: a model is named twice")
    comparison = run_or_exit(parser, args, lambda: _compare(args), (ValueError,))
    write_report(render(comparison.content(), fmt, args.output), args.output, fmt)
    inexact = [f"{m.model}: {why}" for m in comparison.models for why in m.inexact]
    if args.strict and inexact:
        print(f"{parser.prog}: --strict: the counts are not exact: {'; '.join(inexact)}", file=sys.stderr)
        return EXIT_STRICT
    return 0
