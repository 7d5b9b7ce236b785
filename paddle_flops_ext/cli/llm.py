"""``paddle-flops llm CONFIG --seq-len N [--generate P,T] [--train]``: a
language model from its configuration, no weights: built under
``paddle.LazyGuard()`` as the zoo LLaMA / MoE model and counted in trace mode.
"""
from __future__ import annotations

import json

from ..quiet import import_paddle_quietly, quiet
from ..report.render import RENDERERS
from .output import check_output, output_format, run_or_exit, write_report


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
    return {"config": cfg.get("_name", args.config), "notes": notes, "forward": forward, "generation": gen,
            "training": training}


def render(out: dict, fmt: str, depth: int) -> str:
    fwd = out["forward"].report(depth=depth)
    parts = [("forward", fwd)] + [(k, out[k]) for k in ("training", "generation") if out[k] is not None]
    if fmt == "json":
        doc = {"config": out["config"], "notes": out["notes"]}
        for name, obj in parts:
            doc[name] = obj.to_dict() if name != "training" else obj.to_dict(depth=depth)
        return json.dumps(doc, indent=2)
    pieces = []
    for name, obj in parts:
        if name == "training":
            obj = obj.report(depth=depth)
        text = RENDERERS[fmt](obj.content())
        head = f"## {out['config']}: {name}" if fmt == "markdown" else f"[{out['config']}: {name}]"
        pieces.append(f"{head}\n\n{text.rstrip()}" if fmt == "markdown" else f"{head}\n{text.rstrip()}")
    pieces.extend(f"Note: {n}" for n in out["notes"])
    return "\n\n".join(pieces)


def run(args, parser, argv) -> int:
    fmt = output_format(args)
    check_output(parser, args)
    out = run_or_exit(parser, args, lambda: count(args), (ValueError,))
    write_report(render(out, fmt, args.depth), args.output, fmt)
    return 0
