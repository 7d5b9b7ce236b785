"""Language-model workloads: generation with a KV cache, MoE
active parameters, low-bit weight bytes, models from a config.

Every expected value is derived here from the configuration's fields by the
formulas written out in each test, never pasted from a run."""
from __future__ import annotations

import json

import numpy as np
import paddle
import pytest

import paddle_flops_ext as pfe
from paddle_flops_ext.llm import build, known_configs, load_config, model_config, moe_structure
from paddle_flops_ext.llm.generation import profile_generation, width
from paddle_flops_ext.models import llama as L
from paddle_flops_ext.models import moe as M

PEAKS = {"flops_per_s": 100e9, "bytes_per_s": 10e9}


def hf(cfg, *keys):
    for k in keys:
        if k in cfg:
            return cfg[k]
    raise KeyError(keys)


def dims(cfg):
    d, h = cfg["hidden_size"], cfg["num_attention_heads"]
    return dict(d=d, L=cfg["num_hidden_layers"], H=h, kv=cfg.get("num_key_value_heads", h), hd=d // h,
                f=cfg["intermediate_size"], V=cfg["vocab_size"])


def dense_params(c):
    """Embedding + lm_head (untied), per layer q/k/v/o + SwiGLU + 2 norms, final norm."""
    attn = c["d"] * c["H"] * c["hd"] * 2 + c["d"] * c["kv"] * c["hd"] * 2
    return 2 * c["V"] * c["d"] + c["L"] * (attn + 3 * c["d"] * c["f"] + 2 * c["d"]) + c["d"]


def linear_macs_per_token(c, params):
    """Every weight except the embedding table and the norm vectors does one MAC per token."""
    return params - c["V"] * c["d"] - (2 * c["L"] + 1) * c["d"]


def zeros(shape, dtype):
    return np.broadcast_to(np.zeros((), dtype), shape)


# ----------------------------------------------------------------------------- LLaMA-2-7B, lazily

@pytest.fixture(scope="module")
def llama7b():
    cfg = load_config("llama-2-7b")
    model, notes = build(cfg, max_seq_len=2048 + 16)
    return cfg, model


def test_llama2_7b_params_from_shipped_config(llama7b):
    cfg, model = llama7b
    assert all(not p._is_initialized() for p in model.parameters())       # built lazily
    c = dims(cfg)
    expected = dense_params(c)
    assert expected == 6_738_415_616                                       # the published figure
    r = pfe.profile(model, input_spec=[paddle.static.InputSpec([1, 8], "int64")])
    assert r.params == expected and r.active_params == expected and r.moe is None


@pytest.mark.parametrize("causal", ["full", "half"])
def test_llama2_7b_prefill_and_decode_exact(llama7b, causal):
    cfg, model = llama7b
    c = dims(cfg)
    P, T, B = 2048, 16, 1
    r = profile_generation(model, P, T, B, causal=causal, dtype="float16", peaks=PEAKS)
    lin = linear_macs_per_token(c, dense_params(c))
    entries = P * P if causal == "full" else P * (P + 1) // 2                 # score entries per head
    attention = c["L"] * c["H"] * entries * 2 * c["hd"]                       # QK^T + AV
    assert r.prefill.macs == B * (lin * P + attention)
    for i in (1, 2, 9, T):
        assert r.step(i).macs == B * lin + 2 * c["L"] * c["H"] * (P + i) * c["hd"]
    assert r.decode.macs == sum(r.step(i).macs for i in range(1, T + 1))
    assert r.decode.flops == sum(r.step(i).flops for i in range(1, T + 1))
    kv = 2 * c["L"] * c["kv"] * c["hd"] * (P + T) * B * 2                     # float16 cache
    assert r.kv_cache_bytes == kv
    assert r.exact and r.params == dense_params(c)


def test_llama2_7b_bytes_and_roofline(llama7b):
    cfg, model = llama7b
    c = dims(cfg)
    P, T = 128, 4
    r = profile_generation(model, P, T, dtype="float16", peaks=PEAKS)
    params = dense_params(c)
    # weights read per forward: everything but the embedding table, plus one row per token
    per_forward = (params - c["V"] * c["d"]) * 2
    assert r.step_weight_bytes == per_forward + c["d"] * 2
    assert r.prefill.weight_bytes == per_forward + P * c["d"] * 2
    kv_tok = 2 * c["L"] * c["kv"] * c["hd"] * 2
    assert r.prefill.kv_bytes == kv_tok * P
    assert r.step(3).kv_bytes == kv_tok * (P + 3)
    # roofline: max of the two times, bound by the larger
    s = r.step(1)
    assert s.time_s == max(s.flops / PEAKS["flops_per_s"], s.bytes / PEAKS["bytes_per_s"])
    assert s.bound == "memory"      # ~1 FLOP per byte at batch 1
    assert r.tpot_s == pytest.approx(sum(x.time_s for x in r.steps()) / T)
    assert r.ttft_s == r.prefill.time_s and r.tokens_per_s == pytest.approx(1 / r.tpot_s)


# ----------------------------------------------------------------------------- affinity, tiny model

def tiny(**over):
    return L.llama(L.LLAMA_TINY_TEST, **over)


def _step_trace(model, cfg, batch, context):
    past = tuple((zeros([batch, context - 1, cfg.kv_heads, cfg.head_dim], np.float32),) * 2
                 for _ in range(cfg.n_layers))
    return pfe.profile(model, inputs={"tokens": zeros([batch, 1], np.int64), "past_key_values": past,
                                      "use_cache": True}, mode="trace")


def test_decode_affine_in_context_verified_on_a_third_length():
    paddle.seed(1)
    model = tiny()
    P, T, B = 5, 7, 2
    r = profile_generation(model, P, T, B, peaks=False, verify_affine=True)
    # every step against its own trace (not two points and a line)
    for i in range(1, T + 1):
        t = _step_trace(model, model.cfg, B, P + i)
        assert (r.step(i).macs, r.step(i).flops) == (t.macs, t.flops)
    # and against a real eager run with a real cache
    x = paddle.randint(0, 64, [B, P])
    logits, cache = model(x, use_cache=True)
    e = pfe.profile(model, inputs={"tokens": x[:, :1], "past_key_values": cache, "use_cache": True},
                    mode="eager")
    assert (e.macs, e.flops) == (r.step(1).macs, r.step(1).flops)


def test_kv_cache_forward_matches_full_forward_and_counts_unchanged():
    paddle.seed(0)
    model = tiny()
    model.eval()
    x = paddle.randint(0, 64, [2, 9])
    full = model(x).numpy()
    logits, cache = model(x[:, :5], use_cache=True)
    out = [logits.numpy()]
    for i in range(5, 7):
        logits, cache = model(x[:, i:i + 1], past_key_values=cache, use_cache=True)
        out.append(logits.numpy())
    logits, cache = model(x[:, 7:], past_key_values=cache, use_cache=True)     # a chunk after a cache
    out.append(logits.numpy())
    np.testing.assert_allclose(np.concatenate(out, axis=1), full, atol=1e-5)
    assert tuple(cache[0][0].shape) == (2, 9, 2, 8)
    # the forward without a cache is counted as before: projections + full causal attention
    cfg = model.cfg
    c = dict(d=cfg.dim, L=cfg.n_layers, H=cfg.n_heads, kv=cfg.kv_heads, hd=cfg.head_dim, f=cfg.ffn_dim,
             V=cfg.vocab_size)
    r = pfe.profile(model, inputs=(x,))
    assert r.macs == 2 * (9 * linear_macs_per_token(c, dense_params(c)) + c["L"] * c["H"] * 81 * 2 * c["hd"])
    assert not hasattr(model, "past_key_values") and r.params == L.param_count(cfg)


@pytest.mark.parametrize("kv_heads", [4, 2, 1], ids=["MHA", "GQA", "MQA"])
def test_gqa_mqa_against_hand_formulas(kv_heads):
    model = tiny(n_kv_heads=kv_heads)
    cfg = model.cfg
    d, Ly, H, hd, f, V = cfg.dim, cfg.n_layers, cfg.n_heads, cfg.head_dim, cfg.ffn_dim, cfg.vocab_size
    params = 2 * V * d + Ly * (2 * d * H * hd + 2 * d * kv_heads * hd + 3 * d * f + 2 * d) + d
    P, T, B = 6, 3, 3
    r = profile_generation(model, P, T, B, kv_dtype="bfloat16", peaks=False)
    assert r.params == params
    lin = params - V * d - (2 * Ly + 1) * d
    assert r.prefill.macs == B * (P * lin + Ly * H * P * P * 2 * hd)          # scores priced by query heads
    assert r.step(2).macs == B * (lin + 2 * Ly * H * (P + 2) * hd)
    assert r.kv_cache_bytes == 2 * Ly * kv_heads * hd * (P + T) * B * 2


def test_tied_embeddings_and_qkv_bias_params():
    cfg = L.LlamaConfig(vocab_size=50, dim=16, n_layers=1, n_heads=2, n_kv_heads=1, ffn_dim=24, max_seq_len=16,
                        qkv_bias=True, tie_embeddings=True)
    model = L.Llama(cfg)
    d, hd = 16, 8
    expected = 50 * d + (2 * d * 2 * hd + 2 * d * hd + (2 * hd + 2 * hd) + 3 * d * 24 + 2 * d) + d
    r = profile_generation(model, 4, 2, peaks=False)
    assert r.params == expected == L.param_count(cfg)
    # a tied table is read whole by the head: no per-row embedding term
    assert r.step_weight_bytes == expected * 4


# ----------------------------------------------------------------------------- mixture of experts

def test_mixtral_8x7b_total_and_active_from_published_config():
    cfg = load_config("mixtral-8x7b")
    c = dims(cfg)
    E, k = cfg["num_local_experts"], cfg["num_experts_per_tok"]
    attn = c["d"] * c["H"] * c["hd"] * 2 + c["d"] * c["kv"] * c["hd"] * 2
    expert = 3 * c["d"] * c["f"]
    common = attn + c["d"] * E + 2 * c["d"]                                   # + router, norms
    outer = 2 * c["V"] * c["d"] + c["d"]
    total = outer + c["L"] * (common + E * expert)
    active = outer + c["L"] * (common + k * expert)
    assert round(total / 1e9, 1) == 46.7 and round(active / 1e9, 1) == 12.9  # the model card's figures
    model, _ = build(cfg, max_seq_len=64)
    r = pfe.profile(model, input_spec=[paddle.static.InputSpec([1, 16], "int64")])
    assert (r.params, r.active_params) == (total, active)
    assert (r.params, r.active_params) == M.param_count(model.cfg)
    assert any("mixture of experts" in n for n in r.to_dict()["notes"])
    assert f"{active:,}" in r.to_markdown() and f"total,active_params,,{active}" in r.summary_csv()


def _moe_macs(cfg, tokens, seq):
    d, hd = cfg.dim, cfg.head_dim
    attn_proj = d * cfg.n_heads * hd * 2 + d * cfg.kv_heads * hd * 2
    per_token = cfg.n_layers * (attn_proj + d * cfg.n_experts + cfg.top_k * 3 * d * cfg.expert_hidden
                                + 3 * d * cfg.shared_hidden) + cfg.vocab_size * d
    return tokens * per_token, cfg.n_layers * cfg.n_heads * seq * seq * 2 * hd


def test_moe_eager_as_routed_and_traced_expected_routing_agree_with_hand_formula():
    paddle.seed(3)
    model = M.moe_tiny_test()
    cfg = model.cfg
    B, S = 3, 7
    x = paddle.randint(0, cfg.vocab_size, [B, S])
    eager = pfe.profile(model, inputs=(x,), mode="eager")
    traced = pfe.profile(model, inputs=(x,), mode="trace")
    linear, attention = _moe_macs(cfg, B * S, S)
    assert eager.macs == traced.macs == linear + B * attention
    assert eager.flops == traced.flops
    # eager: each expert is counted at the tokens the router sent it; together N x k token-slots
    expert_macs = 3 * cfg.dim * cfg.expert_hidden
    for layer in range(cfg.n_layers):
        routed = sum(eager.find(f"layers.{layer}.feed_forward.experts.{e}").total_cost.macs
                     for e in range(cfg.n_experts) if eager.find(f"layers.{layer}.feed_forward.experts.{e}").called)
        assert routed == B * S * cfg.top_k * expert_macs
        # traced: the expected routing, N k / E token-slots per expert (as even as whole tokens allow)
        per = [traced.find(f"layers.{layer}.feed_forward.experts.{e}").total_cost.macs // expert_macs
               for e in range(cfg.n_experts)]
        assert sum(per) == B * S * cfg.top_k and max(per) - min(per) <= 1
    total, active = M.param_count(cfg)
    assert (eager.params, eager.active_params) == (total, active)
    s = moe_structure(model)
    assert s["experts"] == cfg.n_experts and s["top_k"] == cfg.top_k and len(s["moe_layers"]) == cfg.n_layers


def test_moe_generation_decode_and_expert_bytes_estimate():
    model = M.moe_tiny_test()
    cfg = model.cfg
    P, T, B = 4, 3, 2
    r = profile_generation(model, P, T, B, peaks=False, verify_affine=True)
    linear, _ = _moe_macs(cfg, B, 1)
    assert r.step(2).macs == linear + B * 2 * cfg.n_layers * cfg.n_heads * (P + 2) * cfg.head_dim
    assert r.active_params == M.param_count(cfg)[1]
    # expert weights: expected distinct experts for N tokens, E (1 - (1 - k/E)^N) (uniform routing, an estimate)
    E, k = cfg.n_experts, cfg.top_k
    expert_bytes = 3 * cfg.dim * cfg.expert_hidden * 4
    total, _ = M.param_count(cfg)
    dense = (total - cfg.n_layers * E * 3 * cfg.dim * cfg.expert_hidden - cfg.vocab_size * cfg.dim) * 4
    touched = E * (1 - (1 - k / E) ** B)
    assert r.step_weight_bytes == pytest.approx(dense + B * cfg.dim * 4 + cfg.n_layers * touched * expert_bytes)
    assert any("estimate" in n and "uniform routing" in n for n in r.notes)


# ----------------------------------------------------------------------------- low-bit

def test_low_bit_weight_bytes_use_the_real_width():
    model = tiny()
    cfg = model.cfg
    d, V = cfg.dim, cfg.vocab_size
    params = L.param_count(cfg)
    vectors = (2 * cfg.n_layers + 1) * d
    matrices = params - vectors - V * d
    for wd in ("int8", "int4", "bfloat16"):
        r = profile_generation(model, 4, 2, weight_dtype=wd, dtype="float16", peaks=False)
        assert r.step_weight_bytes == matrices * width(wd) + vectors * 2 + d * width(wd)
    assert width("int4") == 0.5 and width("int8") == 1


def test_weight_only_and_int8_linear_formulas_against_element_counts():
    from paddle_flops_ext.formulas import registry
    from paddle_flops_ext.formulas.quantization import quantized_weight_bytes
    M_, K, N = 10, 64, 32
    int8 = registry.lookup_op("weight_only_linear").cost({"x": (M_, K), "weight": (N, K), "bias": (N,)},
                                                        [(M_, N)], {"weight_dtype": "int8"})
    int4 = registry.lookup_op("weight_only_linear").cost({"x": (M_, K), "weight": (N // 2, K), "bias": None},
                                                        [(M_, N)], {"weight_dtype": "int4"})
    llm8 = registry.lookup_op("llm_int8_linear").cost({"x": (M_, K), "weight": (N, K), "bias": None},
                                                     [(M_, N)], {})
    assert int8.macs == int4.macs == llm8.macs == M_ * N * K
    assert int8.flops == 2 * M_ * N * K + N * K + M_ * N          # dequantise every weight + bias
    assert int4.flops == llm8.flops == 2 * M_ * N * K + N * K      # int4: N x K weights though stored [N/2, K]
    assert quantized_weight_bytes(K, N, "int8") == N * K * 1
    assert quantized_weight_bytes(K, N, "int4") == N * K / 2
    # a stored int8 parameter counts 1 byte per element whatever weight_dtype says
    from paddle_flops_ext.estimates.generation import param_bytes as _param_bytes
    w = paddle.zeros([N // 2, K], dtype="int8")
    assert _param_bytes(w, "float16", "bfloat16") == N * K / 2


# ----------------------------------------------------------------------------- configs, formats, CLI

@pytest.mark.parametrize("name", ["llama-2-13b", "llama-3-8b", "qwen2-7b", "llama-3-405b"])
def test_shipped_configs_build_lazily_with_the_analytic_params(name):
    cfg = load_config(name)
    mcfg, _ = model_config(cfg, max_seq_len=32)
    c = dims(cfg)
    expected = dense_params(c)
    if cfg["model_type"] == "qwen2":
        expected += c["L"] * (c["H"] + 2 * c["kv"]) * c["hd"]                # q/k/v biases
    assert L.param_count(mcfg) == expected
    model, _ = build(cfg, max_seq_len=32)
    assert all(not p._is_initialized() for p in model.parameters())
    assert pfe.profile(model, input_spec=[paddle.static.InputSpec([1, 4], "int64")]).params == expected


def test_known_configs_and_refusals(tmp_path):
    assert {"llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b", "llama-3-405b", "qwen2-7b",
            "qwen2-72b", "mixtral-8x7b"} <= set(known_configs())
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "deepseek_v2", "hidden_size": 64, "num_attention_heads": 4,
                                "kv_lora_rank": 16, "vocab_size": 10, "num_hidden_layers": 1,
                                "intermediate_size": 8}))
    with pytest.raises(ValueError, match="latent attention.*qk_nope_head_dim"):
        build(str(tmp_path))
    with pytest.raises(ValueError, match="no configuration"):
        load_config("no-such-model-xyz")


def test_every_format_carries_the_same_figures():
    r = profile_generation(tiny(), 6, 3, 2, peaks=PEAKS)
    d = r.to_dict()
    assert json.loads(r.to_json()) == json.loads(json.dumps(d))
    csv_text, md, table = r.to_csv(), r.to_markdown(), r.table()
    for key in ("kv_cache_bytes", "macs", "flops", "params"):
        v = d["summary"][key]
        assert str(v) in csv_text and f"{v:,}" in md and f"{v:,}" in table
    for phase in d["phases"]:
        assert phase["phase"] in csv_text and phase["phase"] in md and phase["phase"] in table
    for note in r.notes:
        assert note in csv_text and note in md and note in table
    assert d["summary"]["est_ttft_s"] == r.ttft_s and "TPOT" in table


def test_cli_llm_json(capsys):
    from paddle_flops_ext.cli import main
    assert main(["llm", "llama-2-7b", "--seq-len", "64", "--generate", "32,4", "--peaks", "100,10",
                 "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    c = dims(load_config("llama-2-7b"))
    assert doc["forward"]["total"]["params"] == dense_params(c)
    assert doc["generation"]["summary"]["kv_cache_bytes"] == 2 * c["L"] * c["kv"] * c["hd"] * 36 * 2
    assert doc["generation"]["summary"]["peak_source"] == "peaks given with --peaks"


def test_profile_generation_leaves_the_model_as_it_was():
    model = tiny()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    attrs = {id(l): set(vars(l)) for l in model.sublayers(include_self=True)}
    profile_generation(model, 4, 3, peaks=False)
    assert {id(l): set(vars(l)) for l in model.sublayers(include_self=True)} == attrs
    after = model.state_dict()
    assert set(after) == set(before) and all(np.array_equal(after[k].numpy(), before[k]) for k in before)
    with pytest.raises(ValueError):
        profile_generation(model, 0, 3, peaks=False)


# ----------------------------------------------------------------------------- KV-cache geometry

def _config(**fields):
    from types import SimpleNamespace
    return SimpleNamespace(**fields)


def test_mla_cache_holds_every_heads_k_and_v_and_reports_the_latent():
    """DeepSeek-V3's published config: 61 layers, 128 heads, qk_nope 128 + qk_rope 64 per key, v 128,
    kv_lora_rank 512. Per token: 61 x 128 x (192 + 128) elements cached per head; a latent cache
    would hold 61 x (512 + 64)."""
    from paddle_flops_ext.estimates.generation import config_geometry
    cfg = _config(num_hidden_layers=61, num_attention_heads=128, num_key_value_heads=128, hidden_size=7168,
                  qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128, kv_lora_rank=512)
    geo = config_geometry(cfg, windows=True)
    assert geo.kv_elements(1) == 2_498_560 == 61 * 128 * (128 + 64 + 128)
    assert geo.latent_elements(1) == 35_136 == 61 * (512 + 64)
    assert geo.kv_elements(1000) == 1000 * 2_498_560 and geo.step_elements(7) == 7 * 2_498_560


def test_sliding_window_layers_keep_window_minus_one_and_attend_at_most_the_window():
    """GPT-OSS-120B's layout: 36 layers alternating sliding (window 128) and full attention, 8 KV heads
    of 64. After n tokens a sliding layer keeps min(127, n) entries, a full one n; a decode step at
    context c reads and writes min(128, c) entries of a sliding layer, c of a full one."""
    from paddle_flops_ext.estimates.generation import config_geometry
    types = ["sliding_attention", "full_attention"] * 18
    cfg = _config(num_hidden_layers=36, num_attention_heads=64, num_key_value_heads=8, head_dim=64,
                  hidden_size=2880, sliding_window=128, layer_types=types)
    geo = config_geometry(cfg, windows=True)
    per_entry = 8 * (64 + 64)
    for n in (1, 100, 127, 128, 5000):
        assert geo.kv_elements(n) == per_entry * (18 * n + 18 * min(127, n))
    for c in (5, 128, 129, 4096):
        assert geo.step_elements(c) == per_entry * (18 * c + 18 * min(128, c))
    brute = sum(per_entry * (18 * c + 18 * min(128, c)) for c in range(100, 301))
    assert geo.steps_elements(100, 300) == brute
    # without the cache object's rule (PaddleNLP tuples) every layer keeps every token
    assert config_geometry(cfg).kv_elements(5000) == per_entry * 36 * 5000


def test_sliding_window_without_layer_types_makes_every_layer_sliding_and_breaks_the_decode_line():
    from paddle_flops_ext.estimates.generation import config_geometry, decode_breaks
    cfg = _config(num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=4, hidden_size=256,
                  sliding_window=16, layer_types=None)
    geo = config_geometry(cfg, windows=True)
    assert geo.windows == (16, 16, 16, 16)
    assert geo.kv_elements(40) == 4 * 4 * (32 + 32) * 15
    assert decode_breaks(geo, 10, 40) == [10, 16, 40] and decode_breaks(geo, 20, 40) == [20, 40]


class _ToyCache:
    """A KV-cache object (the get_seq_length protocol) whose update grows its tensors."""

    def __init__(self, keys):
        self.keys = keys

    def get_seq_length(self):
        return self.keys.shape[1]

    def update(self, new):
        self.keys = paddle.concat([self.keys, new], axis=1)
        return self.keys


class _AttendsCache(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.proj = paddle.nn.Linear(8, 8)

    def forward(self, x, past_key_values):
        keys = past_key_values.update(self.proj(x))
        return paddle.matmul(x, keys, transpose_y=True)


def test_profile_takes_a_cache_object_in_both_modes_and_leaves_it_unchanged():
    net = _AttendsCache()
    cache = _ToyCache(paddle.zeros([2, 5, 8]))
    x = paddle.ones([2, 1, 8])
    expected = 2 * 1 * 8 * 8 + 2 * 1 * 6 * 8      # Linear on one token + scores against 5 + 1 keys
    for mode in ("eager", "trace"):
        r = pfe.profile(net, inputs={"x": x, "past_key_values": cache}, mode=mode)
        assert r.macs == expected, mode
    assert cache.keys.shape == [2, 5, 8]
    with pytest.raises(TypeError, match="KV-cache object"):
        pfe.profile(net, inputs={"x": x, "past_key_values": object()})
