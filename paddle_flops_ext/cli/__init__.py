"""``paddle-flops`` / ``python -m paddle_flops_ext``.

    paddle-flops profile MODEL [options]   count params / MACs / FLOPs (``profile`` may be left out)
    paddle-flops compare MODEL [MODEL ...] several models in one table, one row each
    paddle-flops bench [options]           measured latency next to the counts
    paddle-flops formulas                  the table of counting conventions
    paddle-flops llm CONFIG --seq-len N    a language model from its config.json, no weights

One parser (:mod:`.parser`) holds every subcommand; :mod:`.profile`,
:mod:`.compare`, :mod:`.bench`, :mod:`.formulas` and :mod:`.llm` run them
(``bench-train`` and ``bench-generation``, the committed benchmarks' command lines, in
:mod:`.bench`; :mod:`.benchmarks` has the scripts' entry points).

Paddle is imported only when a command needs it, so ``--help`` and
``--version`` answer at once. A mistake in the command line ends with one or
two lines that name the flag and the fix, and exit status 2 (``--traceback``
shows the full trace instead).
"""
from __future__ import annotations

import os
import sys

from . import bench, compare, formulas, latency, llm, profile
from .parser import COMMANDS, EXIT_USAGE, build_parser

EXIT_INTERRUPTED = 130    # the shell's status for a SIGINT

RUNNERS = {"profile": profile.run, "compare": compare.run, "bench": bench.run, "formulas": formulas.run,
           "llm": llm.run, "bench-train": bench.run_train, "bench-generation": bench.run_generation,
           "calibrate": latency.run_calibrate, "predict": latency.run_predict}


def _with_command(argv: list[str]) -> list[str]:
    """'paddle-flops MODEL ...' means 'paddle-flops profile MODEL ...'."""
    if argv and argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version"):
        return ["profile"] + argv
    return argv


def _importable_cwd() -> None:
    """The console script, unlike ``python -m``, does not put the current
    directory on ``sys.path``; ``paddle-flops mymod:build`` needs it."""
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def main(argv=None) -> int:
    argv = _with_command(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if args.command is not None and extra:
            args.command_parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:
        if argv[:1] == ["bench"]:      # bench returns its status, for --help and command-line mistakes too
            return int(exc.code or 0)
        raise
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    _importable_cwd()
    try:
        return RUNNERS[args.command](args, args.command_parser, argv[1:])
    except KeyboardInterrupt:
        if getattr(args, "traceback", False):
            raise
        print(f"{args.command_parser.prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


__all__ = ["main"]
