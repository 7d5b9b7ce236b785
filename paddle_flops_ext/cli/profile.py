"""``paddle-flops profile MODEL`` (``profile`` may be left out): parameters,
MACs and FLOPs per layer and in total, as a table, Markdown, CSV or JSON."""
from __future__ import annotations

import inspect
import sys
from importlib import import_module

from ..loading import load_model, load_saved, saved_model_prefix
from ..quiet import import_paddle_quietly, quiet
from ..report.render import RENDERERS
from .output import check_output, output_format, run_or_exit, write_report
from .parser import EXIT_STRICT, UsageError

DEFAULT_INPUT_SIZE = [1, 3, 224, 224]


def _forward_arity_error(model, shapes: list) -> UsageError | None:
    """Before running: the number of shapes against forward's positional inputs."""
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return None
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
    forward = f"{type(model).__name__}.forward"
    if len(shapes) < len(required):
        names = ", ".join(p.name for p in required)
        example = ";".join(",".join(map(str, shapes[0])) for _ in required)
        return UsageError("--input-size", f"{forward} takes {len(required)} inputs ({names}) but "
                                          f"{len(shapes)} shape was given; give one shape per input, "
                                          f"separated by ';', e.g. --input-size \"{example}\"")
    if not varargs and len(shapes) > len(positional):
        return UsageError("--input-size", f"{forward} takes {len(positional)} input(s) but {len(shapes)} "
                                          f"shapes were given (';' separates inputs)")
    return None


def _explain_forward_error(exc: Exception, dtype: str) -> UsageError:
    text = str(exc)
    cause = str(exc.__cause__ or "")
    layer_type = getattr(exc, "layer_type", None) or ""
    if dtype.startswith(("float", "bfloat")) and ("Embedding" in layer_type or "embedding input" in cause):
        return UsageError("--dtype", f"an Embedding got {dtype} input — try --dtype int64 "
                                     f"(token ids; the first shape is then batch,sequence)")
    text = text.replace("Check input_size / inputs", "Check --input-size / --dtype")
    return UsageError("--input-size", text)


def _profile(args):
    """Load and count inside ``quiet``; returns the result."""
    with quiet(enabled=not args.verbose):
        paddle = import_module("paddle") if args.verbose else import_paddle_quietly()
        from ..api import profile  # local: keeps Paddle out of --help
        from .. import ForwardError  # local: keeps Paddle out of --help
        training = {"training": True, "optimizer": args.optimizer, "amp": args.amp or False} if args.train else {}
        options = dict(mode=args.mode, causal=args.causal, count_functional=args.count_functional,
                       time_layers=args.time_layers, **training)
        if saved_model_prefix(args.model) is not None:
            return _profile_saved(args, profile, options)
        try:
            model = load_model(args.model, args.model_kwargs)
        except ValueError as exc:
            raise UsageError("MODEL", str(exc)) from exc
        shapes, dtype = args.input_size or [DEFAULT_INPUT_SIZE], args.dtype or "float32"
        error = _forward_arity_error(model, shapes)
        if error is not None:
            raise error
        specs = [paddle.static.InputSpec(shape, dtype) for shape in shapes]
        try:
            return profile(model, input_spec=specs, **options)
        except ForwardError as exc:
            raise _explain_forward_error(exc, dtype) from exc


def _profile_saved(args, profile, options: dict):
    """A saved model: its saved input dtypes, at its saved shapes or at
    --input-size."""
    if args.dtype is not None:
        raise UsageError("--dtype", "a saved model's inputs keep the dtypes they were saved with; drop --dtype")
    if args.model_kwargs is not None:
        raise UsageError("--model-kwargs", "a saved model is not called with keyword arguments; drop --model-kwargs")
    try:
        model = load_saved(args.model)
    except ValueError as exc:
        raise UsageError("MODEL", str(exc)) from exc
    try:
        return profile(model, args.input_size, **options)
    except ValueError as exc:    # sizes the saved program cannot take
        raise UsageError("--input-size", str(exc).replace("input_size", "--input-size")) from exc


def _check_combinations(parser, args) -> None:
    """Flags that are each valid but do not go together; checked before any work."""
    if args.depth is not None and args.by != "layer":
        parser.error(f"argument --depth: applies to --by layer only (got --by {args.by}); drop --depth")
    if args.sort == "params" and args.by == "op":
        parser.error("argument --sort: operations hold no parameters; use --sort flops or macs with --by op")
    if (args.optimizer or args.amp) and not args.train:
        parser.error(f"argument --{'optimizer' if args.optimizer else 'amp'}: describes a training step; add --train")
    args.format = output_format(args)
    check_output(parser, args)


def run(args, parser, argv) -> int:
    _check_combinations(parser, args)
    result = run_or_exit(parser, args, lambda: _profile(args), (UsageError,))
    content = result.report(by=args.by, depth=args.depth, top=args.top, rank=args.sort)
    write_report(RENDERERS[args.format](content), args.output, args.format)
    if args.strict and content.uncounted:
        names = ", ".join(f"{u.name} (x{u.calls})" for u in content.uncounted)
        print(f"{parser.prog}: --strict: these ran with no counting formula: {names}; register a "
              f"handler (paddle_flops_ext.register) or drop --strict", file=sys.stderr)
        return EXIT_STRICT
    if args.strict and result.inexact:
        print(f"{parser.prog}: --strict: the counts are not exact: {'; '.join(result.inexact)}", file=sys.stderr)
        return EXIT_STRICT
    return 0
