"""Real training steps next to ``profile(training=True)`` for the committed
results: ``paddle-flops bench --train`` (``paddle_flops_ext.bench.train``)
writing ``benchmarks/results/train_cpu.{json,md}``.

    python benchmarks/bench_train.py [--models resnet50,vit_b16,gpt2_small] [--steps 3]
"""
import os
import sys

from paddle_flops_ext.cli.benchmarks import train_main as main

if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "train_cpu")
    sys.exit(main(sys.argv[1:] + ([] if "--out" in sys.argv else ["--out", out])))
