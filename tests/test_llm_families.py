"""Today's decoder families from their published configurations: DeepSeek-V3
(latent attention, dense-then-MoE), Qwen3 dense and MoE (q/k norms,
head_dim), ERNIE-4.5 dense and MoE, GPT-OSS (attention sinks, sliding
windows, stacked biased experts), Gemma-3 (sandwich norms, windows),
Llama-3.1 and Mixtral-8x22B.

Parameters are checked against a count written here from the config keys
alone and against the totals the model authors published; forward MACs
against a count written here from the config; routed experts priced by
expected routing (traced, no weights) against the same model run eagerly
with its router; the KV cache the zoo keeps against its own cache tensors.
"""
from __future__ import annotations

import math

import numpy as np
import paddle
import pytest

import paddle_flops_ext as pfe
from paddle_flops_ext.llm import build, known_configs, load_config, model_config

FAMILIES = ["deepseek-v3", "qwen3-8b", "qwen3-30b-a3b", "qwen3-235b-a22b", "ernie-4.5-0.3b", "ernie-4.5-21b-a3b",
            "ernie-4.5-300b-a47b", "gpt-oss-20b", "gpt-oss-120b", "gemma-3-27b", "llama-3.1-8b", "llama-3.1-70b",
            "llama-3.1-405b", "mixtral-8x22b"]


# ----------------------------------------------------------------------------- counts written from the keys

def _experts(c):
    e = c.get("num_local_experts") or c.get("num_experts") or c.get("n_routed_experts") or c.get("moe_num_experts")
    k = c.get("num_experts_per_tok") or c.get("moe_k")
    return e or 0, k or 0


def _is_moe_layer(c, i):
    if not _experts(c)[0]:
        return False
    if "moe_num_experts" in c:
        return c.get("moe_layer_start_index", 0) <= i <= c.get("moe_layer_end_index", 10 ** 9)
    if "first_k_dense_replace" in c:
        return i >= c["first_k_dense_replace"]
    return i not in (c.get("mlp_only_layers") or [])


def _shapes(c):
    d, H = c["hidden_size"], c["num_attention_heads"]
    kv, hd = c.get("num_key_value_heads", H), c.get("head_dim") or d // H
    return d, H, kv, hd


def _attention_params(c):
    d, H, kv, hd = _shapes(c)
    mt = c["model_type"]
    if c.get("kv_lora_rank"):
        qk, r, qr = c["qk_nope_head_dim"] + c["qk_rope_head_dim"], c["kv_lora_rank"], c.get("q_lora_rank")
        n = d * qr + qr + qr * H * qk if qr else d * H * qk                    # q_a, its norm, q_b
        n += d * (r + c["qk_rope_head_dim"]) + r                              # kv_a (+ shared rope key), norm
        return n + r * H * (c["qk_nope_head_dim"] + c["v_head_dim"]) + H * c["v_head_dim"] * d
    n = 2 * d * H * hd + 2 * d * kv * hd
    if c.get("attention_bias") or c.get("use_bias"):
        n += H * hd + 2 * kv * hd + d
    if mt.startswith("qwen3") or mt.startswith("gemma3"):
        n += 2 * hd                                                           # per-head q/k RMSNorm
    if mt == "gpt_oss":
        n += H                                                                # one sink logit per head
    return n


def _expert_params(c):
    d = c["hidden_size"]
    f = c.get("moe_intermediate_size") or c["intermediate_size"]
    return 3 * d * f + ((2 * f + d) if c["model_type"] == "gpt_oss" else 0)


def _moe_extra_params(c):
    """Router, selection bias and shared experts of one MoE layer."""
    d = c["hidden_size"]
    e, _ = _experts(c)
    n = d * e + (e if c["model_type"] == "gpt_oss" else 0)
    if c.get("topk_method") == "noaux_tc" or c.get("moe_use_aux_free"):
        n += e
    shared = c.get("n_shared_experts") or c.get("moe_num_shared_experts") or 0
    return n + 3 * d * shared * (c.get("moe_intermediate_size") or 0)


def expected_params(c):
    """``(total, active)`` parameters from the configuration keys."""
    d, V, layers = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"]
    norms = 4 if c["model_type"].startswith("gemma3") else 2
    total = active = V * d * (1 if c.get("tie_word_embeddings") else 2) + d
    e, k = _experts(c)
    for i in range(layers):
        common = _attention_params(c) + norms * d
        if _is_moe_layer(c, i):
            total += common + _moe_extra_params(c) + e * _expert_params(c)
            active += common + _moe_extra_params(c) + k * _expert_params(c)
        else:
            total += common + 3 * d * c["intermediate_size"]
            active += common + 3 * d * c["intermediate_size"]
    return total, active


def expected_forward_macs(c, tokens):
    """Forward MACs of one sequence of ``tokens`` (attention over every
    earlier-or-later key, the counter's default convention)."""
    d, H, kv, hd = _shapes(c)
    s, e_layers = tokens, 0
    per_token = d * c["vocab_size"]                                           # lm_head
    attention = 0
    for i in range(c["num_hidden_layers"]):
        if c.get("kv_lora_rank"):
            qk, r, qr = c["qk_nope_head_dim"] + c["qk_rope_head_dim"], c["kv_lora_rank"], c["q_lora_rank"]
            per_token += d * qr + qr * H * qk + d * (r + c["qk_rope_head_dim"])
            per_token += r * H * (c["qk_nope_head_dim"] + c["v_head_dim"]) + H * c["v_head_dim"] * d
            attention += H * s * s * (qk + c["v_head_dim"])
        else:
            per_token += 2 * d * H * hd + 2 * d * kv * hd
            attention += 2 * H * s * s * hd
        if _is_moe_layer(c, i):
            e, k = _experts(c)
            f = c.get("moe_intermediate_size") or c["intermediate_size"]
            shared = c.get("n_shared_experts") or c.get("moe_num_shared_experts") or 0
            per_token += d * e + k * 3 * d * f + 3 * d * shared * f
        else:
            per_token += 3 * d * c["intermediate_size"]
    return per_token * s + attention


# ----------------------------------------------------------------------------- full size, no weights

@pytest.mark.parametrize("name", FAMILIES)
def test_parameters_of_every_shipped_family_match_the_count_from_its_keys(name):
    cfg = load_config(name)
    model, _ = build(cfg, max_seq_len=8)
    from paddle_flops_ext.estimates.moe import moe_structure
    moe = moe_structure(model)
    total, active = expected_params(cfg)
    assert sum(math.prod(p.shape) for p in model.parameters()) == total
    assert (moe["active_params"] if moe else total) == active
    assert bool(moe) == bool(_experts(cfg)[0])


# published totals: (total, active, relative tolerance); GPT-OSS and DeepSeek publish active
# parameters without the input embedding table, which every token reads one row of
PUBLISHED = {
    "deepseek-v3": (671e9, 36.6e9, 0.003, True),
    "qwen3-30b-a3b": (30_532_122_624, 3.3e9, 0.02, False),
    "qwen3-235b-a22b": (235e9, 22e9, 0.01, False),
    "ernie-4.5-300b-a47b": (300e9, 47e9, 0.025, False),
    "mixtral-8x22b": (141e9, 39e9, 0.005, False),
    "llama-3.1-8b": (8_030_261_248, 8_030_261_248, 0, False),
    "gpt-oss-120b": (116.83e9, 5.13e9, 0.001, True),
    "gpt-oss-20b": (20.91e9, 3.61e9, 0.002, True),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_full_size_totals_match_the_published_figures(name):
    total, active, tol, without_embedding = PUBLISHED[name]
    cfg = load_config(name)
    got_total, got_active = expected_params(cfg)      # equal to the built model's: the test above
    if without_embedding:
        got_active -= cfg["vocab_size"] * cfg["hidden_size"]
    assert got_total == pytest.approx(total, rel=tol, abs=0)
    assert got_active == pytest.approx(active, rel=max(tol, 0.005), abs=0)


@pytest.mark.parametrize("name", ["deepseek-v3", "gpt-oss-120b", "qwen3-30b-a3b", "gemma-3-27b",
                                  "ernie-4.5-300b-a47b"])
def test_full_size_forward_macs_match_the_count_from_the_config(name):
    cfg = load_config(name)
    tokens = 16
    model, notes = build(cfg, max_seq_len=tokens)
    r = pfe.profile(model, input_spec=[paddle.static.InputSpec([1, tokens], "int64")], mode="trace")
    assert r.macs == expected_forward_macs(cfg, tokens)
    assert r.exact
    if _experts(cfg)[0]:
        assert any("expected routing" in n for n in notes)


# ----------------------------------------------------------------------------- small models, run and traced

SMALL = {
    "mla_dense_then_moe": {"model_type": "deepseek_v3", "vocab_size": 97, "hidden_size": 32, "intermediate_size": 48,
                           "moe_intermediate_size": 16, "num_hidden_layers": 3, "num_attention_heads": 4,
                           "num_key_value_heads": 4, "n_shared_experts": 1, "n_routed_experts": 8,
                           "num_experts_per_tok": 2, "first_k_dense_replace": 1, "moe_layer_freq": 1,
                           "kv_lora_rank": 12, "q_lora_rank": 20, "qk_rope_head_dim": 4, "qk_nope_head_dim": 8,
                           "v_head_dim": 6, "topk_method": "noaux_tc", "scoring_func": "sigmoid",
                           "norm_topk_prob": True, "max_position_embeddings": 64},
    "sinks_windows_stacked": {"model_type": "gpt_oss", "vocab_size": 97, "hidden_size": 24, "intermediate_size": 20,
                              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                              "head_dim": 8, "num_local_experts": 4, "num_experts_per_tok": 2, "sliding_window": 4,
                              "layer_types": ["sliding_attention", "full_attention"], "attention_bias": True,
                              "max_position_embeddings": 64},
    "gemma3": {"model_type": "gemma3_text", "vocab_size": 97, "hidden_size": 32, "intermediate_size": 40,
               "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
               "hidden_activation": "gelu_pytorch_tanh", "sliding_window": 4, "sliding_window_pattern": 3,
               "tie_word_embeddings": True, "max_position_embeddings": 64},
    "qwen3_moe": {"model_type": "qwen3_moe", "vocab_size": 97, "hidden_size": 32, "intermediate_size": 40,
                  "moe_intermediate_size": 12, "num_hidden_layers": 2, "num_attention_heads": 4,
                  "num_key_value_heads": 2, "head_dim": 16, "num_experts": 6, "num_experts_per_tok": 2,
                  "decoder_sparse_step": 1, "mlp_only_layers": [0], "max_position_embeddings": 64},
    "ernie_moe_shared": {"model_type": "ernie4_5_moe", "vocab_size": 97, "hidden_size": 32, "intermediate_size": 40,
                         "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
                         "moe_num_experts": 4, "moe_k": 2, "moe_intermediate_size": 12,
                         "moe_num_shared_experts": 2, "moe_layer_start_index": 1, "moe_layer_end_index": 2,
                         "moe_use_aux_free": True, "max_position_embeddings": 64},
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_expected_routing_traced_equals_the_router_run_eagerly(name):
    """Traced, every token's k experts are spread evenly; run, the router
    picks them. The expert work is the same either way, and both equal the
    count written from the config."""
    cfg = SMALL[name]
    paddle.seed(7)
    eager_model, _ = build(cfg, lazy=False)
    eager_model.eval()
    tokens = paddle.to_tensor(np.random.RandomState(0).randint(0, cfg["vocab_size"], [2, 7]).astype("int64"))
    run = pfe.profile(eager_model, inputs=(tokens,))
    lazy_model, _ = build(cfg)
    traced = pfe.profile(lazy_model, input_spec=[paddle.static.InputSpec([2, 7], "int64")], mode="trace")
    assert run.params == traced.params == expected_params(cfg)[0]
    assert run.macs == traced.macs == 2 * expected_forward_macs(cfg, 7)


def test_the_router_really_routes_when_run():
    """Run eagerly, expert ``e`` is called on exactly the token-slots whose
    top-k chose it (read back through a hook on the router's output)."""
    from paddle_flops_ext.models.moe import MoEFeedForward
    cfg = SMALL["qwen3_moe"]
    paddle.seed(3)
    model, _ = build(cfg, lazy=False)
    block = [m for m in model.sublayers() if isinstance(m, MoEFeedForward)][0]
    chosen_seen, rows_seen = [], []
    original_route = block.route

    def route(x2):
        weights, chosen = original_route(x2)
        chosen_seen.append(chosen.numpy())
        return weights, chosen

    block.route = route
    hook = block.experts.register_forward_post_hook(lambda layer, inp, out: rows_seen.append(inp[0].shape[0]))
    try:
        model(paddle.to_tensor(np.arange(10, dtype="int64").reshape([1, 10])))
    finally:
        hook.remove()
        del block.route
    counts = np.bincount(chosen_seen[0].reshape(-1), minlength=cfg["num_experts"])
    assert sorted(rows_seen) == sorted(int(c) for c in counts if c)


# ----------------------------------------------------------------------------- the cache the zoo keeps

def test_latent_attention_caches_per_head_keys_and_values():
    cfg = SMALL["mla_dense_then_moe"]
    paddle.seed(1)
    model, _ = build(cfg, lazy=False)
    _, cache = model(paddle.zeros([2, 5], dtype="int64"), use_cache=True)
    heads = cfg["num_attention_heads"]
    for k, v in cache:
        assert k.shape == [2, 5, heads, cfg["qk_nope_head_dim"] + cfg["qk_rope_head_dim"]]
        assert v.shape == [2, 5, heads, cfg["v_head_dim"]]


def test_sliding_window_layers_keep_at_most_the_window():
    cfg = SMALL["sinks_windows_stacked"]
    paddle.seed(1)
    model, _ = build(cfg, lazy=False)
    _, cache = model(paddle.zeros([1, 2], dtype="int64"), use_cache=True)
    assert [k.shape[1] for k, _ in cache] == [2, 2]
    for step in range(4):           # window 4: the next step's own key completes it
        _, cache = model(paddle.zeros([1, 1], dtype="int64"), past_key_values=cache, use_cache=True)
        assert [k.shape[1] for k, _ in cache] == [min(3, 3 + step), 3 + step]


def test_one_new_token_after_a_cache_gives_the_full_forwards_last_logits():
    cfg = SMALL["mla_dense_then_moe"]
    paddle.seed(2)
    model, _ = build(cfg, lazy=False)
    model.eval()
    ids = paddle.to_tensor(np.random.RandomState(1).randint(0, 97, [1, 6]).astype("int64"))
    full = model(ids)
    _, cache = model(ids[:, :5], use_cache=True)
    last, _ = model(ids[:, 5:], past_key_values=cache, use_cache=True)
    np.testing.assert_allclose(last.numpy()[:, -1], full.numpy()[:, -1], rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("extra, message", [
    ({"layer_types": ["linear_attention", "full_attention"]}, "linear_attention"),
    ({"model_type": "gemma2"}, "only Gemma-3"),
    ({"scoring_func": "sqrtsoftplus", "num_experts": 4, "num_experts_per_tok": 2}, "scoring_func"),
    ({"linear_num_value_heads": 8}, "does not model"),
    ({"kv_lora_rank": 8}, "qk_nope_head_dim"),
])
def test_structures_the_reader_does_not_model_are_refused(extra, message):
    base = {"model_type": "llama", "vocab_size": 10, "hidden_size": 16, "num_hidden_layers": 2,
            "num_attention_heads": 2, "intermediate_size": 8}
    with pytest.raises(ValueError, match=message):
        model_config({**base, **extra})


def test_every_family_is_shipped():
    assert set(FAMILIES) <= set(known_configs())


@pytest.mark.parametrize("name", ["mla_dense_then_moe", "sinks_windows_stacked"])
def test_generation_counts_the_cache_and_every_step_the_zoo_runs(name):
    """``profile_generation`` (traced, shapes only) against the model run
    eagerly on its own cache: the cache bytes at the end, and each decode
    step's MACs, across the sliding window's edge."""
    cfg = SMALL[name]
    paddle.seed(5)
    model, _ = build(cfg, lazy=False)
    model.eval()
    prompt, new = 2, 5
    g = pfe.profile_generation(model, prompt, new, peaks=False)
    ids = paddle.zeros([1, prompt], dtype="int64")
    _, cache = model(ids, use_cache=True)
    for i in range(1, new + 1):
        step = pfe.profile(model, inputs=(paddle.zeros([1, 1], dtype="int64"), cache, True), mode="eager")
        assert g.step(i).macs == step.macs, f"decode step {i}"
        _, cache = model(paddle.zeros([1, 1], dtype="int64"), past_key_values=cache, use_cache=True)
    real = sum(4 * (math.prod(k.shape) + math.prod(v.shape)) for k, v in cache)
    assert g.kv_cache_bytes == real
