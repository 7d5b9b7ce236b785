"""Generation on this machine: a real prefill + decode loop on the zoo LLaMA
(a small configuration, float32, eager, KV cache) next to
``pfe.profile_generation``'s roofline estimate on the peaks measured in the
same run (``paddle_flops_ext.bench.peak``).

Measured (median of ``--repeats`` full generations after one warm-up):

* TTFT: the prefill forward of ``P`` prompt tokens (``use_cache=True``)
  until its logits are on the host;
* TPOT: the mean decode step (one token per sequence, the cache growing
  from ``P + 1`` to ``P + T`` keys), greedy argmax between steps included;
* tokens per second: ``batch / TPOT``.

The estimate is the roofline of the exact counts: each phase
``max(FLOPs / peak FLOP/s, bytes / peak bandwidth)``, bytes = weights + KV
cache (activations not counted); it ignores framework overhead, which
dominates small decode steps in eager Paddle on a CPU, so the measured time
is expected to be above it and the ratio says by how much.

    python benchmarks/bench_generation.py [--prompt 128] [--new 32] [--batch 1] [--repeats 5]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SIZES = {   # the zoo LLaMA at small sizes
    "small": dict(vocab_size=32000, dim=512, n_layers=8, n_heads=8, n_kv_heads=4, ffn_dim=1408, max_seq_len=1024),
    "medium": dict(vocab_size=32000, dim=1024, n_layers=12, n_heads=16, n_kv_heads=4, ffn_dim=2816,
                   max_seq_len=1024),
}


def measure(model, prompt, new, batch, repeats):
    import paddle
    ids = paddle.randint(0, model.cfg.vocab_size, [batch, prompt])
    runs = []
    with paddle.no_grad():
        for rep in range(repeats + 1):
            t0 = time.perf_counter()
            logits, cache = model(ids, use_cache=True)
            nxt = paddle.argmax(logits[:, -1:], axis=-1)
            nxt.numpy()
            t1 = time.perf_counter()
            steps = []
            for _ in range(new):
                s0 = time.perf_counter()
                logits, cache = model(nxt, past_key_values=cache, use_cache=True)
                nxt = paddle.argmax(logits[:, -1:], axis=-1)
                nxt.numpy()
                steps.append(time.perf_counter() - s0)
            if rep:   # the first is a warm-up
                runs.append({"ttft_s": t1 - t0, "tpot_s": sum(steps) / new, "first_step_s": steps[0],
                             "last_step_s": steps[-1]})
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    med["tokens_per_s"] = batch / med["tpot_s"]
    med["runs"] = runs
    return med


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SIZES), default="small")
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "generation"))
    args = ap.parse_args(argv)
    from paddle_flops_ext.quiet import import_paddle_quietly
    paddle = import_paddle_quietly()
    import paddle_flops_ext as pfe
    from paddle_flops_ext.bench.peak import measure_peak
    from paddle_flops_ext.bench.timing import available_cores, set_threads
    from paddle_flops_ext.models.llama import LlamaConfig, Llama

    threads = available_cores()
    set_threads(threads)
    paddle.seed(0)
    model = Llama(LlamaConfig(**SIZES[args.size]))
    model.eval()
    peak = measure_peak("cpu", quick=False, repeats=10, threads=threads)
    set_threads(threads)
    est = pfe.profile_generation(model, args.prompt, args.new, args.batch, peaks=peak)
    set_threads(threads)
    got = measure(model, args.prompt, args.new, args.batch, args.repeats)
    rows = [("TTFT (prefill)", got["ttft_s"], est.ttft_s, est.prefill.bound),
            ("TPOT (mean decode step)", got["tpot_s"], est.tpot_s, est.decode.bound),
            ("decode step 1", got["first_step_s"], est.step(1).time_s, est.step(1).bound),
            (f"decode step {args.new}", got["last_step_s"], est.step(args.new).time_s, est.step(args.new).bound)]
    machine = {"python": platform.python_version(), "platform": platform.platform(), "threads": threads,
               "paddle": paddle.__version__}
    doc = {"machine": machine, "args": vars(args), "config": SIZES[args.size], "measured": got,
           "estimate": est.to_dict(), "peaks": {k: peak[k] for k in ("matmul_gflops_peak", "matmul_backend",
                                                                      "copy_gbps_peak")}}
    with open(args.out + ".json", "w") as f:
        json.dump(doc, f, indent=2)
    cfg = SIZES[args.size]
    lines = ["# Generation: measured next to the roofline estimate", "",
             f"`python benchmarks/bench_generation.py --size {args.size} --prompt {args.prompt} --new {args.new} "
             f"--batch {args.batch} --repeats {args.repeats}` on {machine['platform']}, {threads} threads, "
             f"Paddle {machine['paddle']}, eager float32. Zoo LLaMA: dim {cfg['dim']}, {cfg['n_layers']} layers, "
             f"{cfg['n_heads']} heads ({cfg['n_kv_heads']} KV), ffn {cfg['ffn_dim']}, vocab {cfg['vocab_size']} "
             f"({est.params:,} params). Measured: median of {args.repeats} generations after a warm-up. "
             f"Peaks measured in the same run: {peak['matmul_gflops_peak']:.1f} GFLOP/s fp32 matmul "
             f"({peak['matmul_backend']}), {peak['copy_gbps_peak']:.1f} GB/s DRAM copy.", "",
             "| phase | measured ms | estimate ms (roofline) | measured / estimate | estimated bound |",
             "|---|---:|---:|---:|---|"]
    for name, m, e, bound in rows:
        lines.append(f"| {name} | {m * 1e3:.3f} | {e * 1e3:.3f} | {m / e:.1f} x | {bound} |")
    lines += ["", f"Tokens per second (decode, batch {args.batch}): measured {got['tokens_per_s']:.1f}, "
                  f"estimate {est.tokens_per_s:.1f}.", "",
              "Exact counts (pfe.profile_generation):", "", "```", est.table(), "```"]
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
