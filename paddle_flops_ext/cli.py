"""``paddle-flops`` / ``python -m paddle_flops_ext``: profile a model given as
``module:callable``; ``paddle-flops bench ...`` runs the benchmark harness."""
from __future__ import annotations

import argparse
import sys


def load_model(spec: str, kwargs: str | None = None):
    """CLI wrapper of :func:`paddle_flops_ext.loading.load_model`: ``kwargs``
    is JSON text; errors end the command with a message."""
    import json
    from .loading import load_model as load
    try:
        return load(spec, json.loads(kwargs) if kwargs else None)
    except (ValueError, json.JSONDecodeError) as exc:
        raise SystemExit(str(exc))


def parse_size(text: str):
    """'1,3,224,224' -> [1, 3, 224, 224]; '1,16;1,16' -> two inputs."""
    try:
        shapes = [[int(d) for d in part.split(",") if d.strip()] for part in text.split(";")]
    except ValueError:
        raise SystemExit(f"--input-size must look like 1,3,224,224 (got {text!r})")
    return shapes[0] if len(shapes) == 1 else shapes


def build_parser():
    p = argparse.ArgumentParser(prog="paddle-flops", description=(
        "Count parameters, MACs and FLOPs of a PaddlePaddle model. "
        "Use 'paddle-flops bench --help' for measured latency and "
        "'paddle-flops formulas' for the table of counting conventions."))
    p.add_argument("model", help="module:callable returning a paddle.nn.Layer, e.g. paddle.vision.models:resnet50")
    p.add_argument("--input-size", default="1,3,224,224", help="input shape, e.g. 1,3,224,224 (';' separates inputs)")
    p.add_argument("--dtype", default="float32", help="input dtype (int64 for token ids)")
    p.add_argument("--depth", type=int, default=None, help="hierarchical table down to this depth")
    p.add_argument("--format", choices=["table", "json", "csv", "markdown"], default="table")
    p.add_argument("--model-kwargs", default=None, help="JSON dict of keyword arguments for the callable")
    p.add_argument("--mode", choices=["eager", "trace"], default="eager")
    p.add_argument("--causal", choices=["full", "half"], default="full")
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":
        from .bench.cli import main as bench_main
        return bench_main(argv[1:])
    if argv and argv[0] == "formulas":
        from . import formulas  # noqa: F401  (registers the built-ins)
        from .report.conventions import conventions_markdown
        print(conventions_markdown(), end="")
        return 0
    args = build_parser().parse_args(argv)
    import paddle
    from .api import profile
    model = load_model(args.model, args.model_kwargs)
    size = parse_size(args.input_size)
    shapes = size if isinstance(size[0], list) else [size]
    specs = [paddle.static.InputSpec(s, args.dtype) for s in shapes]
    result = profile(model, input_spec=specs, mode=args.mode, causal=args.causal)
    if args.format == "json":
        print(result.to_json())
    elif args.format == "csv":
        print(result.to_csv(), end="")
    elif args.format == "markdown":
        print(result.to_markdown(args.depth))
    else:
        print(result.table(args.depth))
    return 0
