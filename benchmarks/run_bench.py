"""Run the benchmark harness from a checkout without installing the package.

    python benchmarks/run_bench.py                 # the default sweep
    python benchmarks/run_bench.py --models resnet50,mobilenet_v2 --batch-sizes 1,8

Arguments are those of ``paddle-flops bench`` (``--help``).
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from paddle_flops_ext.cli.benchmarks import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
