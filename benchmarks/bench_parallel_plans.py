"""Per-rank plans of LLaMA-2-70B and LLaMA-3-405B on common layouts, from
their shipped configurations (no weights): each configuration is built
under ``paddle.LazyGuard()``, one training step of one sequence is traced
(parameters and FLOPs exact), and each layout is planned from it
(``estimates/parallel.py``): per rank the model states, the activations
1F1B keeps in flight, the peak, the bytes sent per step, the bubble and a
step time at a stated peak and utilisation.

    python benchmarks/bench_parallel_plans.py [--out benchmarks/results/parallel_plans.md]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEAK_TFLOPS, UTILISATION = 989.0, 0.40      # an H100 SXM's dense bf16 peak; a utilisation large runs report
SEQ = 4096

# (config, description, layout): layouts of the kind published runs use, 8 GPUs a node
LAYOUTS = [
    ("llama-2-70b", "8 nodes: tp 8 x pp 4 x dp 2, ZeRO-1, SP, selective",
     dict(dp=2, tp=8, pp=4, zero=1, micro_batch=1, global_batch=128, recompute="selective",
          sequence_parallel=True)),
    ("llama-2-70b", "8 nodes: tp 8 x dp 8, ZeRO-3 (FSDP-like), full recompute",
     dict(dp=8, tp=8, pp=1, zero=3, micro_batch=1, global_batch=128, recompute="full", sequence_parallel=True)),
    ("llama-2-70b", "64 ranks of pure ZeRO-3 data parallelism, full recompute",
     dict(dp=64, zero=3, micro_batch=1, global_batch=128, recompute="full")),
    ("llama-3-405b", "tp 8 x pp 16 (as Llama 3 was trained) x dp 64, ZeRO-1, SP, selective",
     dict(dp=64, tp=8, pp=16, zero=1, micro_batch=1, global_batch=1024, recompute="selective",
          sequence_parallel=True)),
    ("llama-3-405b", "tp 8 x pp 8 x dp 16, ZeRO-1, SP, full recompute",
     dict(dp=16, tp=8, pp=8, zero=1, micro_batch=1, global_batch=512, recompute="full", sequence_parallel=True)),
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "parallel_plans.md"))
    args = parser.parse_args(argv)
    sys.path.insert(0, ROOT)
    from paddle_flops_ext.cli.plan import plan_content
    from paddle_flops_ext.llm.plan import plan_config
    from paddle_flops_ext.estimates.parallel import ParallelLayout
    from paddle_flops_ext.report.render import render_markdown
    pieces = ["# Per-rank plans of LLaMA-2-70B and LLaMA-3-405B", "",
              f"Written by `benchmarks/bench_parallel_plans.py`. Sequences of {SEQ} tokens, AdamW, mixed "
              f"precision (16-bit weights, gradients and activations; fp32 master weights and states), "
              f"step time at {PEAK_TFLOPS:g} TFLOP/s per device (H100 SXM, dense bf16) x "
              f"{UTILISATION:.0%} utilisation, compute only. Each plan: its configuration built without "
              f"weights, one training step traced, the layout planned; the seconds it took are given.", ""]
    for config, description, layout in LAYOUTS:
        start = time.perf_counter()
        result = plan_config(config, ParallelLayout(**layout), SEQ, peak_tflops=PEAK_TFLOPS,
                             utilisation=UTILISATION)
        seconds = time.perf_counter() - start
        pieces += [f"## {config}: {description}", "", f"Computed in {seconds:.1f} s.", "",
                   render_markdown(plan_content(result)).rstrip(), ""]
        print(f"{config}: {description}: {seconds:.1f} s, peak rank {result.peak_bytes / 2**30:.1f} GiB",
              file=sys.stderr)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(pieces))
    return 0


if __name__ == "__main__":
    sys.exit(main())
