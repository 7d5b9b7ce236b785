"""Entry points taking the arguments after a subcommand's name, for the
scripts in ``benchmarks/`` and for Python callers: :func:`main` is
``paddle-flops bench`` (``benchmarks/run_bench.py``), :func:`train_main`
``paddle-flops bench-train`` (``benchmarks/bench_train.py``),
:func:`generation_main` ``paddle-flops bench-generation``
(``benchmarks/bench_generation.py``). Each returns the exit status.
"""
from __future__ import annotations

import sys

from . import main as cli_main


def _run(command: str, argv) -> int:
    return cli_main([command, *(sys.argv[1:] if argv is None else argv)])


def main(argv=None) -> int:
    """``paddle-flops bench`` with ``argv``; also ``--help`` and a mistake in
    the command line return their status instead of raising ``SystemExit``."""
    return _run("bench", argv)


def train_main(argv=None) -> int:
    return _run("bench-train", argv)


def generation_main(argv=None) -> int:
    return _run("bench-generation", argv)
