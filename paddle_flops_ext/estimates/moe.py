"""Mixture-of-experts structure: total and active parameters.

A model is MoE when its config (``net.config`` as PaddleNLP models carry it,
or ``net.cfg`` for the zoo) names a number of routed experts
(``num_local_experts`` Mixtral, ``num_experts`` Qwen2-MoE, ``n_routed_experts``
DeepSeek, ``n_experts`` zoo) and a top-k (``num_experts_per_tok`` / ``top_k``).
The routed experts are found structurally: every ``LayerList`` whose name ends
in ``experts`` and holds exactly that many experts (so DeepSeek's dense first
layers and shared experts, which are not in such a list, stay active).

``active parameters`` = all parameters - per MoE layer ``(E - k)`` x one
routed expert's parameters: the shared parts (embeddings, attention, norms,
gates, shared experts) and the ``k`` experts one token uses. Nothing here
imports PaddleNLP.
"""
from __future__ import annotations

import math

EXPERT_KEYS = ("num_local_experts", "num_experts", "n_routed_experts", "n_experts", "moe_num_experts")
TOPK_KEYS = ("num_experts_per_tok", "top_k", "moe_k", "moe_topk")


def _config_value(cfg, keys):
    for k in keys:
        v = cfg.get(k) if isinstance(cfg, dict) else getattr(cfg, k, None)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return None


def _numel(p) -> int:
    return math.prod(int(d) for d in p.shape)


def moe_structure(net) -> dict | None:
    """``None`` for a dense model, else a dict: ``experts`` (E), ``top_k``
    (k), ``moe_layers`` (lists of routed experts found), ``expert_params``
    (one routed expert's parameters, per MoE layer), ``params`` (total,
    unique), ``active_params``, ``shared_params`` (everything not a routed
    expert)."""
    import paddle  # local: keeps Paddle out of --help (llm imports this)
    cfg = getattr(net, "config", None) or getattr(net, "cfg", None)
    if cfg is None:
        return None
    e, k = _config_value(cfg, EXPERT_KEYS), _config_value(cfg, TOPK_KEYS)
    if not e or not k:
        return None
    groups = [(name, layer) for name, layer in net.named_sublayers()
              if name.split(".")[-1].endswith("experts") and (
                  (isinstance(layer, paddle.nn.LayerList) and len(layer) == e) or _stacked(layer, e))]
    if not groups:
        return None
    seen = set()
    total = 0
    for p in net.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += _numel(p)
    per_layer, routed, stacked = [], 0, []
    for name, group in groups:
        if isinstance(group, paddle.nn.LayerList):
            sizes = [sum(_numel(p) for p in expert.parameters()) for expert in group]
        else:       # one [E, ...] weight per projection: expert i is slice i of each
            stacked.append(name)
            sizes = [sum(_numel(p) for p in group.parameters()) / e] * e
        per_layer.append(sizes[0] if len(set(sizes)) == 1 else sum(sizes) / len(sizes))
        routed += sum(sizes)
    inactive = sum(round(size * (e - k)) for size in per_layer)
    return {"experts": e, "top_k": k, "moe_layers": [name for name, _ in groups], "stacked_layers": stacked,
            "expert_params": per_layer, "params": total, "active_params": total - inactive,
            "shared_params": total - round(routed)}


def _stacked(layer, experts: int) -> bool:
    """Routed experts kept as stacked weights (GPT-OSS): a layer, not a
    list, whose every parameter has one slice per expert."""
    params = list(layer.parameters())
    return bool(params) and all(len(p.shape) >= 2 and int(p.shape[0]) == experts for p in params)


def expected_experts_touched(experts: int, top_k: int, tokens: int) -> float:
    """Expected number of distinct experts ``tokens`` tokens use in one MoE
    layer when each picks ``top_k`` of ``experts`` uniformly at random
    (an estimate: real routers are not uniform): ``E (1 - (1 - k/E)^N)``."""
    if tokens <= 0:
        return 0.0
    return experts * (1.0 - (1.0 - top_k / experts) ** tokens)
