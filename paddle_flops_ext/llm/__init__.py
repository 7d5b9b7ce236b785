"""Language-model workloads: generation with a KV cache (prefill + decode,
roofline TTFT / TPOT), mixture-of-experts active parameters, low-bit weight
bytes, and models built from a ``config.json`` without weights.

* :func:`~.generation.profile_generation` - prefill and every decode step,
  counted exactly with two decode traces;
* :func:`~.moe.moe_structure` - total / active parameters of MoE models;
* :func:`~.builder.build` / :func:`~.builder.load_config` /
  :func:`~.builder.known_configs` - zoo LLaMA / MoE models from a config,
  built under ``paddle.LazyGuard()``.
"""
from __future__ import annotations

from .builder import build, known_configs, load_config, model_config
from ..estimates.moe import moe_structure


def __getattr__(name):
    if name in ("profile_generation", "GenerationResult"):
        from . import generation  # local: keeps Paddle out of --help (generation imports Paddle)
        return getattr(generation, name)
    raise AttributeError(name)


__all__ = ["build", "known_configs", "load_config", "model_config", "moe_structure", "profile_generation",
           "GenerationResult"]
