"""The one command-line parser of ``paddle-flops``: every subcommand, the
option groups they share, and the argument types that check each value.

Nothing here imports Paddle (``--help`` answers at once). A value that does
not parse raises ``argparse.ArgumentTypeError`` naming the fix; argparse
prefixes the flag.
"""
from __future__ import annotations

import argparse
import difflib
import json
import textwrap

from ..errors import UsageError  # noqa: F401  (raised by the subcommands' runners)
from ..llm.builder import known_configs
from ..loading import saved_model_prefix
from ..models.zoo import GENERATION_MODELS, TRAIN_MODELS, ZOO, InputShape, suggestions
from ..report.render import terminal_width, wrap_lines
from .latency import add_calibrate_arguments, add_predict_arguments
from .plan import add_plan_arguments

COMMANDS = ("profile", "compare", "bench", "formulas", "llm", "bench-train", "bench-generation", "calibrate",
            "predict")
DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")
WIDTHS = ("float32", "float16", "bfloat16", "int8", "int4")        # bytes per value of llm's weights / caches
FORMATS = ("table", "markdown", "latex", "csv", "json")
FORMAT_OF_SUFFIX = {".md": "markdown", ".markdown": "markdown", ".tex": "latex", ".csv": "csv", ".json": "json",
                    ".txt": "table"}
COMPACT_ROWS = 40     # the default per-layer view of a deeper model is its layer tree cut to fit this many rows
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
EXIT_USAGE = 2
EXIT_STRICT = 1


class Parser(argparse.ArgumentParser):
    """Errors in one line (no usage block), pointing at ``--help``;
    ``usage_block=True``: argparse's usage block above the error instead."""

    def __init__(self, *args, usage_block: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.usage_block = usage_block

    def error(self, message):
        if self.usage_block:
            super().error(message)
        self.exit(EXIT_USAGE, error_text(f"{self.prog}: error: {message}") + f"\n(see '{self.prog} --help')\n")


def error_text(message: str) -> str:
    """An error message wrapped to the terminal's width (``COLUMNS`` wins)."""
    return "\n".join(wrap_lines(message.splitlines(), terminal_width()))


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each option's default, except for flags and unset options."""

    def _get_help_string(self, action):
        if action.default is None or action.nargs == 0:      # unset options, on/off flags
            return action.help
        return super()._get_help_string(action)

    def _fill_text(self, text, width, indent):
        """Descriptions and examples keep their lines; a line longer than the
        terminal wraps, its continuation indented under it."""
        out = []
        for line in text.splitlines():
            lead = " " * (len(line) - len(line.lstrip()))
            out.append(textwrap.fill(line.strip(), width, initial_indent=indent + lead,
                                     subsequent_indent=indent + lead + ("    " if lead else ""),
                                     break_on_hyphens=False,
                                     break_long_words=False) if line.strip() else "")
        return "\n".join(out)


# --------------------------------------------------------------------------- argument types

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


INPUT_EXAMPLE = "e.g. --input 1,3,224,224, or --input 1,3,224,224 --input 1,16:int64 for a forward taking two"


def input_arg(text: str) -> InputShape:
    """'1,3,224,224' -> that shape, float32; '1,16:int64' -> int64."""
    shape_text, _, dtype = text.partition(":")
    dtype = dtype.strip() or "float32"
    if dtype not in DTYPES:
        close = difflib.get_close_matches(dtype, DTYPES, n=1)
        raise argparse.ArgumentTypeError(
            f"unknown dtype {dtype!r} in {text!r}" + (f" (did you mean {close[0]}?)" if close else "")
            + f"; one of {', '.join(DTYPES)}")
    if ";" in shape_text:
        raise argparse.ArgumentTypeError(f"{text!r}: one input per --input; {INPUT_EXAMPLE}")
    try:
        (shape,) = input_shapes(shape_text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(str(exc).split("; e.g.")[0] + f"; {INPUT_EXAMPLE}") from None
    return InputShape(tuple(shape), dtype)


def dtype_arg(text: str) -> str:
    """``--dtype``: one dtype for every input."""
    if text in DTYPES:
        return text
    if any(sep in text for sep in ";,"):
        return text     # one per input: the profile command says how to write it with --input
    close = difflib.get_close_matches(text, DTYPES, n=1)
    raise argparse.ArgumentTypeError(f"unknown dtype {text!r}" + (f" (did you mean {close[0]}?)" if close else "")
                                     + f"; one of {', '.join(DTYPES)}")


def depth_arg(text: str) -> int | str:
    """``--depth N`` or ``--depth all`` (every layer, its own work)."""
    if text == "all":
        return "all"
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0 (0 = the model only) or 'all', got {text!r}")
    return value


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
    if text in ZOO or saved_model_prefix(text) is not None:   # a zoo name; a saved model: a folder or its program
        return text
    module, _, attr = text.rpartition(":")
    if not module or not attr:
        if text in COMMANDS:
            raise argparse.ArgumentTypeError(f"{text!r} is a command, not a model: paddle-flops {text} --help")
        close = suggestions(text)
        commands = difflib.get_close_matches(text, COMMANDS, n=1, cutoff=0.75)
        hint = "".join([f"; did you mean {' or '.join(map(repr, close))}?" if close else "",
                        f"; did you mean the command {commands[0]!r} (paddle-flops {commands[0]} --help)?"
                        if commands else ""]) or "."
        raise argparse.ArgumentTypeError(
            f"unknown model {text!r}{hint} A model is a zoo name ({', '.join(ZOO)}), module:callable, "
            f"path/to/file.py:callable or a saved model (e.g. paddle.vision.models:resnet50, or a folder "
            f"with inference.json)")
    return text


def _pair(text: str) -> tuple[int, int]:
    try:
        p, t = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give PROMPT,NEW_TOKENS, e.g. 2048,128") from None
    if p < 1 or t < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: both must be >= 1")
    return p, t


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an int") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v} must be >= 1")
    return v


def _peaks(text: str) -> dict:
    try:
        f, b = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give GFLOPS,GBPS, e.g. 200,15") from None
    return {"flops_per_s": f * 1e9, "bytes_per_s": b * 1e9, "source": "peaks given with --peaks"}


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


# --------------------------------------------------------------------------- shared option groups

def add_causal(group) -> None:
    group.add_argument("--causal", choices=("full", "half"), default="full",
                       help="causal attention: the whole score matrix, or only the unmasked half")


def add_output(group) -> None:
    """``--format`` and ``-o/--output`` of a command that writes a report
    (:func:`.output.output_format` picks the format)."""
    group.add_argument("--format", choices=FORMATS, default=None,
                       help="output format (default: from the --output suffix .md/.tex/.csv/.json, else table "
                            "fitted to the terminal)")
    group.add_argument("-o", "--output", default=None, metavar="FILE",
                       help="write the report to FILE instead of the terminal")


def add_traceback(group) -> None:
    group.add_argument("--traceback", action="store_true", help="on an error, show the full Python traceback")


# --------------------------------------------------------------------------- subcommands

def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("paddle_flops_ext")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _add_profile(sub) -> None:
    p = sub.add_parser(
        "profile", formatter_class=HelpFormatter,
        help="count parameters, MACs and FLOPs per layer (the default command)",
        description="Count parameters, MACs and FLOPs of a PaddlePaddle model, per layer and in total. "
                    "Every format (table, Markdown, LaTeX, JSON) carries the same rows, totals, "
                    "uncounted work, layers not called and notes; CSV holds the rows (with -o FILE.csv, "
                    "FILE.totals.csv holds the totals); --depth, --by and --top apply to all. The table "
                    "fits the terminal: narrow terminals leave out Input shape, Output shape, the % column, "
                    "then Type, in that order.\n\n"
                    "exit status: 0 done, 1 --strict found work without a formula or a count that is not "
                    "exact, 2 command-line mistake",
        epilog="examples:\n"
               "  paddle-flops resnet50        (a zoo name; 'paddle-flops bench --list' lists them)\n"
               "  paddle-flops paddle.vision.models:resnet50 --depth 1\n"
               "  paddle-flops mymodel.py:build --input 2,128:int64 --top 10\n"
               "  paddle-flops mymod:Net --input 1,3,224,224 --input 1,16:int64 --by type\n"
               "  paddle-flops path/to/inference_dir --input 4,3,640,640   (a saved model)")
    p.add_argument("model", type=model_spec, metavar="MODEL",
                   help=f"a zoo name ({', '.join(ZOO)}); module:callable or path/to/file.py:callable returning "
                        "a paddle.nn.Layer (the current directory is importable), e.g. "
                        "paddle.vision.models:resnet50; or a saved model: a folder with a .json or .pdmodel "
                        "program and its .pdiparams (paddle.jit.save, PaddleX / PaddleOCR inference folders), "
                        "or that file")
    inp = p.add_argument_group("input")
    inp.add_argument("--input", type=input_arg, action="append", default=None, metavar="SHAPE[:DTYPE]",
                     help="one input of the forward: its shape (dimensions >= 1) and dtype (default float32; "
                          "int64 for token ids, which get small valid ids); once per input, in the order "
                          "forward takes them, e.g. --input 1,3,224,224 --input 1,16:int64 (default: a zoo "
                          "model's own inputs, else 1,3,224,224); a saved model keeps its saved dtypes and this "
                          "sizes its -1 dimensions")
    inp.add_argument("--input-size", type=input_shapes, default=None, metavar="SHAPE",
                     help="the older form: shapes separated by ';', all of one --dtype (use --input)")
    inp.add_argument("--dtype", type=dtype_arg, default=None, metavar="DTYPE",
                     help="with --input-size: the dtype of every input (use --input SHAPE:DTYPE)")
    inp.add_argument("--model-kwargs", type=json_object, default=None, metavar="JSON",
                     help="""keyword arguments for the callable as a JSON object, e.g. '{"num_classes": 10}'""")
    cnt = p.add_argument_group("counting")
    cnt.add_argument("--mode", choices=("auto", "eager", "trace"), default="auto",
                     help="eager runs the model; trace counts a traced program without running kernels; auto "
                          "traces paddle.jit.load-ed models and models built under paddle.LazyGuard and runs "
                          "everything else")
    add_causal(cnt)
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
    trn.add_argument("--optimizer", choices=OPTIMIZERS, default=None,
                     help="the optimizer whose step is counted (needs --train)")
    trn.add_argument("--amp", choices=("O1", "O2"), default=None,
                     help="mixed precision for the memory estimate: O1 half activations, O2 also half "
                          "parameters/gradients plus fp32 master weights (needs --train)")
    out = p.add_argument_group("report")
    out.add_argument("--by", choices=("layer", "type", "op"), default="layer",
                     help="one row per layer (own work), per layer type, or per operation")
    out.add_argument("--depth", type=depth_arg, default=None, metavar="N|all",
                     help="--by layer: the layer tree down to depth N, each row the total of its "
                          "subtree, full dotted names; 'all': every layer, its own work (default: all, or "
                          f"for a model with more than {COMPACT_ROWS} such rows the deepest tree that fits "
                          f"{COMPACT_ROWS} rows)")
    out.add_argument("--top", type=_int_at_least(1, "how many rows to keep"), default=None, metavar="K",
                     help="keep only the K rows with the most --sort (default: all rows)")
    out.add_argument("--sort", choices=("flops", "macs", "params"), default="flops",
                     help="what --top ranks by and the percentage column shows")
    add_output(out)
    dbg = p.add_argument_group("diagnostics")
    dbg.add_argument("--verbose", action="store_true",
                     help="show Paddle's warnings, logs and prints (hidden by default)")
    add_traceback(dbg)
    p.set_defaults(command_parser=p)


def per_model(text: str) -> str:
    """``MODEL`` or ``MODEL@SHAPE[:DTYPE][+SHAPE[:DTYPE]...]`` (that model's
    own inputs); checked here, split by the compare command."""
    spec, at, inputs = text.rpartition("@") if "@" in text else (text, "", "")
    model_spec(spec)
    if at:
        if not inputs:
            raise argparse.ArgumentTypeError(f"{text!r}: give the inputs after '@', e.g. {spec}@1,3,224,224")
        for part in inputs.split("+"):
            input_arg(part)
    return text


def _add_compare(sub) -> None:
    p = sub.add_parser(
        "compare", formatter_class=HelpFormatter,
        help="several models in one table, one row each (Markdown, LaTeX, CSV, JSON for a paper)",
        description="Parameters (and trainable), MACs, FLOPs, the paddle.flops-convention figure and "
                    "inference memory of several models, one row each; with --latency also the median eager "
                    "latency and its 95% interval, measured by the bench harness. Each model is counted at "
                    "its own inputs: MODEL@SHAPE[:DTYPE][+SHAPE...], else --input, else a zoo model's "
                    "defaults (images of its side, 128 token ids), else 1,3,224,224. A narrow terminal leaves "
                    "out Input, paddle.flops, Trainable, Memory, then the latency interval, in that order.\n\n"
                    "exit status: 0 done, 1 --strict found a count that is not exact, 2 command-line mistake",
        epilog="examples:\n"
               "  paddle-flops compare resnet50 mobilenet_v2 vit_b16 --format markdown\n"
               "  paddle-flops compare resnet50 mobilenet_v2 vit_b16 -o table.tex\n"
               "  paddle-flops compare resnet18 mymod.py:build@1,3,32,32+1,16:int64 --latency")
    p.add_argument("models", type=per_model, nargs="+", metavar="MODEL",
                   help="zoo names, module:callable, path/to/file.py:callable or saved models; "
                        "MODEL@SHAPE[:DTYPE][+SHAPE[:DTYPE]...] gives that model its own inputs")
    p.add_argument("--input", type=input_arg, action="append", default=None, metavar="SHAPE[:DTYPE]",
                   help="inputs of every model without its own @inputs (once per input)")
    p.add_argument("--mode", choices=("auto", "eager", "trace"), default="auto",
                   help="how to count: eager runs each model, trace counts without running kernels")
    p.add_argument("--latency", action="store_true",
                   help="also time each model's eager forward: median and 95%% interval")
    p.add_argument("--budget", type=float, default=2.0, metavar="S",
                   help="--latency: at most S timed seconds per model")
    p.add_argument("--strict", action="store_true", help="exit with status 1 if a count is not exact")
    p.add_argument("--verbose", action="store_true", help="show Paddle's warnings, logs and prints")
    add_output(p)
    add_traceback(p)
    p.set_defaults(command_parser=p)


def _add_bench(sub) -> None:
    p = sub.add_parser(
        "bench", formatter_class=argparse.HelpFormatter, usage_block=True,
        help="measure latency next to the counts (see 'bench --help')",
        description="Measure inference latency (eager, to_static, Paddle Inference) next to MACs/FLOPs, "
                    "with the machine's measured peaks and a cache-aware per-layer roofline.")
    p.add_argument("--models", type=_names, default=None,
                   help="comma-separated zoo names or module:callable (default: resnet18,mobilenet_v3_small; "
                        "--thorough: the embedded zoo; see --list)")
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
                        "(default eager,inference; --thorough: eager,to_static,inference,inference_bf16,"
                        "inference_int8)")
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
                   help="the default: 1 warm-up, 6 runs to 1 s of runs per mode, the small peak measurement "
                        "once, at most 1 s waiting for a quiet machine; "
                        "without --models resnet18 and mobilenet_v3_small, without --modes eager,inference")
    p.add_argument("--thorough", action="store_true",
                   help="the citable run: the whole zoo and every mode unless --models / --modes say "
                        "otherwise, adaptive timing to --ci-target within --budget, the full peak measurement")
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
                        f"{', '.join(TRAIN_MODELS)} (default all), each in a fresh process")
    w.add_argument("--steps", type=int, default=3,
                   help="--train: timed steps per model after one untimed warm-up step (default 3)")
    w.add_argument("--generate", type=_ints, default=None, metavar="P,T",
                   help="time a real prefill of P tokens + T decode steps next to profile_generation's "
                        "estimate (TTFT, TPOT, tokens/s); --models llama_small (default), llama_medium or "
                        "paddlenlp_llama (needs PaddleNLP); batch from --batch-sizes")
    p.set_defaults(command_parser=p)


def _add_formulas(sub) -> None:
    p = sub.add_parser("formulas", formatter_class=HelpFormatter,
                       help="print the counting conventions of every layer and operation (Markdown)",
                       description="Print the counting convention of every layer type and operation "
                                   "as Markdown tables (docs/formulas.md).")
    p.set_defaults(command_parser=p)


def _add_llm(sub) -> None:
    p = sub.add_parser(
        "llm", formatter_class=HelpFormatter,
        help="count a language model from its config.json, without weights (forward, generation, training)",
        description="Build the decoder a config.json describes (grouped-query or latent attention, sliding "
                    "windows, dense and mixture-of-experts layers) under paddle.LazyGuard() (no weight is "
                    "allocated) and count it in trace mode, routed experts by expected routing: one forward "
                    "of --seq-len tokens; with --generate P,T the prefill of P tokens and T decode steps "
                    "with a KV cache (pfe.profile_generation: exact counts, bytes, roofline TTFT / TPOT "
                    "estimates); with --train one training step and a per-rank plan under the parallel "
                    "layout given.\n\n" + "shipped configurations: " + ", ".join(known_configs()),
        epilog="examples:\n"
               "  paddle-flops llm llama-2-7b --seq-len 2048\n"
               "  paddle-flops llm mixtral-8x7b --seq-len 4096 --generate 4096,256 --format json\n"
               "  paddle-flops llm path/to/config.json --seq-len 1024 --generate 1024,128 \\\n"
               "      --weight-dtype int4 --peaks 200,15\n"
               "  paddle-flops llm llama-2-70b --seq-len 4096 --train --tp 8 --pp 4 --dp 2 --zero 1 \\\n"
               "      --global-batch 128 --recompute selective --sequence-parallel")
    p.add_argument("config", metavar="CONFIG",
                   help="a config.json (or a folder holding one), a PaddleNLP model name whose config is on "
                        "disk, or a shipped name")
    p.add_argument("--seq-len", type=_positive, required=True, metavar="N", help="tokens per sequence of the forward")
    p.add_argument("--batch", type=_positive, default=1, metavar="B", help="sequences")
    p.add_argument("--generate", type=_pair, default=None, metavar="P,T",
                   help="also count generation: prefill of P prompt tokens + T decode steps")
    p.add_argument("--train", action="store_true",
                   help="also count one training step shape-only (pfe.profile(training=True), trace mode): "
                        "backward, optimizer step, training memory")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adamw",
                   help="with --train: the optimizer whose step and states are counted")
    add_causal(p)
    add_plan_arguments(p)
    p.add_argument("--dtype", choices=WIDTHS[:3], default=None,
                   help="activation / KV-cache dtype for bytes (default: the config's torch_dtype)")
    p.add_argument("--weight-dtype", choices=WIDTHS, default=None,
                   help="width of weight matrices in the bytes (default: --dtype)")
    p.add_argument("--kv-dtype", choices=WIDTHS, default=None, help="KV-cache width (default: --dtype)")
    p.add_argument("--peaks", type=_peaks, default=None, metavar="GFLOPS,GBPS",
                   help="roofline peaks (default: measured on this machine)")
    p.add_argument("--depth", type=int, default=1, metavar="N", help="forward report: layer tree depth")
    add_output(p)
    add_traceback(p)
    p.set_defaults(command_parser=p)


def _add_calibrate(sub) -> None:
    p = sub.add_parser("calibrate", formatter_class=HelpFormatter,
                       help="time micro-benchmarks of this machine; save a calibration for predict")
    add_calibrate_arguments(p)
    p.set_defaults(command_parser=p)


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", formatter_class=HelpFormatter,
                       help="a model's latency predicted from its counts and a calibration (not run)")
    add_predict_arguments(p)
    p.set_defaults(command_parser=p)


def _add_bench_train(sub) -> None:
    """``benchmarks/bench_train.py``'s command line (not listed in ``--help``)."""
    p = sub.add_parser("bench-train", formatter_class=HelpFormatter,
                       description="Real training steps next to ``profile(training=True)``: step time, achieved\n"
                                   "FLOP/s, MFU and HFU, and measured peak memory next to ``r.memory[\"peak\"]``.")
    p.add_argument("--models", default=None, help=f"comma-separated, from {', '.join(TRAIN_MODELS)} (default all)")
    p.add_argument("--steps", type=int, default=3, help="timed steps per model")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--out", required=True, help="file stem of the .json and .md results")
    p.set_defaults(command_parser=p)


def _add_bench_generation(sub) -> None:
    """``benchmarks/bench_generation.py``'s command line (not listed in ``--help``)."""
    p = sub.add_parser("bench-generation", formatter_class=HelpFormatter,
                       description="Generation on this machine: a real prefill + decode loop next to\n"
                                   "pfe.profile_generation's roofline estimate on the peaks measured in the same run.")
    p.add_argument("--model", choices=GENERATION_MODELS, default=GENERATION_MODELS[0], metavar="NAME",
                   help=f"one of {', '.join(GENERATION_MODELS)}")
    p.add_argument("--prompt", type=int, default=128, help="prompt tokens (the prefill)")
    p.add_argument("--new", type=int, default=32, help="decode steps")
    p.add_argument("--batch", type=int, default=1, help="sequences")
    p.add_argument("--repeats", type=int, default=5, help="timed generations after one warm-up")
    p.add_argument("--out", required=True, help="file stem of the .json and .md results")
    p.set_defaults(command_parser=p)


def build_parser() -> Parser:
    parser = Parser(prog="paddle-flops", formatter_class=HelpFormatter, description=(
        "Parameters, MACs and FLOPs of PaddlePaddle models, and measured latency next to them.\n"
        "'paddle-flops MODEL ...' is short for 'paddle-flops profile MODEL ...'."))
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for add in (_add_profile, _add_compare, _add_bench, _add_formulas, _add_llm, _add_bench_train,
                _add_bench_generation, _add_calibrate, _add_predict):
        add(sub)
    return parser
