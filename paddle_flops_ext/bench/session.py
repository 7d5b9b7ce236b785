"""What ``paddle-flops bench`` runs once its command line is parsed
(:mod:`paddle_flops_ext.cli.bench`): the inference sweep, in this process or
in fresh ones, or one of the other workloads, then the summary.

With no arguments it is quick: two small models
(:data:`~paddle_flops_ext.models.zoo.QUICK_MODELS`) at batch 1, 224x224, in
eager and Paddle Inference fp32 (:data:`.modes.QUICK_MODES`), one warm-up and
at most 1 s of timed runs per mode, the small peak measurement, per-layer
timing. ``--thorough`` is the citable run: the embedded zoo
(:data:`.zoo.DEFAULT_ORDER`, sequence length 128 for the decoder), eager,
to_static and Paddle Inference (fp32, bf16 where the CPU has it, int8
reported unavailable), adaptive timing to a 2 % interval, the full peak
measurement. Either writes ``bench_<cpu|gpu>.{json,md,csv}`` plus plots into a
new directory ``./paddle_flops_bench/<timestamp>/`` (``--out`` to choose),
then prints a summary table fitted to the terminal.

Every argument is checked before any work; a bad one prints one line naming
the flag and exits with status 2. The exit status is 1 when any
model/mode run failed (its row in the results says why), 0 otherwise.

``--processes N`` runs the whole measurement in N fresh processes one after
the other and merges them (:func:`.merge.merge_processes`). Under ``python -m
paddle.distributed.launch --nproc_per_node K benchmarks/run_bench.py`` each
rank times its share of the grid on its own device and rank 0 writes the
merged report.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import shutil
import tempfile

from ..errors import ConfigError
from ..files import check_stem
from ..quiet import quiet
from . import generation, train
from .merge import dist_env, merge_processes
from ..models.zoo import QUICK_MODELS
from ..report.render import terminal_width, wrap_lines
from .modes import DEFAULT_MODES, QUICK_MODES
from .report import summary_table, write_all
from .runner import BenchConfig, default_out_dir, failed_runs, resolve_device, run_benchmark, validate


def _error(msg: str) -> int:
    print("\n".join(wrap_lines([f"paddle-flops bench: error: {msg}"], terminal_width())), file=sys.stderr)
    return 2


def config_from_args(args, argv, env=None):
    dist = dist_env(os.environ if env is None else env)
    thorough = args.thorough
    return BenchConfig(
        models=args.models if args.models is not None else (None if thorough else list(QUICK_MODELS)),
        batch_sizes=args.batch_sizes, input_sizes=args.input_sizes, seq_lens=args.seq_lens,
        modes=args.modes or list(DEFAULT_MODES if thorough else QUICK_MODES), repeats=args.repeats,
        warmup=args.warmup,
        min_repeats=args.min_repeats, max_repeats=args.max_repeats, budget_s=args.budget,
        ci_target=args.ci_target, threads=args.threads,
        device=(f"gpu:{dist['device_id']}" if dist["world"] > 1 and str(args.device).startswith("gpu")
                else args.device),
        per_layer=args.per_layer, per_layer_repeats=args.per_layer_repeats, quick=not thorough,
        out=args.out or default_out_dir(), tag=args.tag, plots=args.plots, plot_model=args.plot_model,
        sample_shape=args.input_shape, dtype=args.dtype, noise_threshold=args.noise_threshold,
        load_threshold=args.load_threshold, load_wait_s=args.load_wait, progress=args.progress,
        quiet=not args.verbose, pin_malloc=args.pin_malloc, rank=dist["rank"], world=dist["world"],
        command="paddle-flops bench" + ("" if not argv else " " + shlex.join(argv)))


def run(args, argv: list) -> int:
    """``paddle-flops bench`` with parsed ``args`` from ``argv`` (the
    arguments after ``bench``); returns the exit status."""
    if args.train or args.generate is not None:
        return _other_workload(args)
    if args.processes < 1:
        return _error(f"--processes: must be >= 1 (got {args.processes})")
    if args.quick and args.thorough:
        return _error("--quick and --thorough: give one of them (quick is the default)")
    cfg = config_from_args(args, argv)
    try:
        validate(cfg)
        if args.processes > 1 and cfg.world > 1:
            raise ConfigError("--processes: not with paddle.distributed.launch (each rank is one process)")
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
    if args.train and args.generate is not None:
        return _error("--train and --generate: give one of them")
    if args.tag is not None:
        try:
            check_stem(args.tag, "--tag")
        except ValueError as e:
            return _error(str(e))
    out_dir = args.out or default_out_dir()
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        return _error(f"--out: cannot create {out_dir!r} ({e.strerror})")
    if args.train:
        return train.run(args.models or list(train.MODELS), args.steps, 1,
                         os.path.join(out_dir, args.tag or "train_cpu"))
    if len(args.generate) != 2:
        return _error(f"--generate: give P,T (prompt tokens, new tokens), got {args.generate}")
    models = args.models or ["llama_small"]
    status = 0
    for name in models:
        status = max(status, generation.run(
            name, args.generate[0], args.generate[1], args.batch_sizes[0], args.repeats or 5,
            os.path.join(out_dir, f"{args.tag or 'generation'}_{name}"),
            command=f"paddle-flops bench --generate {args.generate[0]},{args.generate[1]} --models {name}"))
    return status


def finish(doc: dict) -> int:
    print(summary_table(doc, terminal_width()))
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
    """The whole measurement in ``n`` fresh interpreters (``python -m
    paddle_flops_ext bench``), one after the other; their documents merged
    (:func:`.merge.merge_processes`) and written."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    tmp = tempfile.mkdtemp(prefix=".processes_", dir=cfg.out)
    try:
        docs = _run_parts(argv, n, env, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not docs:
        raise SystemExit(_error("--processes: no process produced results"))
    doc = merge_processes(docs)
    doc["command"] = cfg.command
    stem = cfg.tag or f"bench_{'gpu' if str(doc['machine'].get('device')).startswith('gpu') else 'cpu'}"
    doc["files"] = write_all(doc, cfg.out, stem, plots=cfg.plots, plot_model=cfg.plot_model)
    return doc


def _run_parts(argv: list, n: int, env: dict, tmp: str) -> list:
    docs = []
    for i in range(n):
        out_i = os.path.join(tmp, f"p{i}")
        # later options win in argparse: the child writes its part into out_i
        subprocess.run([sys.executable, "-m", "paddle_flops_ext", "bench", *argv, "--processes", "1",
                        "--out", out_i, "--tag", "part", "--no-plots"], env=env, stdout=subprocess.DEVNULL)
        try:
            with open(os.path.join(out_i, "part.json"), encoding="utf-8") as f:
                docs.append(json.load(f))
        except (OSError, ValueError) as e:
            print(f"process {i + 1} of {n} wrote no results ({e})", file=sys.stderr)
    return docs
