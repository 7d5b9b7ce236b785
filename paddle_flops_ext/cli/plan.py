"""The per-rank plan of ``paddle-flops llm CONFIG --train``: data, tensor and
pipeline parallel degrees, the ZeRO stage, micro- and global batch,
recomputation and sequence parallelism, as flags; what each rank holds,
computes and sends (:mod:`paddle_flops_ext.estimates.parallel`).

:func:`plan_config` is the same plan for Python callers: a configuration
built without weights, one training step traced, the decoder blocks'
activations term by term from the configuration's widths.
"""
from __future__ import annotations

import argparse

from ..report.content import Column, Content
from ..report.render import human_bytes
from ..estimates.parallel import (ParallelLayout, PlanRequest, PRECISIONS, RECOMPUTE, plan, shape_from_result,
                                  ActivationTerm, ModelShape, ParallelPlan, transformer_activations)



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


def decoder_shape(cfg: dict, training, seq_len: int, flash_attention: bool = False) -> ModelShape:
    """A :class:`ModelShape` of a configuration's decoder from its traced
    training step (``training``: ``profile(model, ..., training=True)``):
    parameters and FLOPs from the trace, kept activations from the widths."""
    # local: keeps Paddle out of --help
    from ..llm.builder import model_config
    from ..models.moe import MoEConfig  # local: as above
    mcfg, _ = model_config(cfg, seq_len)
    if isinstance(mcfg, MoEConfig):
        raise ValueError("a per-rank plan of a mixture of experts (expert parallelism) is not modelled; "
                         "plan a dense configuration")
    if mcfg.kv_lora_rank:
        raise ValueError("a per-rank plan of latent attention (kv_lora_rank) is not modelled")
    notes = []
    if mcfg.qk_norm or mcfg.sandwich_norm:
        notes.append("q/k norms and sandwich norms keep a few more tensors per block than the activation "
                     "terms count")
    s, a, d = seq_len, mcfg.n_heads, mcfg.head_dim
    terms = transformer_activations(mcfg.dim, a, s, mcfg.ffn_dim, kv_heads=mcfg.n_kv_heads or a,
                                    head_dim=d, gated=True, dropout=False, flash_attention=flash_attention)
    last = (ActivationTerm("final norm input", s * mcfg.dim),
            ActivationTerm("logits (fp32 for the loss)", s * mcfg.vocab_size, 4, split_by_tp=True))
    shape = shape_from_result(training, cfg.get("_name", "model"), terms, last, score_flops=4 * s * s * a * d)
    return ModelShape(shape.name, shape.seq_len, shape.hidden, shape.blocks, shape.first, shape.last,
                      True, shape.notes + tuple(notes))


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


def plan_config(config, layout: ParallelLayout, seq_len: int, optimizer: str = "adamw",
                precision: str = "mixed", peak_tflops: float | None = None, utilisation: float | None = None,
                flash_attention: bool = False) -> ParallelPlan:
    """The per-rank plan of a configuration (a name :func:`load_config`
    takes, a path or a dict): built without weights, one training step of
    one sequence traced (seconds, even for 405 B parameters)."""
    # local: keeps Paddle out of --help
    from ..quiet import import_paddle_quietly, quiet
    from ..api import profile  # local: as above
    from ..llm.builder import build, load_config  # local: as above
    with quiet(enabled=True):
        paddle = import_paddle_quietly()
        cfg = load_config(config)
        model, _ = build(cfg, max_seq_len=seq_len)
        training = profile(model, input_spec=[paddle.static.InputSpec([1, seq_len], "int64")], mode="trace",
                           training=True, optimizer=optimizer)
    shape = decoder_shape(cfg, training, seq_len, flash_attention)
    return plan(PlanRequest(shape, layout, optimizer, precision, peak_tflops, utilisation))


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
