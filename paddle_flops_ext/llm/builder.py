"""Language models from a configuration, without weights.

``load_config(spec)`` reads a ``config.json`` (Hugging Face / PaddleNLP /
PaddleFormers keys): a dict, a config object with ``to_dict()`` (a
PaddleFormers ``model.config``), a file, a directory holding one, the name of
a configuration shipped with the package (``known_configs()``: DeepSeek-V3,
Qwen3 dense and MoE, ERNIE-4.5 dense and MoE, GPT-OSS, Gemma-3, Llama-2/3/3.1,
Qwen2, Mixtral, written from the published ``config.json`` files), or a
PaddleNLP model name whose config is already on disk (``$PPNLP_HOME`` or
``~/.paddlenlp/models/<name>/config.json``).

``model_config(cfg)`` maps the keys onto the zoo decoder's
:class:`~paddle_flops_ext.models.llama.LlamaConfig` (dense) or
:class:`~paddle_flops_ext.models.moe.MoEConfig`: grouped-query or latent
attention (``kv_lora_rank`` ...), ``head_dim``, q/k norms, biases, attention
sinks, per-layer sliding windows (``layer_types``, ``sliding_window_pattern``,
``max_window_layers``), Gemma's norms and scaling, and for mixtures of
experts the experts, top-k, shared experts, router scoring and which layers
are MoE (``first_k_dense_replace``, ``moe_layer_start_index``,
``mlp_only_layers`` ...). ``build(cfg)`` builds it under
``paddle.LazyGuard()`` (no weight is allocated), experts stacked as
``[E, ...]`` weights, so ``pfe.profile(model, ..., mode="trace")`` counts a
671 B model in seconds, routed experts by expected routing.

A key whose name says it shapes the model and that this reader does not use
stops the count with a message; structures it cannot express (linear
attention layers, per-modality experts, Gemma-1/2) are refused with the
reason, never approximated silently.
"""
from __future__ import annotations

import json
import os
from importlib import resources

CONFIG_DIR = "configs"


def known_configs() -> list[str]:
    """Names of the configurations shipped with the package."""
    files = resources.files(__package__).joinpath(CONFIG_DIR).iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".json"))


def load_config(spec) -> dict:
    """A config dict from a dict, a config object, a ``config.json`` path, a
    directory, a shipped name or a PaddleNLP model name with its config on
    disk."""
    if isinstance(spec, dict):
        return dict(spec)
    if hasattr(spec, "to_dict"):          # a PaddleFormers / PaddleNLP config object
        return dict(spec.to_dict())
    spec = str(spec)
    if os.path.isdir(spec):
        spec = os.path.join(spec, "config.json")
    if os.path.isfile(spec):
        with open(spec, encoding="utf-8") as f:
            cfg = json.load(f)
        cfg.setdefault("_name", os.path.basename(os.path.dirname(os.path.abspath(spec))) or spec)
        return cfg
    name = spec.lower()
    if name in known_configs():
        text = resources.files(__package__).joinpath(CONFIG_DIR, name + ".json").read_text(encoding="utf-8")
        return json.loads(text)
    home = os.environ.get("PPNLP_HOME", os.path.join(os.path.expanduser("~"), ".paddlenlp"))
    for path in (os.path.join(home, "models", spec, "config.json"),):
        if os.path.isfile(path):
            return load_config(path)
    raise ValueError(f"no configuration {spec!r}: give a config.json path, a directory holding one, "
                     f"a PaddleNLP model name whose config is in {home}/models, or one of: "
                     f"{', '.join(known_configs())}")


def _get(cfg: dict, *keys, default=None):
    for k in keys:
        if cfg.get(k) is not None:
            return cfg[k]
    return default


# Keys whose name says they shape the model (experts, MoE layout, low-rank
# attention, windows, per-layer types): one this reader does not handle below
# stops the count - a model it cannot express is never counted as a dense one.
_STRUCTURAL = ("expert", "moe", "lora_rank", "window", "layer_types", "sparse", "nope_head", "rope_head",
               "v_head_dim", "dense_replace", "sinks", "softcap", "nextn", "linear_", "mlp_only", "sliding")
_HANDLED = {
    "num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts", "num_experts_per_tok", "moe_k",
    "experts_per_token", "moe_intermediate_size", "shared_expert_intermediate_size", "n_shared_experts",
    "moe_num_shared_experts", "first_k_dense_replace", "moe_layer_freq", "decoder_sparse_step", "mlp_only_layers",
    "moe_layer_start_index", "moe_layer_end_index", "moe_layer_interval", "moe_use_aux_free", "sliding_window",
    "use_sliding_window", "max_window_layers", "layer_types", "sliding_window_pattern", "kv_lora_rank",
    "q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "num_nextn_predict_layers",
    "swiglu_limit", "_sliding_window_pattern", "gated_linear_unit",
}
# named like structure, but training-only or runtime settings: no parameter or MAC depends on them
_NO_COUNT = {
    "router_aux_loss_coef", "output_router_logits", "router_z_loss_coef", "router_jitter_noise",
    "moe_aux_loss_coeff", "moe_aux_loss_lambda", "moe_z_loss_lambda", "moe_orthogonal_loss_lambda",
    "moe_capacity", "moe_group", "moe_gate", "moe_dropout_prob", "moe_token_dispatcher_type",
    "moe_multimodal_dispatch_use_allgather", "moe_use_hard_gate", "moe_dense_experts_token_type_id",
    "moe_router_topk_scaling_factor", "routed_scaling_factor", "ep_size", "moe_gate_act", "moe_norm_gate_logits",
    # PaddleFormers' parallelism, fusion and load-balancing switches
    "expert_model_parallel_size", "moe_use_fusion_node", "moe_token_drop_policy", "moe_router_load_balancing_type",
    "moe_router_bias_update_rate", "moe_shared_expert_overlap", "moe_router_fusion", "moe_deep_gemm",
    "moe_ep_barrier", "moe_norm_min", "moe_group_orthogonal_loss", "num_nextn_predict_lambda", "moe_group_origin",
    "moe_world_size",
}
# attention logit soft-capping is a few elementwise operations on the scores, not modelled (said in a note)
_ELEMENTWISE_ONLY = {"final_logit_softcapping", "attn_logit_softcapping"}


def _check_understood(cfg: dict) -> None:
    unread = [k for k, v in cfg.items()
              if v not in (None, False, 0, [], {}, "") and k not in _HANDLED and k not in _NO_COUNT
              and k not in _ELEMENTWISE_ONLY and any(word in k.lower() for word in _STRUCTURAL)]
    if unread:
        raise ValueError(f"config key(s) {', '.join(f'{k}={cfg[k]!r}' for k in unread)} shape the model in a way "
                         f"this reader does not model; refusing rather than counting another structure. Build "
                         f"the model's own class under paddle.LazyGuard() and count it with "
                         f"pfe.profile(mode='trace')")


def _windows(cfg: dict, layers: int, notes: list) -> tuple | None:
    """Per-layer sliding-window lengths (None: full attention), from
    ``layer_types``, Gemma's ``sliding_window_pattern``, Qwen's
    ``use_sliding_window`` / ``max_window_layers`` or a plain ``sliding_window``."""
    window = cfg.get("sliding_window")
    types = cfg.get("layer_types")
    if types:
        unknown = sorted(set(types) - {"sliding_attention", "full_attention"})
        if unknown:
            raise ValueError(f"layer_types {unknown} are not attention this reader models (it knows "
                             f"sliding_attention and full_attention); build the model's own class lazily")
        if len(types) != layers:
            raise ValueError(f"layer_types lists {len(types)} layers, num_hidden_layers is {layers}")
        if "sliding_attention" in types and not window:
            raise ValueError("layer_types has sliding_attention layers but sliding_window is not set")
        windows = tuple(int(window) if t == "sliding_attention" else None for t in types)
    elif _get(cfg, "sliding_window_pattern", "_sliding_window_pattern") and window:   # Gemma: every n-th is global
        n = int(_get(cfg, "sliding_window_pattern", "_sliding_window_pattern"))
        windows = tuple(None if (i + 1) % n == 0 else int(window) for i in range(layers))
    elif window and cfg.get("use_sliding_window", True) and "use_sliding_window" in cfg:   # Qwen
        first = int(cfg.get("max_window_layers", layers))
        windows = tuple(int(window) if i >= first else None for i in range(layers))
    elif window and "use_sliding_window" not in cfg:           # Mistral: every layer
        windows = (int(window),) * layers
    else:
        return None
    if not any(windows):
        return None
    notes.append(f"sliding window of {window} tokens on {sum(1 for w in windows if w)} of {layers} layers: the "
                 f"KV cache keeps at most the window there; attention without a cache is counted over every "
                 f"earlier token, as a masked implementation computes it")
    return windows


def _moe_layers(cfg: dict, layers: int) -> tuple | None:
    """Indices of the MoE layers (None: every layer), by each family's rule."""
    if cfg.get("moe_num_experts"):     # ERNIE-4.5: from start to end, every interval-th
        start, end = cfg.get("moe_layer_start_index", 0), cfg.get("moe_layer_end_index", layers - 1)
        interval = cfg.get("moe_layer_interval", 1)
        if not all(isinstance(v, int) for v in (cfg["moe_num_experts"], start, end, interval)):
            raise ValueError("ERNIE-4.5's per-modality MoE settings (lists of moe_num_experts / layer indices) "
                             "are not modelled; build the model's own class lazily")
        end = layers - 1 if end == -1 else end
        chosen = [i for i in range(layers) if start <= i <= end and (i + 1) % interval == 0]
    elif cfg.get("first_k_dense_replace") is not None or cfg.get("moe_layer_freq") is not None:   # DeepSeek
        first, freq = int(cfg.get("first_k_dense_replace") or 0), int(cfg.get("moe_layer_freq") or 1)
        chosen = [i for i in range(layers) if i >= first and i % freq == 0]
    else:                              # Qwen-MoE: every sparse-step-th layer not listed as MLP-only
        step, dense = int(cfg.get("decoder_sparse_step") or 1), set(cfg.get("mlp_only_layers") or ())
        chosen = [i for i in range(layers) if i not in dense and (i + 1) % step == 0]
    return None if len(chosen) == layers else tuple(chosen)


_ACTS = {"silu": "silu", "swish": "silu", "gelu_pytorch_tanh": "gelu_tanh", "gelu_tanh": "gelu_tanh"}


def model_config(cfg: dict, max_seq_len: int | None = None):
    """``(LlamaConfig | MoEConfig, notes)`` from config keys. ``max_seq_len``
    sizes the rotary tables (default: the config's, capped at what is
    needed when given)."""
    # local: keeps Paddle out of --help (the llm parser lists known_configs from here)
    from ..models.llama import LlamaConfig
    from ..models.moe import MoEConfig  # local: as above
    notes = []
    _check_understood(cfg)
    mt = str(cfg.get("model_type", "llama")).lower()
    layers = int(_get(cfg, "num_hidden_layers", "n_layers"))
    dim = int(_get(cfg, "hidden_size", "dim", "n_embd"))
    heads = int(_get(cfg, "num_attention_heads", "n_heads", "n_head"))
    act = str(_get(cfg, "hidden_activation", "hidden_act", default="silu")).lower()
    if act not in _ACTS:
        raise ValueError(f"hidden_act {act!r}: the zoo model has SiLU- and tanh-GELU-gated MLPs only")
    if cfg.get("gated_linear_unit") is False:
        raise ValueError("gated_linear_unit is false: the zoo decoder's MLPs are gated")
    gemma = mt.startswith("gemma")
    if gemma and not mt.startswith("gemma3"):
        raise ValueError(f"model_type {mt!r}: of the Gemma family only Gemma-3 is modelled")
    model_max = int(_get(cfg, "max_position_embeddings", "max_seq_len", "seq_length", default=2048))
    qwen2 = mt in ("qwen2", "qwen2_moe")
    bias = bool(_get(cfg, "attention_bias", "qkv_bias", "use_bias", default=qwen2))
    fields = dict(
        vocab_size=int(cfg["vocab_size"]), dim=dim, n_layers=layers,
        n_heads=heads, n_kv_heads=int(_get(cfg, "num_key_value_heads", "n_kv_heads", default=heads)),
        ffn_dim=int(_get(cfg, "intermediate_size", "ffn_dim")),
        max_seq_len=min(model_max, max_seq_len) if max_seq_len else model_max,
        norm_eps=float(_get(cfg, "rms_norm_eps", "norm_eps", default=1e-5)),
        rope_theta=float(_get(cfg, "rope_theta", default=10000.0)),
        qkv_bias=bias, o_bias=bias and not qwen2,
        tie_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        head_size=int(cfg["head_dim"]) if cfg.get("head_dim") else None,
        qk_norm=mt in ("qwen3", "qwen3_moe") or gemma, attn_sinks=mt == "gpt_oss",
        windows=_windows(cfg, layers, notes), mlp_act=_ACTS[act],
        sandwich_norm=gemma, norm_offset=gemma, embed_scale=gemma,
    )
    if cfg.get("kv_lora_rank"):                # multi-head latent attention
        missing = [k for k in ("qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim") if not cfg.get(k)]
        if missing:
            raise ValueError(f"kv_lora_rank is set (latent attention) but {', '.join(missing)} is missing")
        fields.update(q_lora_rank=cfg.get("q_lora_rank") or None, kv_lora_rank=int(cfg["kv_lora_rank"]),
                      qk_nope_dim=int(cfg["qk_nope_head_dim"]), qk_rope_dim=int(cfg["qk_rope_head_dim"]),
                      v_head_dim=int(cfg["v_head_dim"]), n_kv_heads=heads, head_size=None)
    if max_seq_len and max_seq_len > model_max:
        notes.append(f"sequence of {max_seq_len} tokens is longer than the model's "
                     f"max_position_embeddings {model_max}")
        fields["max_seq_len"] = max_seq_len
    if cfg.get("num_nextn_predict_layers"):
        notes.append(f"num_nextn_predict_layers={cfg['num_nextn_predict_layers']}: the multi-token-prediction "
                     f"module (training and speculative decoding) is not counted, as in the published totals")
    if gemma:
        notes.append("Gemma-3's local layers use their own rotary base and queries are scaled by "
                     "query_pre_attn_scalar: values only, the counts are the same")
    if any(cfg.get(k) for k in _ELEMENTWISE_ONLY):
        notes.append("logit soft-capping (a tanh and two scalings per score) is not counted")
    experts = _get(cfg, "num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
    if not experts:
        return LlamaConfig(**fields), notes
    top_k = int(_get(cfg, "num_experts_per_tok", "experts_per_token", "moe_k", "top_k", default=2))
    expert_ffn = int(_get(cfg, "moe_intermediate_size", default=fields["ffn_dim"]))
    n_shared, shared_ffn = 0, None
    if cfg.get("shared_expert_intermediate_size"):          # Qwen2-MoE: one gated shared expert
        n_shared, shared_ffn = 1, int(cfg["shared_expert_intermediate_size"])
    elif cfg.get("n_shared_experts") or cfg.get("moe_num_shared_experts"):   # DeepSeek-MoE, ERNIE-4.5
        n_shared, shared_ffn = int(_get(cfg, "n_shared_experts", "moe_num_shared_experts")), expert_ffn
    gpt_oss = mt == "gpt_oss"
    scoring = "topk_softmax" if gpt_oss else str(cfg.get("scoring_func", "softmax"))
    if scoring not in ("softmax", "sigmoid", "topk_softmax"):
        raise ValueError(f"scoring_func {scoring!r}: the zoo router scores experts by softmax or sigmoid only")
    if cfg.get("n_group", 1) > 1:
        notes.append(f"group-limited routing (n_group {cfg['n_group']}, topk_group {cfg.get('topk_group')}) "
                     f"is selection only: it changes which experts run, not how much work they do")
    return MoEConfig(**fields, n_experts=int(experts), top_k=top_k, expert_ffn_dim=expert_ffn,
                     n_shared_experts=n_shared, shared_ffn_dim=shared_ffn,
                     norm_topk_prob=bool(cfg.get("norm_topk_prob", not qwen2)),
                     moe_layers=_moe_layers(cfg, layers), stacked=True, scoring=scoring,
                     score_bias=cfg.get("topk_method") == "noaux_tc" or bool(cfg.get("moe_use_aux_free")),
                     router_bias=gpt_oss, expert_bias=gpt_oss,
                     expert_act="clamped_swiglu" if gpt_oss else "silu",
                     shared_expert_gate=bool(cfg.get("shared_expert_intermediate_size"))), notes


def build(cfg, max_seq_len: int | None = None, lazy: bool = True):
    """``(model, notes)``: the zoo LLaMA / MoE model for ``cfg`` (a spec
    :func:`load_config` takes, or a dict), built under ``paddle.LazyGuard()``
    unless ``lazy=False``."""
    import paddle  # local: keeps Paddle out of --help (the llm parser lists known_configs from here)
    from ..models.llama import Llama  # local: as above
    from ..models.moe import MoEConfig, MoELlama  # local: as above
    mcfg, notes = model_config(load_config(cfg), max_seq_len)
    cls = MoELlama if isinstance(mcfg, MoEConfig) else Llama
    if not lazy:
        return cls(mcfg), notes
    if cls is MoELlama:
        notes.append(f"routed experts are priced by expected routing (no weights, so no router runs): every "
                     f"token goes to {mcfg.top_k} experts, spread evenly; the total does not depend on which, "
                     f"shared experts and dense layers always run")
    with paddle.LazyGuard():
        return cls(mcfg), notes


def storage_dtype(cfg: dict) -> str:
    """The dtype the checkpoint stores (``torch_dtype`` / ``dtype``), default float32."""
    name = str(_get(cfg, "torch_dtype", "dtype", default="float32")).replace("torch.", "")
    return {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "float": "float32"}.get(name, name)
