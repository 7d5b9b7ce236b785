"""Language models from a configuration, without weights.

``load_config(spec)`` reads a ``config.json`` (Hugging Face / PaddleNLP
LLaMA-style keys): a file, a directory holding one, the name of a
configuration shipped with the package (``known_configs()``: LLaMA-2
7B/13B/70B, LLaMA-3 8B/70B/405B, Qwen2 7B/72B, Mixtral 8x7B, written from the
published ``config.json`` files), or a PaddleNLP model name whose config is
already on disk (``$PPNLP_HOME`` or ``~/.paddlenlp/models/<name>/config.json``).

``model_config(cfg)`` maps the keys onto the zoo's
:class:`~paddle_flops_ext.models.llama.LlamaConfig` (dense) or
:class:`~paddle_flops_ext.models.moe.MoEConfig` (``num_local_experts`` /
``num_experts`` with ``num_experts_per_tok``); ``build(cfg)`` builds the zoo
model under ``paddle.LazyGuard()`` (no weight is allocated), so
``pfe.profile(model, ..., mode="trace")`` counts it in seconds. Structures the
zoo cannot express (DeepSeek's latent attention, dense-then-MoE stacks, a
``head_dim`` other than ``hidden_size / heads``) are refused with the reason,
never approximated silently.
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
    """A config dict from a dict, a ``config.json`` path, a directory, a
    shipped name or a PaddleNLP model name with its config on disk."""
    if isinstance(spec, dict):
        return dict(spec)
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
               "v_head_dim", "dense_replace")
_HANDLED = {
    "num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts", "num_experts_per_tok", "moe_k",
    "moe_intermediate_size", "shared_expert_intermediate_size", "n_shared_experts", "moe_num_shared_experts",
    "first_k_dense_replace", "decoder_sparse_step", "mlp_only_layers", "moe_layer_start_index",
    "moe_layer_end_index", "moe_layer_interval", "sliding_window", "use_sliding_window", "max_window_layers",
    "kv_lora_rank", "q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim",
}
# named like structure, but training-only or runtime settings: no parameter or MAC depends on them
_NO_COUNT = {
    "router_aux_loss_coef", "output_router_logits", "router_z_loss_coef", "router_jitter_noise",
    "moe_aux_loss_coeff", "moe_aux_loss_lambda", "moe_z_loss_lambda", "moe_orthogonal_loss_lambda",
    "moe_use_aux_free", "moe_capacity", "moe_group", "moe_gate", "moe_dropout_prob", "moe_token_dispatcher_type",
    "moe_multimodal_dispatch_use_allgather", "moe_use_hard_gate", "moe_dense_experts_token_type_id",
    "moe_router_topk_scaling_factor", "routed_scaling_factor", "moe_layer_freq",
}


def _check_understood(cfg: dict) -> None:
    unread = [k for k, v in cfg.items()
              if v not in (None, False, 0, [], {}, "") and k not in _HANDLED and k not in _NO_COUNT
              and any(word in k.lower() for word in _STRUCTURAL)]
    if unread:
        raise ValueError(f"config key(s) {', '.join(f'{k}={cfg[k]!r}' for k in unread)} shape the model in a way "
                         f"this reader does not model; refusing rather than counting another structure. Build "
                         f"the model's own class under paddle.LazyGuard() and count it with "
                         f"pfe.profile(mode='trace')")


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
    if cfg.get("kv_lora_rank") or cfg.get("q_lora_rank") or mt.startswith("deepseek_v2") or mt.startswith("deepseek_v3"):
        raise ValueError("DeepSeek-V2/V3 multi-head latent attention is not a LLaMA-style structure; build the "
                         "PaddleNLP class under paddle.LazyGuard() and count it with pfe.profile(mode='trace')")
    layers = int(_get(cfg, "num_hidden_layers", "n_layers"))
    mixed = (_get(cfg, "first_k_dense_replace", default=0) or _get(cfg, "decoder_sparse_step", default=1) != 1
             or cfg.get("mlp_only_layers"))
    if cfg.get("moe_num_experts"):     # ERNIE-4.5: MoE from layer start to end, every interval-th
        start, end = cfg.get("moe_layer_start_index", 0), cfg.get("moe_layer_end_index", layers - 1)
        interval = cfg.get("moe_layer_interval", 1)
        if not all(isinstance(v, int) for v in (cfg["moe_num_experts"], start, end, interval)):
            raise ValueError("ERNIE-4.5's per-modality MoE settings (lists of moe_num_experts / layer indices) "
                             "are not expressible with the zoo MoE model; build the model's own class lazily")
        mixed = mixed or start > 0 or interval != 1 or end not in (-1, layers - 1)
    if mixed:
        raise ValueError("a stack mixing dense and MoE layers (first_k_dense_replace / decoder_sparse_step / "
                         "mlp_only_layers / moe_layer_start_index / moe_layer_interval) is not expressible with "
                         "the zoo MoE model; build the model's own class lazily instead")
    dim = int(_get(cfg, "hidden_size", "dim", "n_embd"))
    heads = int(_get(cfg, "num_attention_heads", "n_heads", "n_head"))
    if cfg.get("head_dim") and int(cfg["head_dim"]) != dim // heads:
        raise ValueError(f"head_dim {cfg['head_dim']} != hidden_size / num_attention_heads "
                         f"({dim // heads}); the zoo model derives head_dim from hidden_size")
    act = str(cfg.get("hidden_act", "silu")).lower()
    if act not in ("silu", "swish"):
        raise ValueError(f"hidden_act {act!r}: the zoo model has a SiLU-gated MLP only")
    model_max = int(_get(cfg, "max_position_embeddings", "max_seq_len", "seq_length", default=2048))
    fields = dict(
        vocab_size=int(cfg["vocab_size"]), dim=dim, n_layers=layers,
        n_heads=heads, n_kv_heads=int(_get(cfg, "num_key_value_heads", "n_kv_heads", default=heads)),
        ffn_dim=int(_get(cfg, "intermediate_size", "ffn_dim")),
        max_seq_len=min(model_max, max_seq_len) if max_seq_len else model_max,
        norm_eps=float(_get(cfg, "rms_norm_eps", "norm_eps", default=1e-5)),
        rope_theta=float(_get(cfg, "rope_theta", default=10000.0)),
        qkv_bias=bool(_get(cfg, "attention_bias", "qkv_bias", default=mt in ("qwen2", "qwen2_moe"))),
        tie_embeddings=bool(cfg.get("tie_word_embeddings", False)),
    )
    if max_seq_len and max_seq_len > model_max:
        notes.append(f"sequence of {max_seq_len} tokens is longer than the model's "
                     f"max_position_embeddings {model_max}")
        fields["max_seq_len"] = max_seq_len
    if cfg.get("sliding_window") and cfg.get("use_sliding_window", True) and max_seq_len \
            and max_seq_len > int(cfg["sliding_window"]):
        notes.append(f"sliding_window {cfg['sliding_window']} is not modelled: attention counted over "
                     f"every earlier token (an upper bound beyond the window)")
    experts = _get(cfg, "num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
    if not experts:
        return LlamaConfig(**fields), notes
    top_k = int(_get(cfg, "num_experts_per_tok", "moe_k", "top_k", default=2))
    expert_ffn = int(_get(cfg, "moe_intermediate_size", default=fields["ffn_dim"]))
    n_shared, shared_ffn = 0, None
    if cfg.get("shared_expert_intermediate_size"):          # Qwen2-MoE: one shared expert
        n_shared, shared_ffn = 1, int(cfg["shared_expert_intermediate_size"])
        notes.append("Qwen2-MoE's shared_expert_gate (a sigmoid gate of hidden_size parameters per layer) "
                     "is not modelled")
    elif cfg.get("n_shared_experts") or cfg.get("moe_num_shared_experts"):   # DeepSeek-MoE, ERNIE-4.5
        n_shared, shared_ffn = int(_get(cfg, "n_shared_experts", "moe_num_shared_experts")), expert_ffn
    return MoEConfig(**fields, n_experts=int(experts), top_k=top_k, expert_ffn_dim=expert_ffn,
                     n_shared_experts=n_shared, shared_ffn_dim=shared_ffn,
                     norm_topk_prob=bool(cfg.get("norm_topk_prob", True))), notes


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
    with paddle.LazyGuard():
        return cls(mcfg), notes


def storage_dtype(cfg: dict) -> str:
    """The dtype the checkpoint stores (``torch_dtype`` / ``dtype``), default float32."""
    name = str(_get(cfg, "torch_dtype", "dtype", default="float32")).replace("torch.", "")
    return {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "float": "float32"}.get(name, name)
