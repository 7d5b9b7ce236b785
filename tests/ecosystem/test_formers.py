"""PaddleFormers 1.2.0 decoders, tiny configs with random weights, built from
config classes (nothing downloaded), through their own KV caches.

PaddleFormers' Qwen / DeepSeek / GLM modules import ``paddlefleet`` and
``paddlefleet_ops``, which are not on the package index: this module puts the
test-only stand-ins of ``tests/ecosystem/stand_ins`` on ``sys.path`` (every
function and class there raises when used; ``paddlefleet_ops`` answers only
that DeepEP is not available), so the plain Paddle model classes build. Qwen's
``*ForCausalLM`` always builds the paddlefleet GPT model, so its plain Paddle
class, ``*ForCausalLMDeprecated``, is the one counted. RMSNorm runs unfused
(``fuse_rms_norm=False``: the fused kernel is GPU-only).

Checks per model:
- ``test_params``: params == the sum of ``numel`` over ``parameters()``;
- ``test_forward_macs``: MACs of one forward == our own ``nn.Linear`` post-hooks
  (routed experts counted as routed, by the hooks on the expert layers) + the
  contractions derived here from the config (attention scores and values,
  language-model head, rotary frequencies, experts kept as stacked weights);
- ``test_generation_steps``: ``profile_generation`` (traced) gives the prefill
  and every decode step that ``profile(mode="eager")`` counts on the model's
  real cache, step by step, and their sums;
- ``test_kv_cache_bytes``: the KV bytes at the end == the elements of the
  tensors the model's own cache object holds after a real prefill and
  decode (sliding-window layers keep window - 1 entries);
- ``test_profile_takes_a_cache_object``: ``profile(inputs={...,
  "past_key_values": DynamicCache})`` counts the same in eager and trace
  mode and leaves the cache as it was.
"""
import dataclasses
import importlib
import math
import os
import sys
from typing import Callable

import numpy as np
import paddle
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "stand_ins"))
pytest.importorskip("paddleformers")

import _expected  # noqa: E402
import paddle_flops_ext as pfe  # noqa: E402
from paddle_flops_ext.estimates.generation import geometry  # noqa: E402
from paddle_flops_ext.llm.generation import profile_generation  # noqa: E402

V, HID, LAYERS, HEADS, KV, HD, FF = 128, 64, 2, 4, 2, 16, 96
B, P, T = 1, 6, 4        # batch, prompt, decode steps
WINDOW = 8               # sliding window: the decode contexts P+1..P+T cross it
E, K, FF_E = 4, 2, 32    # routed experts, top-k, expert width

COMMON = dict(vocab_size=V, hidden_size=HID, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
              num_key_value_heads=KV, intermediate_size=FF, max_position_embeddings=256, head_dim=HD,
              fuse_rms_norm=False)


def _module(name):
    return importlib.import_module(f"paddleformers.transformers.{name}")


@dataclasses.dataclass
class Case:
    id: str
    module: str
    config: str
    model: str
    options: dict = dataclasses.field(default_factory=dict)
    # contractions not made by nn.Linear, for a forward over `seq` tokens with `keys` keys per query
    # and layer (a list: one entry per layer); from the config
    hand: Callable = None
    xfail: dict = dataclasses.field(default_factory=dict)
    trace_gap: str = ""      # why trace mode cannot go through this model (then it is run, said in the notes)

    def build(self):
        cfg = getattr(_module(self.module), self.config)(**{**COMMON, **self.options})
        paddle.seed(0)
        net = getattr(_module(self.module), self.model)(cfg)
        net.eval()
        return net


def attention(cfg, seq, keys, qk_dim=None, v_dim=None):
    """Q K^T and weights x V per layer: B x H_q x seq x keys x (D_qk + D_v)."""
    qk = qk_dim or cfg.head_dim
    return sum(B * cfg.num_attention_heads * seq * k * (qk + (v_dim or cfg.head_dim)) for k in keys)


def lm_head(cfg, seq):
    return B * seq * cfg.hidden_size * cfg.vocab_size


def rotary(dim, seq):
    """inv_freq [B, dim/2, 1] @ positions [B, 1, seq] (HF-style rotary embedding), once per forward."""
    return B * (dim // 2) * seq


def dense(cfg, seq, keys):
    return attention(cfg, seq, keys) + lm_head(cfg, seq) + rotary(cfg.head_dim, seq)


def gpt_oss(cfg, seq, keys):
    # eval mode: every token through every expert (stacked weights, bmm), router by F.linear
    n = B * seq
    experts = cfg.num_experts * n * (cfg.hidden_size * 2 * cfg.intermediate_size
                                     + cfg.intermediate_size * cfg.hidden_size)
    router = n * cfg.hidden_size * cfg.num_experts
    return dense(cfg, seq, keys) + cfg.num_hidden_layers * (experts + router)


def deepseek(cfg, seq, keys):
    # MLA: scores over qk_nope + qk_rope, values v_head_dim wide; the router of each MoE layer
    # (after the first_k_dense_replace dense ones) is F.linear(hidden, weight): tokens x hidden x experts
    qk = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim
    router = (cfg.num_hidden_layers - cfg.first_k_dense_replace) * B * seq * cfg.hidden_size * cfg.n_routed_experts
    return (attention(cfg, seq, keys, qk, cfg.v_head_dim) + lm_head(cfg, seq)
            + rotary(cfg.qk_rope_head_dim, seq) + router)


VIEW = "its sparse MoE block calls Tensor.view, which Paddle allows only in dynamic mode"
MOE_QWEN = dict(num_experts=E, num_experts_per_tok=K, moe_intermediate_size=FF_E)
CASES = [
    Case("Llama", "llama", "LlamaConfig", "LlamaForCausalLM", hand=dense),
    Case("Qwen2", "qwen2", "Qwen2Config", "Qwen2ForCausalLMDeprecated", hand=dense),
    Case("Qwen3", "qwen3", "Qwen3Config", "Qwen3ForCausalLMDeprecated", hand=dense),
    Case("Qwen2-MoE", "qwen2_moe", "Qwen2MoeConfig", "Qwen2MoeForCausalLMDeprecated",
         dict(MOE_QWEN, shared_expert_intermediate_size=48), hand=dense, trace_gap=VIEW),
    Case("Qwen3-MoE", "qwen3_moe", "Qwen3MoeConfig", "Qwen3MoeForCausalLMDeprecated", MOE_QWEN, hand=dense,
         trace_gap=VIEW),
    Case("ERNIE-4.5", "ernie4_5", "Ernie4_5Config", "Ernie4_5ForCausalLM", hand=dense),
    Case("ERNIE-4.5-MoE", "ernie4_5_moe", "Ernie4_5_MoeConfig", "Ernie4_5_MoeForCausalLM",
         dict(moe_num_experts=E, moe_k=K, moe_intermediate_size=FF_E, moe_layer_start_index=1), hand=dense,
         xfail={check: "its MoE layer runs GPU-only fused kernels (expand_modality_expert_id, "
                       "moe_gate_dispatch_partial_nosoftmaxtopk): no CPU kernel"
                for check in ("params", "forward_macs", "generation_steps", "kv_cache_bytes", "profile_cache")}),
    Case("Gemma-3", "gemma3_text", "Gemma3TextConfig", "Gemma3ForCausalLM", dict(sliding_window=WINDOW),
         hand=dense),
    Case("DeepSeek-V3", "deepseek_v3", "DeepseekV3Config", "DeepseekV3ForCausalLM",
         dict(kv_lora_rank=32, q_lora_rank=48, qk_nope_head_dim=16, qk_rope_head_dim=8, head_dim=8,
              v_head_dim=16, n_routed_experts=E, num_experts_per_tok=K, moe_intermediate_size=FF_E,
              first_k_dense_replace=1, n_shared_experts=1, n_group=1, topk_group=1,
              rope_scaling={"rope_type": "default", "factor": 1.0}),
         hand=deepseek,
         xfail={check: "PaddleFormers 1.2's DeepSeek-V3 decode step fails on its own cache: the attention "
                       "caches [batch, seq, heads, dim] in a DynamicCache that reads and grows axis -2 "
                       "(heads), and its rotary embedding does not broadcast for one new token"
                for check in ("generation_steps", "kv_cache_bytes", "profile_cache")}),
    Case("GPT-OSS", "gpt_oss", "GptOssConfig", "GptOssForCausalLM",
         dict(num_experts=E, num_experts_per_tok=K, sliding_window=WINDOW), hand=gpt_oss),
]
BY_ID = {c.id: c for c in CASES}
_NETS = {}


def net_of(mid):
    if mid not in _NETS:
        _NETS[mid] = BY_ID[mid].build()
    return _NETS[mid]


def ids(seq, seed=0):
    return paddle.to_tensor(np.random.RandomState(seed).randint(1, V, size=(B, seq)).astype("int64"))


def positions(first, count):
    return paddle.to_tensor(np.arange(first, first + count, dtype="int64")[None].repeat(B, 0))


def prefill_cache(net):
    """The model's own cache after a real prefill of the prompt."""
    with paddle.no_grad():
        return net(input_ids=ids(P), position_ids=positions(0, P), use_cache=True,
                   return_dict=True).past_key_values


def cache_elements(cache):
    return sum(math.prod(layer.keys.shape) + math.prod(layer.values.shape) for layer in cache.layers)


def cases(check):
    return [pytest.param(c.id, marks=pytest.mark.xfail(strict=True, reason=c.xfail[check]))
            if check in c.xfail else c.id for c in CASES]


def windows(cfg):
    """Per layer: the sliding window or None (the config's layer_types, else every layer when
    sliding_window is set; written from the configs, as PaddleFormers documents them)."""
    window = getattr(cfg, "sliding_window", None)
    types = getattr(cfg, "layer_types", None) or [("sliding_attention" if window else "full_attention")] * \
        cfg.num_hidden_layers
    return [window if t == "sliding_attention" else None for t in types]


@pytest.mark.parametrize("mid", cases("params"))
def test_params(mid):
    net = net_of(mid)
    mode = "trace" if "forward_macs" in BY_ID[mid].xfail else "eager"   # trace: nothing runs
    r = pfe.profile(net, inputs={"input_ids": ids(P), "use_cache": False, "return_dict": True}, mode=mode)
    assert r.params == _expected.count_params(net)[0]


@pytest.mark.parametrize("mid", cases("forward_macs"))
def test_forward_macs(mid):
    net, case = net_of(mid), BY_ID[mid]
    kwargs = {"input_ids": ids(P), "use_cache": False, "return_dict": True}
    linear, _ = _expected.expected_macs(net, (), kwargs, None)
    # a forward without a cache: every layer (windowed ones too) computes the P x P scores, masked
    hand = case.hand(net.config, P, [P] * net.config.num_hidden_layers)
    r = pfe.profile(net, inputs=kwargs, mode="eager")
    assert r.macs == linear + hand, f"hooks {linear:,} + hand {hand:,} != {r.macs:,}"


def _real_steps(net):
    """Eager counts of the prefill and of each decode step on the model's own cache, advanced by
    real forwards; also checks that profiling leaves the cache as it was."""
    pre = pfe.profile(net, inputs={"input_ids": ids(P), "position_ids": positions(0, P), "use_cache": True,
                                   "return_dict": True}, mode="eager")
    cache = prefill_cache(net)
    steps = []
    for i in range(1, T + 1):
        token = ids(1, seed=i)
        inputs = {"input_ids": token, "position_ids": positions(P + i - 1, 1), "past_key_values": cache,
                  "use_cache": True, "return_dict": True}
        before = [tuple(layer.keys.shape) for layer in cache.layers]
        steps.append(pfe.profile(net, inputs=inputs, mode="eager"))
        assert [tuple(layer.keys.shape) for layer in cache.layers] == before, "profiling changed the cache"
        with paddle.no_grad():
            cache = net(**inputs).past_key_values
    return pre, steps, cache


@pytest.mark.parametrize("mid", cases("generation_steps"))
def test_generation_steps(mid):
    net = net_of(mid)
    gen = profile_generation(net, P, T, B, peaks=False)
    if BY_ID[mid].trace_gap:   # counted by running it, and said so
        assert gen.mode == "eager" and any("because the trace failed" in n for n in gen.notes)
    else:
        assert gen.mode == "trace"
    pre, steps, _ = _real_steps(net)
    assert gen.prefill.macs == pre.macs and gen.prefill.flops == pre.flops
    for i, real in enumerate(steps, 1):
        assert (gen.step(i).macs, gen.step(i).flops) == (real.macs, real.flops), f"decode step {i}"
    assert gen.decode.macs == sum(s.macs for s in steps)
    assert gen.decode.flops == sum(s.flops for s in steps)
    # the decode step's attention follows the keys the model holds: windowed layers stop at the window
    cfg = net.config
    keys = [[c if w is None else min(w, c) for w in windows(cfg)] for c in range(P + 1, P + T + 1)]
    attn = [attention(cfg, 1, k) for k in keys]
    assert [gen.step(i + 1).macs - gen.step(1).macs for i in range(T)] == [a - attn[0] for a in attn]


@pytest.mark.parametrize("mid", cases("kv_cache_bytes"))
def test_kv_cache_bytes(mid):
    net = net_of(mid)
    cache = prefill_cache(net)
    prefill_elements = cache_elements(cache)
    with paddle.no_grad():
        for i in range(1, T + 1):
            cache = net(input_ids=ids(1, seed=i), position_ids=positions(P + i - 1, 1), past_key_values=cache,
                        use_cache=True, return_dict=True).past_key_values
    elements = cache_elements(cache)
    gen = profile_generation(net, P, T, B, peaks=False)
    assert gen.kv_cache_bytes == elements * 4           # float32
    assert gen.prefill.kv_bytes == prefill_elements * 4


def test_deepseek_prefill_cache_is_per_head_k_and_v_and_latent_is_reported():
    """MLA: PaddleFormers caches every head's K (nope + rope) and V; the latent size is reported too."""
    net = net_of("DeepSeek-V3")
    cfg = net.config
    elements = cache_elements(prefill_cache(net))
    per_token = cfg.num_hidden_layers * cfg.num_attention_heads * (
        cfg.qk_nope_head_dim + cfg.qk_rope_head_dim + cfg.v_head_dim)
    assert elements == per_token * P * B
    geo = geometry(net, windows=True)
    assert geo.kv_elements(P) * B == elements
    assert geo.latent_elements(P) == cfg.num_hidden_layers * (cfg.kv_lora_rank + cfg.qk_rope_head_dim) * P


@pytest.mark.parametrize("mid", cases("profile_cache"))
def test_profile_takes_a_cache_object(mid):
    net = net_of(mid)
    cache = prefill_cache(net)
    shapes = [(tuple(l.keys.shape), tuple(l.values.shape)) for l in cache.layers]
    inputs = {"input_ids": ids(1), "position_ids": positions(P, 1), "past_key_values": cache,
              "use_cache": True, "return_dict": True}
    eager = pfe.profile(net, inputs=inputs, mode="eager")
    if BY_ID[mid].trace_gap:
        with pytest.raises(pfe.TraceError):
            pfe.profile(net, inputs=inputs, mode="trace")
    else:
        traced = pfe.profile(net, inputs=inputs, mode="trace")
        assert (traced.macs, traced.flops) == (eager.macs, eager.flops)
    assert [(tuple(l.keys.shape), tuple(l.values.shape)) for l in cache.layers] == shapes
    assert isinstance(cache, importlib.import_module("paddleformers.transformers.cache_utils").DynamicCache)
