"""Generation measured next to ``pfe.profile_generation``'s roofline for the
committed results: ``paddle-flops bench --generate`` (``paddle_flops_ext.bench.generation``)
writing ``benchmarks/results/generation.{json,md}``.

    python benchmarks/bench_generation.py [--model llama_small] [--prompt 128] [--new 32] [--repeats 5]
"""
import os
import sys

from paddle_flops_ext.cli.benchmarks import generation_main as main

if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "generation")
    sys.exit(main(sys.argv[1:] + ([] if "--out" in sys.argv else ["--out", out])))
