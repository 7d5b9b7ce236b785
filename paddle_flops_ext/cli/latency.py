"""``paddle-flops calibrate`` (micro-benchmarks of this machine, saved to a
file) and ``paddle-flops predict MODEL --calibration FILE`` (a model's
latency from that file, traced, not run). See
:mod:`paddle_flops_ext.bench.calibrate`."""
from __future__ import annotations

import json
import os
import sys

from ..estimates.latency import DEFAULT_FORM, FORMS
from ..quiet import import_paddle_quietly

PRECISIONS = ("fp32", "bf16")


def add_calibrate_arguments(p) -> None:
    p.add_argument("-o", "--output", default="calibration.json", metavar="FILE",
                   help="where to write the calibration (JSON)")
    p.add_argument("--budget", type=float, default=300.0, metavar="S",
                   help="stop starting micro-benchmarks after S seconds")
    p.add_argument("--precisions", default="fp32", metavar="P[,P]",
                   help="fp32 (Paddle Inference and eager) and/or bf16 (Paddle Inference, where the CPU "
                        "has avx512_bf16 or amx_bf16)")
    p.add_argument("--device", default="cpu", help="cpu or gpu[:N] (a GPU build times with CUDA events)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="math-library threads (default: the cores this process may use)")
    p.add_argument("--form", default=DEFAULT_FORM, choices=FORMS,
                   help="how a kind's time is made from its counts (default: %(default)s: a shared "
                        "per-operation and per-layer cost, then the slower of compute and memory)")
    p.add_argument("--traceback", action="store_true", help="show the full trace of an error")


def add_predict_arguments(p) -> None:
    p.add_argument("model", metavar="MODEL", help="a zoo name, module:callable or path/to/file.py:callable")
    p.add_argument("--calibration", required=True, metavar="FILE", help="a file written by paddle-flops calibrate")
    p.add_argument("--input", default=None, metavar="SHAPE",
                   help="input shape, batch first, e.g. 8,3,224,224 (default: the zoo model's)")
    p.add_argument("--modes", default=None, metavar="M[,M]",
                   help="modes to predict (default: every mode the calibration has)")
    p.add_argument("--top", type=int, default=10, metavar="K", help="the K slowest layers")
    p.add_argument("--json", action="store_true", help="print the prediction as JSON")
    p.add_argument("--traceback", action="store_true", help="show the full trace of an error")


def _fail(parser, args, message: str, status: int = 2) -> int:
    """A command-line mistake: one line on stderr, exit status 2."""
    prog = parser.prog if parser is not None else "paddle-flops"
    print(f"{prog}: error: {message}", file=sys.stderr)
    return status


def run_calibrate(args, parser=None, argv=None) -> int:
    precisions = [p.strip() for p in str(args.precisions).split(",") if p.strip()]
    bad = [p for p in precisions if p not in PRECISIONS]
    if bad or not precisions:
        return _fail(parser, args, f"argument --precisions: choose from {', '.join(PRECISIONS)}, got "
                                   f"{args.precisions!r}")
    if not args.budget > 0:
        return _fail(parser, args, f"argument --budget: must be > 0 seconds, got {args.budget}")
    if args.threads is not None and args.threads < 1:
        return _fail(parser, args, f"argument --threads: must be >= 1, got {args.threads}")
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir) or not os.access(out_dir, os.W_OK):
        return _fail(parser, args, f"argument -o/--output: cannot write in {out_dir}")
    import_paddle_quietly()
    from ..bench.calibrate import calibrate, modes_for  # local: keeps Paddle out of --help
    modes = modes_for(precisions)
    if not modes:
        return _fail(parser, args, "argument --precisions: none of them can run on this machine")
    cal = calibrate(modes=tuple(modes), budget_s=args.budget, device=args.device, threads=args.threads,
                    form=args.form)
    cal.save(args.output)
    print(f"wrote {args.output}: {len(cal.cases)} timings over {', '.join(modes)} "
          f"in {cal.spent_s:.0f} s" + (f"; {len(cal.failed)} failed" if cal.failed else ""), file=sys.stderr)
    return 0


def _shape(text: str) -> tuple:
    try:
        dims = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"argument --input: expected integers separated by commas, got {text!r}") from None
    if not dims or any(d < 1 for d in dims):
        raise ValueError(f"argument --input: every dimension must be >= 1, got {text!r}")
    return dims


def run_predict(args, parser=None, argv=None) -> int:
    if args.top < 0:
        return _fail(parser, args, f"argument --top: must be >= 0, got {args.top}")
    try:
        shape = _shape(args.input) if args.input else None
    except ValueError as e:
        return _fail(parser, args, str(e))
    import_paddle_quietly()
    from ..bench.calibrate import Calibration, CalibrationFileError, predict_latency  # local: Paddle
    from ..bench.zoo import build_named  # local: keeps Paddle out of --help
    from ..models.zoo import InputShape  # local: keeps Paddle out of --help
    from ..quiet import quiet  # local: keeps Paddle out of --help
    try:
        cal = Calibration.load(args.calibration)
    except CalibrationFileError as e:
        return _fail(parser, args, f"argument --calibration: {e}")
    modes = [m.strip() for m in args.modes.split(",")] if args.modes else None
    try:
        with quiet(True):
            named = build_named(args.model, [InputShape(shape)] if shape else None)
            size = [tuple(s.shape) for s in named.inputs] if named.inputs else None
            preds = predict_latency(named.model, size[0] if size and len(size) == 1 else size, cal, modes=modes)
    except ValueError as e:
        return _fail(parser, args, str(e))
    if args.json:
        print(json.dumps({"model": args.model, "input": size, "calibration": args.calibration,
                          "predictions": {m: p.to_dict() for m, p in preds.items()}}, indent=1))
        return 0
    print(format_prediction(args.model, size, preds, args.top))
    return 0


def prediction_contents(model: str, size, preds: dict, top: int = 10) -> list:
    """The whole-model figures per mode (the notes under them), then each
    mode's slowest layers: contents for the one renderer."""
    from ..report.content import Column, Content  # local: keeps Paddle out of --help
    modes = Content(
        title=f"{model} at {size}: predicted from the counts (traced, not run)",
        columns=[Column("mode", "mode"), Column("predicted", "predicted ms", "seconds", digits=3),
                 Column("roofline", "roofline ms", "seconds", digits=3), Column("kinds", "largest kinds (ms)", drop=1)],
        rows=[{"mode": m, "predicted": p.seconds, "roofline": p.roofline_seconds,
               "kinds": ", ".join(f"{k} {v * 1e3:.2f}" for k, v in
                                  sorted(p.by_kind.items(), key=lambda t: -t[1])[:3])}
              for m, p in preds.items()],
        footer=[f"note ({m}): {n}" for m, p in preds.items() for n in p.notes])
    out = [modes]
    for m, p in preds.items() if top else ():
        out.append(Content(
            title=f"slowest layers, {m}",
            columns=[Column("layer", "layer"), Column("kinds", "kinds", drop=1),
                     Column("predicted", "predicted ms", "seconds", digits=3),
                     Column("roofline", "roofline ms", "seconds", digits=3)],
            rows=[{"layer": r.name or "(model)", "kinds": ",".join(r.kinds), "predicted": r.seconds,
                   "roofline": r.roofline_seconds}
                  for r in sorted(p.layers, key=lambda r: -r.seconds)[:top]]))
    return out


def format_prediction(model: str, size, preds: dict, top: int = 10) -> str:
    """The prediction as terminal tables fitted to the terminal's width."""
    from ..report.render import render_table, terminal_width  # local: keeps Paddle out of --help
    return "\n\n".join(render_table(c, width=terminal_width()).rstrip() for c in
                        prediction_contents(model, size, preds, top))
