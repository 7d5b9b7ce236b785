"""``paddle-flops`` / ``python -m paddle_flops_ext``.

    paddle-flops profile MODEL [options]   count params / MACs / FLOPs (``profile`` may be left out)
    paddle-flops bench [options]           measured latency next to the counts
    paddle-flops formulas                  the table of counting conventions
    paddle-flops llm CONFIG --seq-len N    a language model from its config.json, no weights

Paddle is imported only when a command needs it, so ``--help`` and
``--version`` answer at once. A mistake in the command line ends with one or
two lines that name the flag and the fix, and exit status 2 (``--traceback``
shows the full trace instead).
"""
from __future__ import annotations

import argparse
import inspect
import json
from importlib import import_module
import os
import sys

COMMANDS = ("profile", "bench", "formulas", "llm")
DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")
FORMATS = ("table", "markdown", "csv", "json")
FORMAT_OF_SUFFIX = {".md": "markdown", ".markdown": "markdown", ".csv": "csv", ".json": "json", ".txt": "table"}
EXIT_USAGE = 2
EXIT_STRICT = 1


class UsageError(Exception):
    """A mistake in the command line: the message names the flag and the fix."""

    def __init__(self, flag: str, message: str):
        super().__init__(f"{flag}: {message}")


class Parser(argparse.ArgumentParser):
    """Errors in one line (no usage block), pointing at ``--help``."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n"
                              f"(see '{self.prog} --help')\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each option's default, except for flags and unset options."""

    def _get_help_string(self, action):
        if action.default is None or action.nargs == 0:      # unset options, on/off flags
            return action.help
        return super()._get_help_string(action)


# --------------------------------------------------------------------------- argument types
# Each raises argparse.ArgumentTypeError with the fix; argparse prefixes the flag.

def input_shapes(text: str) -> list[list[int]]:
    """'1,3,224,224' -> [[1, 3, 224, 224]]; '2,16;2,4' -> two inputs."""
    example = "e.g. 1,3,224,224, or 2,16;2,4 for a forward taking two inputs"
    if not text.strip():
        raise argparse.ArgumentTypeError(f"is empty; give the input shape, {example}")
    shapes = []
    for part in text.split(";"):
        dims = [d.strip() for d in part.split(",")]
        if not part.strip() or "" in dims:
            raise argparse.ArgumentTypeError(f"{text!r} has an empty shape or dimension; {example}")
        for d in dims:
            try:
                value = int(d)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{d!r} in {text!r} is not an integer; {example}") from None
            if value == -1:
                raise argparse.ArgumentTypeError(
                    f"-1 (a dynamic size) in {text!r}: give the actual size, e.g. 1 for the batch")
            if value < 1:
                raise argparse.ArgumentTypeError(f"dimension {value} in {text!r}: every dimension must be >= 1")
        shapes.append([int(d) for d in dims])
    return shapes


def _int_at_least(minimum: int, meaning: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum} ({meaning}), got {text!r}")
        return value
    return parse


def json_object(text: str) -> dict:
    example = """e.g. '{"num_classes": 10}' (keys and strings in double quotes)"""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"is not valid JSON ({exc.msg}); give a JSON object, {example}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object, got {type(value).__name__}; {example}")
    return value


def model_spec(text: str) -> str:
    module, _, attr = text.rpartition(":")
    if not module or not attr:
        hint = (f"; to run the benchmark harness: paddle-flops {text} --help" if text in COMMANDS else "")
        raise argparse.ArgumentTypeError(
            f"{text!r} is not module:callable or path/to/file.py:callable "
            f"(e.g. paddle.vision.models:resnet50){hint}")
    return text


# --------------------------------------------------------------------------- parser

def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("paddle_flops_ext")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _add_profile_parser(sub) -> None:
    p = sub.add_parser(
        "profile", formatter_class=HelpFormatter,
        help="count parameters, MACs and FLOPs per layer (the default command)",
        description="Count parameters, MACs and FLOPs of a PaddlePaddle model, per layer and in total.\n"
                    "Every format (table, Markdown, CSV, JSON) carries the same rows, totals,\n"
                    "uncounted work, layers not called and notes; --depth, --by and --top apply to all.\n\n"
                    "exit status: 0 done, 1 --strict found work without a formula, 2 command-line mistake",
        epilog="examples:\n"
               "  paddle-flops paddle.vision.models:resnet50 --depth 1\n"
               "  paddle-flops mymodel.py:build --input-size 2,128 --dtype int64 --top 10\n"
               "  paddle-flops mymod:Net --input-size '2,16;2,4' --by type -o report.md")
    p.add_argument("model", type=model_spec, metavar="MODEL",
                   help="module:callable or path/to/file.py:callable returning a paddle.nn.Layer "
                        "(the current directory is importable), e.g. paddle.vision.models:resnet50")
    inp = p.add_argument_group("input")
    inp.add_argument("--input-size", type=input_shapes, default="1,3,224,224", metavar="SHAPE",
                     help="input shape, dimensions >= 1; ';' separates the inputs of a forward "
                          "taking several, e.g. '2,16;2,4'")
    inp.add_argument("--dtype", choices=DTYPES, default="float32", metavar="DTYPE",
                     help=f"input dtype, one of {', '.join(DTYPES)}; int64 for token ids "
                          f"(integer inputs get small valid ids)")
    inp.add_argument("--model-kwargs", type=json_object, default=None, metavar="JSON",
                     help="""keyword arguments for the callable as a JSON object, e.g. '{"num_classes": 10}'""")
    cnt = p.add_argument_group("counting")
    cnt.add_argument("--mode", choices=("eager", "trace"), default="eager",
                     help="eager runs the model; trace counts a traced program without running kernels")
    cnt.add_argument("--causal", choices=("full", "half"), default="full",
                     help="causal attention: the whole score matrix, or only the unmasked half")
    cnt.add_argument("--no-functional", dest="count_functional", action="store_false",
                     help="do not count operations written inside forward (listed as uncounted instead)")
    cnt.add_argument("--strict", action="store_true",
                     help="exit with status 1 if anything ran with no counting formula")
    cnt.add_argument("--time-layers", action="store_true",
                     help="also measure rough wall time per layer (a time column)")
    trn = p.add_argument_group("training")
    trn.add_argument("--train", action="store_true",
                     help="also count one training step: backward, optimizer step, training and hardware "
                          "FLOPs, training memory (eager or --mode trace)")
    trn.add_argument("--optimizer", choices=("sgd", "momentum", "adam", "adamw"), default=None,
                     help="the optimizer whose step is counted (needs --train)")
    trn.add_argument("--amp", choices=("O1", "O2"), default=None,
                     help="mixed precision for the memory estimate: O1 half activations, O2 also half "
                          "parameters/gradients plus fp32 master weights (needs --train)")
    out = p.add_argument_group("report")
    out.add_argument("--by", choices=("layer", "type", "op"), default="layer",
                     help="one row per layer (own work), per layer type, or per operation")
    out.add_argument("--depth", type=_int_at_least(0, "0 = the model only"), default=None, metavar="N",
                     help="--by layer: the layer tree down to depth N, each row the total of its "
                          "subtree, full dotted names (default: every layer, own work)")
    out.add_argument("--top", type=_int_at_least(1, "how many rows to keep"), default=None, metavar="K",
                     help="keep only the K rows with the most --sort (default: all rows)")
    out.add_argument("--sort", choices=("flops", "macs", "params"), default="flops",
                     help="what --top ranks by and the percentage column shows")
    out.add_argument("--format", choices=FORMATS, default=None,
                     help="output format (default: from the --output suffix .md/.csv/.json, else table)")
    out.add_argument("-o", "--output", default=None, metavar="FILE",
                     help="write the report to FILE instead of the terminal")
    dbg = p.add_argument_group("diagnostics")
    dbg.add_argument("--verbose", action="store_true",
                     help="show Paddle's warnings, logs and prints (hidden by default)")
    dbg.add_argument("--traceback", action="store_true", help="on an error, show the full Python traceback")
    p.set_defaults(run=run_profile, command_parser=p)


def build_parser() -> Parser:
    parser = Parser(prog="paddle-flops", formatter_class=HelpFormatter, description=(
        "Parameters, MACs and FLOPs of PaddlePaddle models, and measured latency next to them.\n"
        "'paddle-flops MODEL ...' is short for 'paddle-flops profile MODEL ...'."))
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    _add_profile_parser(sub)
    bench = sub.add_parser("bench", add_help=False,
                           help="measure latency next to the counts (see 'bench --help')")
    bench.set_defaults(run=run_bench, command_parser=bench)
    formulas = sub.add_parser("formulas", formatter_class=HelpFormatter,
                   help="print the counting conventions of every layer and operation (Markdown)",
                   description="Print the counting convention of every layer type and operation "
                               "as Markdown tables (the README's 'Every formula' section).")
    formulas.set_defaults(run=run_formulas, command_parser=formulas)
    from .llm.cli import add_llm_parser
    add_llm_parser(sub, Parser, HelpFormatter)
    return parser


def _with_command(argv: list[str]) -> list[str]:
    """'paddle-flops MODEL ...' means 'paddle-flops profile MODEL ...'."""
    if argv and argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version"):
        return ["profile"] + argv
    return argv


# --------------------------------------------------------------------------- profile

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
    from .quiet import import_paddle_quietly, quiet
    with quiet(enabled=not args.verbose):
        paddle = import_module("paddle") if args.verbose else import_paddle_quietly()
        from .api import profile
        from . import ForwardError
        from .loading import load_model
        try:
            model = load_model(args.model, args.model_kwargs)
        except ValueError as exc:
            raise UsageError("MODEL", str(exc)) from exc
        error = _forward_arity_error(model, args.input_size)
        if error is not None:
            raise error
        specs = [paddle.static.InputSpec(shape, args.dtype) for shape in args.input_size]
        try:
            training = {"training": True, "optimizer": args.optimizer, "amp": args.amp or False} if args.train else {}
            return profile(model, input_spec=specs, mode=args.mode, causal=args.causal,
                           count_functional=args.count_functional, time_layers=args.time_layers, **training)
        except ForwardError as exc:
            raise _explain_forward_error(exc, args.dtype) from exc


def _check_combinations(parser: Parser, args) -> None:
    """Flags that are each valid but do not go together; checked before any work."""
    if args.depth is not None and args.by != "layer":
        parser.error(f"argument --depth: applies to --by layer only (got --by {args.by}); drop --depth")
    if args.sort == "params" and args.by == "op":
        parser.error("argument --sort: operations hold no parameters; use --sort flops or macs with --by op")
    if (args.optimizer or args.amp) and not args.train:
        parser.error(f"argument --{'optimizer' if args.optimizer else 'amp'}: describes a training step; add --train")
    if args.format is None:
        suffix = os.path.splitext(args.output or "")[1].lower()
        args.format = FORMAT_OF_SUFFIX.get(suffix, "table")
    if args.output:
        folder = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(folder):
            parser.error(f"argument -o/--output: folder {folder!r} does not exist; create it or pick another FILE")


def exit_unexpected(parser, args, exc: Exception) -> None:
    """An error that is not the user's: one line (the full trace with
    ``--traceback``), exit status 1."""
    if args.traceback:
        raise exc
    parser.exit(1, f"{parser.prog}: error: {type(exc).__name__}: {exc}\n"
                   f"(run again with --traceback for the full trace)\n")


def write_report(text: str, output: str | None, fmt: str) -> None:
    """The rendered report to ``-o FILE`` (saying so on stderr) or stdout."""
    text = text.rstrip("\n") + "\n"
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {output} ({fmt})", file=sys.stderr)
    else:
        sys.stdout.write(text)


def run_profile(args, parser: Parser) -> int:
    _check_combinations(parser, args)
    try:
        result = _profile(args)
    except UsageError as exc:
        if args.traceback:
            raise
        parser.exit(EXIT_USAGE, f"{parser.prog}: error: {exc}\n")
    except Exception as exc:  # noqa: BLE001
        exit_unexpected(parser, args, exc)
    content = result.report(by=args.by, depth=args.depth, top=args.top, rank=args.sort)
    render = {"table": content.table, "markdown": content.to_markdown,
              "csv": content.to_csv, "json": content.to_json}[args.format]
    write_report(render(), args.output, args.format)
    if args.strict and content.uncounted:
        names = ", ".join(f"{u.name} (x{u.calls})" for u in content.uncounted)
        print(f"{parser.prog}: --strict: these ran with no counting formula: {names}; register a "
              f"handler (paddle_flops_ext.register) or drop --strict", file=sys.stderr)
        return EXIT_STRICT
    return 0


def run_bench(args, parser: Parser, bench_argv: list) -> int:
    if "--verbose" not in bench_argv:    # Paddle's import warning out of the way; bench quiets the rest
        from .quiet import import_paddle_quietly
        import_paddle_quietly()
    from .bench.cli import main as bench_main
    return bench_main(bench_argv)


def run_formulas(args, parser: Parser) -> int:
    from .quiet import import_paddle_quietly
    import_paddle_quietly()
    from . import formulas  # noqa: F401  (registers the built-ins)
    from .report.conventions import conventions_markdown
    print(conventions_markdown(), end="")
    return 0


def _importable_cwd() -> None:
    """The console script, unlike ``python -m``, does not put the current
    directory on ``sys.path``; ``paddle-flops mymod:build`` needs it."""
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def main(argv=None) -> int:
    argv = _with_command(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    _importable_cwd()
    if args.run is run_bench:       # the rest of the line is bench's own
        return run_bench(args, args.command_parser, extra)
    if extra:
        args.command_parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args.run(args, args.command_parser)
