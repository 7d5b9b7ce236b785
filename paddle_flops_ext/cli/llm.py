"""``paddle-flops llm CONFIG --seq-len N [--generate P,T] [--train [plan
flags]]``: a language model from its configuration, no weights: built under
``paddle.LazyGuard()`` as the zoo decoder the config describes and counted in
trace mode; with ``--train``, one training step and its per-rank plan.
"""
from __future__ import annotations

import json

from ..quiet import import_paddle_quietly, quiet
from ..report.render import terminal_width, wrap_lines
from .output import check_output, output_format, render as render_content, run_or_exit, write_report
from .plan import plan_content, run_plan


def count(args) -> dict:
    """The counts behind ``paddle-flops llm``: ``{"config", "notes",
    "forward": ProfileResult, "generation": GenerationResult | None,
    "training": ProfileResult | None}``."""
    with quiet(enabled=True):
        paddle = import_paddle_quietly()
        from ..api import profile  # local: keeps Paddle out of --help
        from ..llm.builder import build, load_config, storage_dtype  # local: keeps Paddle out of --help
        from ..collect.inputs import FLOAT_DTYPES  # local: keeps Paddle out of --help
        cfg = load_config(args.config)
        need = max(args.seq_len, sum(args.generate) if args.generate else 0)
        model, notes = build(cfg, max_seq_len=need)
        dtype = args.dtype or storage_dtype(cfg)
        forward = profile(model, input_spec=[paddle.static.InputSpec([args.batch, args.seq_len], "int64")],
                          mode="trace", causal=args.causal)
        if dtype in FLOAT_DTYPES:
            forward.memory = forward.memory_at(dtype)     # the zoo model is built in float32
            notes.append(f"memory at {dtype}, the configuration's dtype" + (" (--dtype)" if args.dtype else ""))
        gen = None
        if args.generate:
            from ..llm.generation import profile_generation  # local: keeps Paddle out of --help
            gen = profile_generation(model, args.generate[0], args.generate[1], args.batch, causal=args.causal,
                                     dtype=dtype, weight_dtype=args.weight_dtype, kv_dtype=args.kv_dtype,
                                     peaks=args.peaks)
            gen.model = cfg.get("_name", gen.model)
            gen.notes.extend(notes)
        training = None
        if args.train:
            try:
                training = profile(model, input_spec=[paddle.static.InputSpec([args.batch, args.seq_len], "int64")],
                                   mode="trace", causal=args.causal, training=True, optimizer=args.optimizer)
            except (NotImplementedError, TypeError, ValueError) as exc:
                notes.append(f"--train: not available for a model without weights: {exc}")
        plan = run_plan(args, cfg, training) if training is not None else None
    return {"config": cfg.get("_name", args.config), "notes": notes, "forward": forward, "generation": gen,
            "training": training, "plan": plan}


def render(out: dict, fmt: str, depth: int, output: str | None = None) -> str:
    """Every part in ``fmt``; parameters in M/B (a language model's units);
    a terminal table fits the terminal unless ``output`` names a file."""
    fwd = out["forward"].report(depth=depth, language_model=True)
    parts = [("forward", fwd)] + [(k, out[k]) for k in ("training", "generation") if out[k] is not None]
    if fmt == "json":
        doc = {"config": out["config"], "notes": out["notes"]}
        for name, obj in parts:
            doc[name] = obj.to_dict() if name != "training" else obj.to_dict(depth=depth)
        if out.get("plan") is not None:
            doc["plan"] = out["plan"].to_dict()
        return json.dumps(doc, indent=2)
    pieces = []
    for name, obj in parts:
        if name == "training":
            obj = obj.report(depth=depth, language_model=True)
        text = render_content(obj.content(), fmt, output)
        head = f"## {out['config']}: {name}" if fmt == "markdown" else f"[{out['config']}: {name}]"
        pieces.append(f"{head}\n\n{text.rstrip()}" if fmt == "markdown" else f"{head}\n{text.rstrip()}")
    if out.get("plan") is not None:
        head = f"## {out['config']}: plan" if fmt == "markdown" else f"[{out['config']}: plan]"
        pieces.append(f"{head}\n" + render_content(plan_content(out["plan"]), fmt, output).rstrip())
    shown = set(out["generation"].notes) if out["generation"] is not None else set()
    notes = [f"Note: {n}" for n in out["notes"] if n not in shown]
    if notes:
        fits = fmt == "table" and not output       # a terminal: notes wrapped to its width
        pieces.append("\n".join(wrap_lines(notes, terminal_width() if fits else None)))
    return "\n\n".join(pieces)


def run(args, parser, argv) -> int:
    fmt = output_format(args)
    check_output(parser, args)
    out = run_or_exit(parser, args, lambda: count(args), (ValueError,))
    write_report(render(out, fmt, args.depth, args.output), args.output, fmt)
    return 0
