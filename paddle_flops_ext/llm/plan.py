"""Per-rank training plans of language models from their configurations:
the decoder's :class:`~paddle_flops_ext.estimates.parallel.ModelShape` (blocks,
parameters and FLOPs from a traced training step; kept activations term by
term from the configuration's widths), and :func:`plan_config`, the whole
plan from a configuration for Python callers.
"""
from __future__ import annotations

from ..estimates.parallel import (ActivationTerm, ModelShape, ParallelLayout, ParallelPlan, PlanRequest, plan,
                                  shape_from_result, transformer_activations)
from ..quiet import import_paddle_quietly, quiet
from .builder import build, load_config, model_config


def decoder_shape(cfg: dict, training, seq_len: int, flash_attention: bool = False) -> ModelShape:
    """A :class:`ModelShape` of a configuration's decoder from its traced
    training step (``training``: ``profile(model, ..., training=True)``):
    parameters and FLOPs from the trace, kept activations from the widths."""
    from ..models.moe import MoEConfig  # local: keeps Paddle out of --help (models import Paddle)
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


def plan_config(config, layout: ParallelLayout, seq_len: int, optimizer: str = "adamw",
                precision: str = "mixed", peak_tflops: float | None = None, utilisation: float | None = None,
                flash_attention: bool = False) -> ParallelPlan:
    """The per-rank plan of a configuration (a name :func:`load_config`
    takes, a path or a dict): built without weights, one training step of
    one sequence traced (seconds, even for 405 B parameters)."""
    from ..api import profile  # local: keeps Paddle out of --help
    with quiet(enabled=True):
        paddle = import_paddle_quietly()
        cfg = load_config(config)
        model, _ = build(cfg, max_seq_len=seq_len)
        training = profile(model, input_spec=[paddle.static.InputSpec([1, seq_len], "int64")], mode="trace",
                           training=True, optimizer=optimizer)
    shape = decoder_shape(cfg, training, seq_len, flash_attention)
    return plan(PlanRequest(shape, layout, optimizer, precision, peak_tflops, utilisation))
