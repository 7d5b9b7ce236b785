"""``paddle-flops bench``: measured latency next to the counts
(:mod:`paddle_flops_ext.bench.session` runs it), and the committed training
and generation benchmarks (``bench-train``, ``bench-generation``:
``benchmarks/bench_train.py``, ``benchmarks/bench_generation.py``).
"""
from __future__ import annotations

from ..models.zoo import TRAIN_MODELS
from ..quiet import import_paddle_quietly


def _list() -> int:
    from ..bench.zoo import DEFAULT_ORDER, default_zoo  # local: keeps Paddle out of --help
    zoo, notes = default_zoo()
    for n in DEFAULT_ORDER:
        if n in zoo:
            print(f"{n:20s} {zoo[n].input_kind}")
    for n in notes:
        print(f"note: {n}")
    return 0


def run(args, parser, argv) -> int:
    if not args.verbose:    # Paddle's import warning out of the way; bench quiets the rest
        import_paddle_quietly()
    if args.list:
        return _list()
    from ..bench import session  # local: keeps Paddle out of --help
    return session.run(args, argv)


def run_train(args, parser, argv) -> int:
    import_paddle_quietly()
    from ..bench.train import run as run_training  # local: keeps Paddle out of --help
    models = args.models.split(",") if args.models is not None else list(TRAIN_MODELS)
    return run_training(models, args.steps, args.warmup, args.out)


def run_generation(args, parser, argv) -> int:
    import_paddle_quietly()
    from ..bench.generation import run as run_generation_bench  # local: keeps Paddle out of --help
    return run_generation_bench(args.model, args.prompt, args.new, args.batch, args.repeats, args.out,
                                command="paddle-flops bench --generate " + " ".join(argv))
