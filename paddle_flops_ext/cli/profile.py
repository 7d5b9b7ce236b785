"""``paddle-flops profile MODEL`` (``profile`` may be left out): parameters,
MACs and FLOPs per layer and in total, as a table, Markdown, CSV or JSON."""
from __future__ import annotations

import inspect
import os
import sys
from importlib import import_module

from ..loading import saved_model_prefix
from ..models.zoo import ZOO, InputShape
from ..quiet import import_paddle_quietly, quiet
from .output import check_output, output_format, render, run_or_exit, write_report
from .parser import COMPACT_ROWS, DTYPES, EXIT_STRICT, UsageError


def _arity_error(model, inputs: list[InputShape]) -> UsageError | None:
    """Before running: the number of inputs against forward's positional ones."""
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return None
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
    forward = f"{type(model).__name__}.forward"
    if len(inputs) < len(required):
        template = " ".join(f"--input <{p.name} shape>[:dtype]" for p in required)
        return UsageError("--input", f"{forward} takes {len(required)} inputs "
                                     f"({', '.join(p.name for p in required)}) but {len(inputs)} was given; give "
                                     f"one --input per input, in this order: {template}")
    if not varargs and len(inputs) > len(positional):
        return UsageError("--input", f"{forward} takes {len(positional)} input(s) but {len(inputs)} were given")
    return None


def _flags(inputs: list[InputShape]) -> str:
    return " ".join(f"--input {s}" for s in inputs)


def _int_hint(model, inputs: list[InputShape], count) -> str:
    """A command line that works for a model whose Embedding got float
    input: one input turned into int64 token ids, tried here first (an
    extra count of the model, on this error only)."""
    candidates = []
    for i, s in enumerate(inputs):
        if s.dtype.startswith(("float", "bfloat")):
            shape = s.shape if len(inputs) > 1 or len(s.shape) == 2 else (s.shape[0], 128)
            candidates.append(inputs[:i] + [InputShape(shape, "int64")] + inputs[i + 1:])
    for candidate in candidates:
        try:
            count(candidate)
        except Exception:  # noqa: BLE001 - this candidate does not work either; try the next
            continue
        return f"token ids are integers: try {_flags(candidate)}"
    return "token ids are integers: give that input as --input SHAPE:int64"


def _explain_forward_error(exc: Exception, inputs: list[InputShape], model, count) -> UsageError:
    text = str(exc)
    cause = str(exc.__cause__ or "")
    layer_type = getattr(exc, "layer_type", None) or ""
    floats = [s for s in inputs if s.dtype.startswith(("float", "bfloat"))]
    if floats and ("Embedding" in layer_type or "embedding input" in cause):
        return UsageError("--input", f"an Embedding got {floats[0].dtype} input; {_int_hint(model, inputs, count)}")
    text = text.replace("Check input_size / inputs", "Check --input")
    return UsageError("--input", text)


def inputs_from_args(args) -> list[InputShape] | None:
    """``--input`` (one per input), or the older ``--input-size`` with one
    ``--dtype``; ``None``: the model's defaults."""
    if args.input:
        return list(args.input)
    if args.input_size:
        return [InputShape(tuple(shape), args.dtype or "float32") for shape in args.input_size]
    if args.dtype:
        return [InputShape((1, 3, 224, 224), args.dtype)]
    return None


def _profile(args):
    """Load and count inside ``quiet``; returns the result."""
    with quiet(enabled=not args.verbose):
        paddle = import_module("paddle") if args.verbose else import_paddle_quietly()
        from ..api import profile  # local: keeps Paddle out of --help
        from .. import ForwardError  # local: keeps Paddle out of --help
        from ..bench.zoo import build_named  # local: keeps Paddle out of --help
        training = {"training": True, "optimizer": args.optimizer, "amp": args.amp or False} if args.train else {}
        options = dict(mode=args.mode, causal=args.causal, count_functional=args.count_functional,
                       time_layers=args.time_layers, **training)
        if saved_model_prefix(args.model) is not None:
            return _profile_saved(args, profile, options)
        try:
            named = build_named(args.model, inputs_from_args(args), args.model_kwargs)
        except ValueError as exc:
            raise UsageError("MODEL", str(exc)) from exc
        model, inputs = named.model, named.inputs
        error = _arity_error(model, inputs)
        if error is not None:
            raise error

        def count(shapes):
            specs = [paddle.static.InputSpec(list(s.shape), s.dtype) for s in shapes]
            return profile(model, input_spec=specs, **options)
        try:
            return count(inputs)
        except ForwardError as exc:
            raise _explain_forward_error(exc, inputs, model, count) from exc


def _profile_saved(args, profile, options: dict):
    """A saved model: its saved input dtypes, at its saved shapes or at
    the --input shapes."""
    from ..loading import load_saved  # local: keeps Paddle out of --help
    if args.dtype is not None:
        raise UsageError("--dtype", "a saved model's inputs keep the dtypes they were saved with; drop --dtype")
    if any(s.dtype != "float32" for s in args.input or []):
        raise UsageError("--input", "a saved model's inputs keep the dtypes they were saved with; give shapes "
                                    "only (--input SHAPE)")
    if args.model_kwargs is not None:
        raise UsageError("--model-kwargs", "a saved model is not called with keyword arguments; drop --model-kwargs")
    try:
        model = load_saved(args.model)
    except ValueError as exc:
        raise UsageError("MODEL", str(exc)) from exc
    shapes = inputs_from_args(args)
    try:
        return profile(model, None if shapes is None else [list(s.shape) for s in shapes], **options)
    except ValueError as exc:    # sizes the saved program cannot take
        raise UsageError("--input", str(exc).replace("input_size", "--input")) from exc


def _check_combinations(parser, args) -> None:
    """Flags that are each valid but do not go together; checked before any work."""
    if args.dtype and args.dtype not in DTYPES:       # one dtype per input, written as --dtype 'a;b'
        dtypes = [d.strip() for d in args.dtype.replace(",", ";").split(";")]
        shapes = args.input_size or []
        if len(shapes) == len(dtypes) and all(d in DTYPES for d in dtypes):
            fix = "; write " + _flags([InputShape(tuple(s), d) for s, d in zip(shapes, dtypes)])
        else:
            fix = ", e.g. --input 1,3,224,224 --input 1,16:int64"
        parser.error(f"argument --dtype: one dtype for every input; give each input its own with "
                     f"--input SHAPE:DTYPE{fix}")
    if args.input and (args.input_size or args.dtype):
        parser.error(f"argument --input: replaces --input-size and --dtype; drop "
                     f"{'--input-size' if args.input_size else '--dtype'}")
    if args.depth is not None and args.by != "layer":
        parser.error(f"argument --depth: applies to --by layer only (got --by {args.by}); drop --depth")
    if args.sort == "params" and args.by == "op":
        parser.error("argument --sort: operations hold no parameters; use --sort flops or macs with --by op")
    if (args.optimizer or args.amp) and not args.train:
        parser.error(f"argument --{'optimizer' if args.optimizer else 'amp'}: describes a training step; add --train")
    args.format = output_format(args)
    check_output(parser, args)


def _depth(args, result) -> tuple[int | None, str | None]:
    """The depth to show, and the footer line saying how to see everything
    when the terminal got the compact view."""
    if args.depth == "all":
        return None, None
    if args.depth is not None or args.by != "layer" or args.top or args.format != "table" or args.output:
        return args.depth, None
    from ..report.views import compact_depth  # local: keeps Paddle out of --help
    depth = compact_depth(result, COMPACT_ROWS)
    if depth is None:
        return None, None
    layers = sum(1 for _ in result.root.walk())
    return depth, (f"Showing the layer tree to depth {depth} (of {layers} layers); --depth all lists every "
                   f"layer, --depth N another depth")


def _write_csv_summary(content, output: str) -> None:
    """Beside ``-o FILE.csv`` (layer rows only): ``FILE.totals.csv``, the whole model's figures."""
    from ..files import write_text  # local: only -o FILE.csv needs it
    stem, _ = os.path.splitext(output)
    path = f"{stem}.totals.csv"
    write_text(path, content.summary_csv())
    print(f"wrote {path} (totals, memory, reconciliation: section,name,detail,value)", file=sys.stderr)


def run(args, parser, argv) -> int:
    _check_combinations(parser, args)
    result = run_or_exit(parser, args, lambda: _profile(args), (UsageError,))
    depth, compact = _depth(args, result)
    language_model = args.model in ZOO and ZOO[args.model].kind == "llm"
    content = result.report(by=args.by, depth=depth, top=args.top, rank=args.sort, language_model=language_model)
    if compact:
        content.footer.append(compact)
    write_report(render(content, args.format, args.output), args.output, args.format)
    if args.format == "csv":
        if args.output:
            _write_csv_summary(content, args.output)
        else:
            print("(the CSV holds one line per row; totals, memory and notes: --format json, or -o FILE.csv "
                  "also writes FILE.totals.csv)", file=sys.stderr)
    if args.strict and content.uncounted:
        names = ", ".join(f"{u.name} (x{u.calls})" for u in content.uncounted)
        print(f"{parser.prog}: --strict: these ran with no counting formula: {names}; register a "
              f"handler (paddle_flops_ext.register) or drop --strict", file=sys.stderr)
        return EXIT_STRICT
    if args.strict and result.inexact:
        print(f"{parser.prog}: --strict: the counts are not exact: {'; '.join(result.inexact)}", file=sys.stderr)
        return EXIT_STRICT
    return 0
