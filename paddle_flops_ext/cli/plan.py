"""The per-rank plan of ``paddle-flops llm CONFIG --train``: data, tensor and
pipeline parallel degrees, the ZeRO stage, micro- and global batch,
recomputation and sequence parallelism, as flags; what each rank holds,
computes and sends (:mod:`paddle_flops_ext.estimates.parallel`, the decoder's
shape from :mod:`paddle_flops_ext.llm.plan`).
"""
from __future__ import annotations

import argparse

from ..report.content import Column, Content
from ..report.render import human_bytes
from ..estimates.parallel import PRECISIONS, RECOMPUTE, ParallelLayout, ParallelPlan, PlanRequest, plan
from ..llm.plan import decoder_shape

def _number(cast, what: str, most: float | None = None):
    """An argparse type: a ``cast`` value above 0 (and at most ``most``)."""
    def read(text: str):
        try:
            value = cast(text)
        except ValueError:
            value = None
        if value is None or not value > 0 or (most is not None and value > most):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return read


_positive = _number(int, "a positive integer")
_positive_float = _number(float, "a positive number")
_fraction = _number(float, "a fraction in (0, 1]", most=1.0)


def add_plan_arguments(parser) -> None:
    """The plan's flags, in a group of their own (all optional: the
    defaults are one rank)."""
    g = parser.add_argument_group("per-rank plan (with --train)")
    g.add_argument("--dp", type=_positive, default=1, metavar="N", help="data-parallel degree")
    g.add_argument("--tp", type=_positive, default=1, metavar="N", help="tensor-parallel degree")
    g.add_argument("--pp", type=_positive, default=1, metavar="N", help="pipeline stages")
    g.add_argument("--zero", type=int, choices=(0, 1, 2, 3), default=0,
                   help="ZeRO stage: 1 shards optimizer states, 2 also gradients, 3 also weights")
    g.add_argument("--micro-batch", type=_positive, default=None, metavar="B",
                   help="sequences per micro-batch (default: --batch)")
    g.add_argument("--global-batch", type=_positive, default=None, metavar="B",
                   help="sequences per step, a multiple of micro batch x dp (default: micro batch x dp)")
    g.add_argument("--recompute", choices=RECOMPUTE, default="none",
                   help="selective drops the attention scores, full keeps block inputs only")
    g.add_argument("--sequence-parallel", action="store_true", help="split norms and dropout across --tp")
    g.add_argument("--flash-attention", action="store_true", help="attention keeps no scores")
    g.add_argument("--precision", choices=tuple(PRECISIONS), default="mixed",
                   help="mixed: 16-bit weights, gradients, activations, fp32 master and states")
    g.add_argument("--peak-tflops", type=_positive_float, default=None, metavar="T",
                   help="one device's peak TFLOP/s, for a step time")
    g.add_argument("--utilisation", type=_fraction, default=None, metavar="F",
                   help="the fraction of --peak-tflops reached, for a step time")


def layout_from_args(args) -> ParallelLayout:
    """The layout the flags say; a mistake is said in flag names."""
    micro = args.micro_batch or getattr(args, "batch", 1)
    if args.sequence_parallel and args.tp == 1:
        raise ValueError("--sequence-parallel splits along the tensor-parallel group: it needs --tp > 1")
    if args.global_batch is not None and args.global_batch % (micro * args.dp):
        raise ValueError(f"--global-batch {args.global_batch} must be a multiple of --micro-batch x --dp "
                         f"= {micro * args.dp}")
    if (args.peak_tflops is None) != (args.utilisation is None):
        raise ValueError("a step time needs both --peak-tflops and --utilisation")
    return ParallelLayout(dp=args.dp, tp=args.tp, pp=args.pp, zero=args.zero, micro_batch=micro,
                          global_batch=args.global_batch, recompute=args.recompute,
                          sequence_parallel=args.sequence_parallel)


def run_plan(args, cfg: dict, training) -> ParallelPlan:
    """The plan of ``paddle-flops llm CONFIG --train`` with the plan flags,
    from the training step the command already traced."""
    layout = layout_from_args(args)
    shape = decoder_shape(cfg, training, args.seq_len, args.flash_attention)
    try:
        return plan(PlanRequest(shape, layout, args.optimizer, args.precision, args.peak_tflops, args.utilisation))
    except ValueError as exc:
        text = str(exc)      # say the layout's mistakes in flag names
        raise ValueError("--" + text if text.startswith(("pp ", "tp ")) else text) from None


def plan_content(result: ParallelPlan) -> Content:
    """The stages as a table (one row per pipeline stage), the busiest
    rank's collectives and the step figures under it."""
    lay = result.request.layout
    columns = [Column("stage", "stage", "count"), Column("blocks", "blocks", "count"),
               Column("params", "params/rank", "params"),
               Column("parameter_bytes", "weights", "bytes"), Column("gradient_bytes", "grads", "bytes"),
               Column("optimizer_bytes", "optimizer", "bytes"),
               Column("activation_bytes", "activations", "bytes"),
               Column("in_flight", "in flight", "count", drop=2, short="mb"),
               Column("peak_bytes", "peak", "bytes"),
               Column("hardware_flops", "FLOPs/step", "count", drop=1, short="FLOPs"),
               Column("sent_bytes", "sent/step", "bytes", drop=3, short="sent")]
    busiest = max(result.stages, key=lambda s: s.sent_bytes)
    footer = [f"{lay.ranks} ranks: dp {lay.dp} x tp {lay.tp} x pp {lay.pp}, ZeRO-{lay.zero}"
              + (", sequence parallel" if lay.sequence_parallel else "") + f", recompute {lay.recompute}",
              f"micro batch {lay.micro_batch} x {lay.micro_batches} micro-batches x dp {lay.dp} = "
              f"{lay.sequences} sequences of {result.request.shape.seq_len} tokens per step",
              f"pipeline bubble {result.bubble:.1%} of a step"
              + (f"; step {result.step_seconds:.3g} s at {result.request.peak_tflops:g} TFLOP/s x "
                 f"{result.request.utilisation:.0%}" if result.step_seconds is not None else "")]
    if busiest.collectives:
        footer.append(f"collectives of a stage-{busiest.stage} rank per step:")
        footer += [f"  {c.group:<8} {c.collective:<14} {c.calls:>6} x {human_bytes(c.buffer_bytes):>9}, "
                   f"sends {human_bytes(c.sent_bytes):>9}: {c.what}" for c in busiest.collectives]
    return Content(columns=columns, rows=[s.to_dict() for s in result.stages], language_model=True,
                   title=f"{result.request.shape.name}: per-rank plan ({result.request.optimizer}, "
                         f"{result.request.precision} precision)",
                   footer=footer, notes=list(result.notes), data=result.to_dict())
