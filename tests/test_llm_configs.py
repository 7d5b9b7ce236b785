"""Configurations are read completely: every key that shapes the model is
either used or stops the count with a message - a mixture-of-experts config
is never counted as a dense model."""
from __future__ import annotations

import numpy as np
import pytest

from paddle_flops_ext.llm import model_config

BASE = {"model_type": "ernie4_5_moe", "vocab_size": 1000, "hidden_size": 64, "num_hidden_layers": 4,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 256, "hidden_act": "silu"}
ERNIE_MOE = {**BASE, "moe_num_experts": 8, "moe_k": 2, "moe_intermediate_size": 32, "moe_num_shared_experts": 2,
             "moe_layer_start_index": 0, "moe_layer_interval": 1, "moe_layer_end_index": 3,
             "moe_capacity": [8, 8, 8], "router_aux_loss_coef": 0.001}


def test_ernie_moe_keys_are_read():
    mcfg, _ = model_config(ERNIE_MOE)
    assert (mcfg.n_experts, mcfg.top_k, mcfg.expert_ffn_dim) == (8, 2, 32)
    assert (mcfg.n_shared_experts, mcfg.shared_ffn_dim) == (2, 32)


@pytest.mark.parametrize("key, value, moe_layers", [("moe_layer_start_index", 1, (1, 2, 3)),
                                                    ("moe_layer_interval", 2, (1, 3)),
                                                    ("moe_layer_end_index", 2, (0, 1, 2))])
def test_a_stack_mixing_dense_and_moe_layers_is_read_layer_by_layer(key, value, moe_layers):
    mcfg, _ = model_config({**ERNIE_MOE, key: value})
    assert mcfg.moe_layers == moe_layers


@pytest.mark.parametrize("key, value", [("moe_expert_dims", [32, 64]), ("num_experts_in_group", 4), ("attn_lora_rank", 16)])
def test_a_key_that_shapes_the_model_and_is_not_understood_stops_the_count(key, value):
    with pytest.raises(ValueError, match=f"{key}=.*does not model"):
        model_config({**BASE, key: value})


def test_dense_configs_and_training_only_keys_pass():
    mcfg, _ = model_config({**BASE, "router_aux_loss_coef": 0.01, "use_sliding_window": False})
    assert not hasattr(mcfg, "n_experts")


def test_memory_is_priced_at_the_dtype_the_model_is_served_in():
    import paddle

    import paddle_flops_ext as pfe

    r = pfe.profile(paddle.nn.Linear(4, 5), [1, 4])
    assert r.memory["parameters"] == 4 * (4 * 5 + 5)
    half = r.memory_at("bfloat16")
    assert half["parameters"] == 2 * (4 * 5 + 5) and half["by_dtype"]["parameters"] == {"bfloat16": 50}
    assert r.memory["parameters"] == 4 * (4 * 5 + 5)        # the result's own figure is left as it is


def test_llm_cli_reports_memory_in_the_configurations_dtype(tmp_path):
    import json
    import subprocess
    import sys

    cfg = {"model_type": "llama", "vocab_size": 256, "hidden_size": 64, "num_hidden_layers": 2,
           "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 128,
           "max_position_embeddings": 64, "torch_dtype": "bfloat16"}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    proc = subprocess.run([sys.executable, "-m", "paddle_flops_ext", "llm", str(tmp_path), "--seq-len", "16",
                           "--format", "json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    from paddle_flops_ext.llm import build
    model, _ = build(dict(cfg), max_seq_len=16)
    elements = sum(int(np.prod(t.shape)) for t in list(model.parameters()) + list(model.buffers()))
    assert doc["forward"]["memory"]["parameters"] == 2 * elements
    assert any("bfloat16" in n for n in doc["notes"])
