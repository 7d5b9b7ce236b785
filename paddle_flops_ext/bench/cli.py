"""``paddle-flops bench``: time models next to their FLOP counts.

With no arguments it runs the embedded zoo (see :mod:`.zoo`) at batch 1,
224x224 images (sequence length 128 for the decoder), in eager, to_static
and Paddle Inference modes (fp32, bf16 where the CPU has it, int8 reported
unavailable) with per-layer timing, and writes
``bench_<cpu|gpu>.{json,md,csv}`` plus plots into a new directory
``./paddle_flops_bench/<timestamp>/`` (``--out`` to choose), then prints a
summary table.

Every argument is checked before any work; a bad one prints one line naming
the flag and exits with status 2. The exit status is 1 when any
model/mode run failed (its row in the results says why), 0 otherwise.

``--processes N`` runs the whole measurement in N fresh processes one after
the other and merges them (:func:`.merge.merge_processes`). Under ``python -m
paddle.distributed.launch --nproc_per_node K -m paddle_flops_ext.bench.cli``
(or ``benchmarks/run_bench.py``) each rank times its share of the grid on
its own device and rank 0 writes the merged report.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile


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
        "with the machine's measured peaks and a cache-aware per-layer roofline."))
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
    p.add_argument("--modes", type=_names, default=None,
                   help="eager,to_static,inference,inference_bf16,inference_int8,inference_trt "
                        "(default eager,to_static,inference,inference_bf16,inference_int8)")
    t = p.add_argument_group("timing")
    t.add_argument("--repeats", type=int, default=None,
                   help="exactly N timed runs per mode (default: adaptive, see --ci-target)")
    t.add_argument("--ci-target", type=float, default=0.02,
                   help="adaptive: stop when the median's 95%% CI is within +-this fraction (default 0.02)")
    t.add_argument("--min-repeats", type=int, default=10, help="adaptive: at least N runs (default 10)")
    t.add_argument("--max-repeats", type=int, default=1000, help="adaptive: at most N runs (default 1000)")
    t.add_argument("--budget", type=float, default=10.0,
                   help="adaptive: at most this many timed seconds per model and mode (default 10)")
    t.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    t.add_argument("--processes", type=int, default=1,
                   help="repeat the whole measurement in N fresh processes and report the spread "
                        "between them (default 1)")
    t.add_argument("--load-threshold", type=float, default=0.15,
                   help="before each model, wait while other processes use more than this share of "
                        "the CPUs (default 0.15)")
    t.add_argument("--load-wait", type=float, default=10.0,
                   help="wait at most this many seconds for a quiet machine, then go on and flag it "
                        "(default 10; 0 records the load without waiting)")
    t.add_argument("--noise-threshold", type=float, default=0.10,
                   help="flag a run noisy when (p90-p10)/median exceeds this (default 0.10)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all available cores)")
    p.add_argument("--device", default="auto", help="auto | cpu | gpu | gpu:N (default auto)")
    p.add_argument("--out", default=None,
                   help="output directory (default: a new ./paddle_flops_bench/<timestamp>/)")
    p.add_argument("--tag", default=None, help="file name stem (default bench_cpu or bench_gpu)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--per-layer", dest="per_layer", action="store_true", default=True,
                   help="per-layer timing and roofline (default on)")
    g.add_argument("--no-per-layer", dest="per_layer", action="store_false")
    p.add_argument("--per-layer-repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1 warm-up, 6 to 1 s of runs per mode, smaller peak measurement")
    p.add_argument("--no-plots", dest="plots", action="store_false", help="skip the PNG plots")
    p.add_argument("--plot-model", default=None,
                   help="draw the per-layer roofline of this model only (default: one panel per model)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("--no-pin-malloc", dest="pin_malloc", action="store_false",
                   help="leave glibc's dynamic mmap threshold on (eager timings then depend on what "
                        "the process allocated before)")
    p.add_argument("--verbose", action="store_true",
                   help="let Paddle's own warnings and C++ messages through to the terminal")
    w = p.add_argument_group("other workloads (instead of the inference sweep)")
    w.add_argument("--train", action="store_true",
                   help="time real training steps (forward + backward + AdamW) next to profile(training=True): "
                        "step time, FLOP/s, MFU/HFU, measured vs estimated peak memory; --models from "
                        "resnet50, vit_b16, gpt2_small (default all), each in a fresh process")
    w.add_argument("--steps", type=int, default=3,
                   help="--train: timed steps per model after one untimed warm-up step (default 3)")
    w.add_argument("--generate", type=_ints, default=None, metavar="P,T",
                   help="time a real prefill of P tokens + T decode steps next to profile_generation's "
                        "estimate (TTFT, TPOT, tokens/s); --models llama_small (default), llama_medium or "
                        "paddlenlp_llama (needs PaddleNLP); batch from --batch-sizes")
    return p


def _error(msg: str) -> int:
    print(f"paddle-flops bench: error: {msg}", file=sys.stderr)
    return 2


def config_from_args(args, argv, env=None):
    from .merge import dist_env
    from .modes import DEFAULT_MODES
    from .runner import BenchConfig, default_out_dir
    dist = dist_env(os.environ if env is None else env)
    return BenchConfig(
        models=args.models, batch_sizes=args.batch_sizes, input_sizes=args.input_sizes,
        seq_lens=args.seq_lens, modes=args.modes or list(DEFAULT_MODES), repeats=args.repeats, warmup=args.warmup,
        min_repeats=args.min_repeats, max_repeats=args.max_repeats, budget_s=args.budget,
        ci_target=args.ci_target, threads=args.threads,
        device=(f"gpu:{dist['device_id']}" if dist["world"] > 1 and str(args.device).startswith("gpu")
                else args.device),
        per_layer=args.per_layer, per_layer_repeats=args.per_layer_repeats, quick=args.quick,
        out=args.out or default_out_dir(), tag=args.tag, plots=args.plots, plot_model=args.plot_model,
        sample_shape=args.input_shape, dtype=args.dtype, noise_threshold=args.noise_threshold,
        load_threshold=args.load_threshold, load_wait_s=args.load_wait, progress=args.progress,
        quiet=not args.verbose, pin_malloc=args.pin_malloc, rank=dist["rank"], world=dist["world"],
        command="paddle-flops bench" + ("" if not argv else " " + shlex.join(argv)))


def main(argv=None) -> int:
    """``paddle-flops bench`` with ``argv`` (the arguments after ``bench``);
    returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:           # argparse: --help (0) or a usage error (2)
        return int(e.code or 0)
    if args.list:
        from .zoo import DEFAULT_ORDER, default_zoo
        zoo, notes = default_zoo()
        for n in DEFAULT_ORDER:
            if n in zoo:
                print(f"{n:20s} {zoo[n].input_kind}")
        for n in notes:
            print(f"note: {n}")
        return 0
    if args.train or args.generate is not None:
        return _other_workload(args)
    if args.processes < 1:
        return _error(f"--processes: must be >= 1 (got {args.processes})")
    from .runner import ConfigError, failed_runs, resolve_device, run_benchmark, validate
    cfg = config_from_args(args, argv)
    try:
        validate(cfg)
        if args.processes > 1 and cfg.world > 1:
            raise ConfigError("--processes: not with paddle.distributed.launch (each rank is one process)")
        from ..quiet import quiet
        with quiet(cfg.quiet):
            resolve_device(cfg.device)
    except ConfigError as e:
        return _error(str(e))
    if args.processes > 1:
        doc = run_processes(argv, args.processes, cfg)
    else:
        try:
            doc = run_benchmark(cfg)
        except ConfigError as e:
            return _error(str(e))
    if cfg.world > 1 and cfg.rank != 0:
        print(f"rank {cfg.rank}: {len(doc['results'])} rows written for rank 0 to merge")
        return 1 if failed_runs(doc) else 0
    return finish(doc)


def _other_workload(args) -> int:
    """``--train`` / ``--generate``: results in ``--out`` (default a new
    ``./paddle_flops_bench/<timestamp>/``), a table on the terminal."""
    from .runner import default_out_dir
    if args.train and args.generate is not None:
        return _error("--train and --generate: give one of them")
    out_dir = args.out or default_out_dir()
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        return _error(f"--out: cannot create {out_dir!r} ({e.strerror})")
    if args.train:
        from .train import MODELS, run
        return run(args.models or list(MODELS), args.steps, 1, os.path.join(out_dir, args.tag or "train_cpu"))
    if len(args.generate) != 2:
        return _error(f"--generate: give P,T (prompt tokens, new tokens), got {args.generate}")
    from .generation import run
    models = args.models or ["llama_small"]
    status = 0
    for name in models:
        status = max(status, run(name, args.generate[0], args.generate[1], args.batch_sizes[0],
                                 args.repeats or 5, os.path.join(out_dir, f"{args.tag or 'generation'}_{name}"),
                                 command=f"paddle-flops bench --generate {args.generate[0]},{args.generate[1]} "
                                         f"--models {name}"))
    return status


def finish(doc: dict) -> int:
    from .report import summary_table
    from .runner import failed_runs
    print(summary_table(doc))
    for kind, path in doc.get("files", {}).items():
        if kind == "plots_skipped":
            print(f"plots skipped: {path}")
        else:
            print(f"wrote {path}")
    failed = failed_runs(doc)
    if failed:
        print(f"{len(failed)} run(s) failed; their rows give the reason.", file=sys.stderr)
        return 1
    return 0


def run_processes(argv: list, n: int, cfg) -> dict:
    """The whole measurement in ``n`` fresh interpreters, one after the other;
    their documents merged (:func:`.merge.merge_processes`) and written."""
    from .merge import merge_processes
    from .report import write_all
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    tmp = tempfile.mkdtemp(prefix=".processes_", dir=cfg.out)
    docs = []
    for i in range(n):
        out_i = os.path.join(tmp, f"p{i}")
        code = ("import sys; from paddle_flops_ext.bench.cli import main; "
                "raise SystemExit(main(sys.argv[1:]))")
        # later options win in argparse: the child writes its part into out_i
        subprocess.run([sys.executable, "-c", code, *argv, "--processes", "1", "--out", out_i,
                        "--tag", "part", "--no-plots"], env=env, stdout=subprocess.DEVNULL)
        try:
            with open(os.path.join(out_i, "part.json"), encoding="utf-8") as f:
                docs.append(json.load(f))
        except (OSError, ValueError) as e:
            print(f"process {i + 1} of {n} wrote no results ({e})", file=sys.stderr)
    if not docs:
        raise SystemExit(_error("--processes: no process produced results"))
    doc = merge_processes(docs)
    doc["command"] = cfg.command
    stem = cfg.tag or f"bench_{'gpu' if str(doc['machine'].get('device')).startswith('gpu') else 'cpu'}"
    doc["files"] = write_all(doc, cfg.out, stem, plots=cfg.plots, plot_model=cfg.plot_model)
    return doc


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
