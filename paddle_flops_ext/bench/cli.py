"""``paddle-flops bench``: time models next to their FLOP counts.

With no arguments it runs the embedded zoo (see :mod:`.zoo`) at batch 1,
224x224 images (sequence length 128 for the decoder), in eager, to_static
and Paddle Inference modes with per-layer timing, and writes
``benchmarks/results/bench_<cpu|gpu>.{json,md,csv}`` plus plots.
"""
from __future__ import annotations

import argparse
import shlex
import sys


def _ints(text: str) -> list:
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    if not vals or any(v <= 0 for v in vals):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return vals


def _names(text: str) -> list:
    return [v.strip() for v in text.split(",") if v.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="paddle-flops bench", description=(
        "Measure inference latency (eager, to_static, Paddle Inference) next to MACs/FLOPs, "
        "with the machine's measured peak and a per-layer roofline."))
    p.add_argument("--models", type=_names, default=None,
                   help="comma-separated zoo names or module:callable (default: the embedded zoo; "
                        "see --list)")
    p.add_argument("--list", action="store_true", help="list the embedded zoo and exit")
    p.add_argument("--batch-sizes", type=_ints, default=[1], help="e.g. 1,8 (default 1)")
    p.add_argument("--input-sizes", type=_ints, default=[224], help="image sides, e.g. 224,320 (default 224)")
    p.add_argument("--seq-lens", type=_ints, default=[128], help="token models' sequence lengths (default 128)")
    p.add_argument("--input-shape", type=_ints, default=None,
                   help="per-sample input shape for module:callable models, e.g. 16 or 3,32,32 "
                        "(default: 3,S,S for each --input-sizes S)")
    p.add_argument("--dtype", default="float32", help="input dtype with --input-shape (default float32)")
    p.add_argument("--modes", type=_names, default=["eager", "to_static", "inference"],
                   help="eager,to_static,inference,inference_trt (default eager,to_static,inference)")
    p.add_argument("--repeats", type=int, default=10, help="timed runs per mode (default 10)")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all available cores)")
    p.add_argument("--device", default="auto", help="auto | cpu | gpu | gpu:N (default auto)")
    p.add_argument("--out", default="benchmarks/results", help="output directory (default benchmarks/results)")
    p.add_argument("--tag", default=None, help="file name stem (default bench_cpu or bench_gpu)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--per-layer", dest="per_layer", action="store_true", default=True,
                   help="per-layer timing and roofline (default on)")
    g.add_argument("--no-per-layer", dest="per_layer", action="store_false")
    p.add_argument("--per-layer-repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: at most 3 repeats, 1 warm-up, smaller peak measurement")
    p.add_argument("--no-plots", dest="plots", action="store_false", help="skip the PNG plots")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("--noise-threshold", type=float, default=0.10,
                   help="flag a run noisy when (p90-p10)/median exceeds this (default 0.10)")
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    from .zoo import DEFAULT_ORDER, default_zoo
    if args.list:
        zoo, notes = default_zoo()
        for n in DEFAULT_ORDER:
            if n in zoo:
                print(f"{n:20s} {zoo[n].input_kind}")
        for n in notes:
            print(f"note: {n}")
        return 0
    if args.repeats < 1 or args.warmup < 0:
        raise SystemExit("--repeats must be >= 1 and --warmup >= 0")
    from .runner import BenchConfig, run_benchmark
    cfg = BenchConfig(
        models=args.models, batch_sizes=args.batch_sizes, input_sizes=args.input_sizes,
        seq_lens=args.seq_lens, modes=args.modes, repeats=args.repeats, warmup=args.warmup,
        threads=args.threads, device=args.device, per_layer=args.per_layer,
        per_layer_repeats=args.per_layer_repeats, quick=args.quick, out=args.out, tag=args.tag,
        plots=args.plots, sample_shape=args.input_shape, dtype=args.dtype,
        noise_threshold=args.noise_threshold, progress=args.progress,
        command="paddle-flops bench" + ("" if not argv else " " + shlex.join(argv)))
    try:
        doc = run_benchmark(cfg)
    except ValueError as e:
        raise SystemExit(f"paddle-flops bench: {e}")
    ran = [r for r in doc["results"] if r["status"] == "ran"]
    print(f"{len(ran)} of {len(doc['results'])} model/mode runs timed; "
          f"{sum(1 for r in ran if r['noisy'])} flagged noisy.")
    for kind, path in doc.get("files", {}).items():
        if kind == "plots_skipped":
            print(f"plots skipped: {path}")
        else:
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
