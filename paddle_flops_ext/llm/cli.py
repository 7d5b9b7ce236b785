"""``paddle-flops llm CONFIG --seq-len N [--generate P,T] [--train]``: a
language model from its configuration, no weights: built under
``paddle.LazyGuard()`` as the zoo LLaMA / MoE model and counted in trace mode.
"""
from __future__ import annotations

import argparse
import json
import os

from ..cli import FORMAT_OF_SUFFIX, exit_unexpected, write_report

FORMATS = ("table", "markdown", "csv", "json")
WIDTHS = ("float32", "float16", "bfloat16", "int8", "int4")


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


def add_llm_parser(sub, parser_class, formatter_class) -> None:
    from .builder import known_configs
    p = sub.add_parser(
        "llm", formatter_class=formatter_class,
        help="count a language model from its config.json, without weights (forward, generation)",
        description="Build a LLaMA-style (or Mixtral-style MoE) decoder from a config.json under "
                    "paddle.LazyGuard()\n(no weight is allocated) and count it in trace mode: one forward "
                    "of --seq-len tokens,\nand with --generate P,T the prefill of P tokens and T decode steps "
                    "with a KV cache\n(pfe.profile_generation: exact counts, bytes, roofline TTFT / TPOT "
                    "estimates).\n\nshipped configurations: " + ", ".join(known_configs()),
        epilog="examples:\n"
               "  paddle-flops llm llama-2-7b --seq-len 2048\n"
               "  paddle-flops llm mixtral-8x7b --seq-len 4096 --generate 4096,256 --format json\n"
               "  paddle-flops llm path/to/config.json --seq-len 1024 --generate 1024,128 "
               "--weight-dtype int4 --peaks 200,15")
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
    p.add_argument("--optimizer", choices=("sgd", "momentum", "adam", "adamw"), default="adamw",
                   help="with --train: the optimizer whose step and states are counted")
    p.add_argument("--causal", choices=("full", "half"), default="full",
                   help="causal attention: the whole score matrix, or only the unmasked half")
    p.add_argument("--dtype", choices=WIDTHS[:3], default=None,
                   help="activation / KV-cache dtype for bytes (default: the config's torch_dtype)")
    p.add_argument("--weight-dtype", choices=WIDTHS, default=None,
                   help="width of weight matrices in the bytes (default: --dtype)")
    p.add_argument("--kv-dtype", choices=WIDTHS, default=None, help="KV-cache width (default: --dtype)")
    p.add_argument("--peaks", type=_peaks, default=None, metavar="GFLOPS,GBPS",
                   help="roofline peaks (default: measured on this machine)")
    p.add_argument("--depth", type=int, default=1, metavar="N", help="forward report: layer tree depth")
    p.add_argument("--format", choices=FORMATS, default=None, help="output format (default: from -o, else table)")
    p.add_argument("-o", "--output", default=None, metavar="FILE", help="write the report to FILE")
    p.add_argument("--traceback", action="store_true", help="on an error, show the full Python traceback")
    p.set_defaults(run=run_llm, command_parser=p)


def count(args) -> dict:
    """The counts behind ``paddle-flops llm``: ``{"config", "notes",
    "forward": ProfileResult, "generation": GenerationResult | None,
    "training": ProfileResult | None}``."""
    from ..quiet import import_paddle_quietly, quiet
    with quiet(enabled=True):
        paddle = import_paddle_quietly()
        from ..api import profile
        from .builder import build, load_config, storage_dtype
        cfg = load_config(args.config)
        need = max(args.seq_len, sum(args.generate) if args.generate else 0)
        model, notes = build(cfg, max_seq_len=need)
        dtype = args.dtype or storage_dtype(cfg)
        forward = profile(model, input_spec=[paddle.static.InputSpec([args.batch, args.seq_len], "int64")],
                          mode="trace", causal=args.causal)
        gen = None
        if args.generate:
            from .generation import profile_generation
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
        text = {"table": obj.table, "markdown": obj.to_markdown, "csv": obj.to_csv}[fmt]()
        head = f"## {out['config']}: {name}" if fmt == "markdown" else f"[{out['config']}: {name}]"
        pieces.append(f"{head}\n\n{text.rstrip()}" if fmt == "markdown" else f"{head}\n{text.rstrip()}")
    pieces.extend(f"Note: {n}" for n in out["notes"])
    return "\n\n".join(pieces)


def run_llm(args, parser) -> int:
    fmt = args.format or FORMAT_OF_SUFFIX.get(os.path.splitext(args.output or "")[1].lower(), "table")
    try:
        out = count(args)
    except ValueError as exc:
        if args.traceback:
            raise
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    except Exception as exc:  # noqa: BLE001
        exit_unexpected(parser, args, exc)
    write_report(render(out, fmt, args.depth), args.output, fmt)
    return 0
