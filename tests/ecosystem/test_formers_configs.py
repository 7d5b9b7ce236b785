"""A PaddleFormers decoder's configuration read by ``pfe.llm.build`` gives
the model PaddleFormers builds: for each family of ``test_formers.CASES``
(small random-init models), the zoo decoder built lazily from
``net.config`` has exactly the parameters of the PaddleFormers model, and its
shape-only count (trace mode, routed experts by expected routing) equals the
MACs the PaddleFormers model runs eagerly, but for two differences that are
the implementations', written out here: PaddleFormers computes its rotary
angles with a small matmul (``inv_freq @ positions``), and its GPT-OSS runs
every expert on every token in eval where the zoo routes each token to its
top-k experts. A multi-token-prediction block, which some classes build, is
left out of the count with a note, as the published totals leave it out.
"""
from __future__ import annotations

import math

import numpy as np
import paddle
import pytest

pytest.importorskip("paddleformers")

import test_formers as T  # noqa: E402  (puts the paddlefleet stand-in on sys.path)
import paddle_flops_ext as pfe  # noqa: E402
from paddle_flops_ext.llm import build  # noqa: E402

SEQ = 12


@pytest.mark.parametrize("case", T.CASES, ids=[c.id for c in T.CASES])
def test_config_builds_the_same_model_and_counts_the_same_work_without_weights(case):
    net = case.build()
    zoo, notes = build(net.config, max_seq_len=64)
    assert all(not p._is_initialized() for p in zoo.parameters())
    # a multi-token-prediction block is built by some classes, and left out of the count with a note
    mtp = sum(math.prod(p.shape) for name, p in net.named_parameters() if ".mtp_" in name)
    assert bool(mtp) == any("multi-token-prediction" in n for n in notes)
    assert sum(math.prod(p.shape) for p in zoo.parameters()) == \
        sum(math.prod(p.shape) for p in net.parameters()) - mtp
    if "forward_macs" in case.xfail:
        pytest.skip(case.xfail["forward_macs"])
    cfg = net.config
    ids = paddle.to_tensor(np.arange(SEQ * T.B, dtype="int64").reshape([T.B, SEQ]) % cfg.vocab_size)
    ran = pfe.profile(net, inputs={"input_ids": ids}, mode="eager").macs
    counted = pfe.profile(zoo, input_spec=[paddle.static.InputSpec([T.B, SEQ], "int64")], mode="trace").macs
    rope_dim = cfg.qk_rope_head_dim if getattr(cfg, "kv_lora_rank", None) else cfg.head_dim
    expected = ran - T.rotary(rope_dim, SEQ)
    if cfg.model_type == "gpt_oss":      # dense in eval: the experts a token did not choose ran too
        per_token_expert = 3 * cfg.hidden_size * cfg.intermediate_size
        experts = getattr(cfg, "num_local_experts", None) or cfg.num_experts
        expected -= (experts - cfg.num_experts_per_tok) * T.B * SEQ * per_token_expert * \
            cfg.num_hidden_layers
    assert counted == expected
