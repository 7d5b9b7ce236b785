"""Active parameters for every mixture-of-experts layout: experts as a
``LayerList`` and experts as stacked ``[E, ...]`` weights (GPT-OSS), in every
output format. Counts are written out from the shapes."""
from __future__ import annotations

import json

import paddle

import paddle_flops_ext as pfe

E, K, H, F, TOKENS = 4, 2, 8, 16, 3


class Config:
    num_local_experts = E
    num_experts_per_tok = K


class StackedExperts(paddle.nn.Layer):
    """GPT-OSS's layout: one weight per projection holding every expert."""

    def __init__(self):
        super().__init__()
        self.gate_up_proj = self.create_parameter([E, H, 2 * F])
        self.down_proj = self.create_parameter([E, F, H])

    def forward(self, x):                    # eval: every expert on every token, a batched product
        xs = paddle.expand(x.unsqueeze(0), [E, TOKENS, H])
        gate_up = paddle.bmm(xs, self.gate_up_proj)
        gate, up = paddle.split(gate_up, 2, axis=-1)
        return paddle.bmm(paddle.nn.functional.silu(gate) * up, self.down_proj).sum(0)


class Block(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.config = Config()
        self.router = paddle.nn.Linear(H, E, bias_attr=False)
        self.experts = StackedExperts()

    def forward(self, x):
        self.router(x)
        return self.experts(x)


PER_EXPERT = H * 2 * F + F * H
TOTAL = H * E + E * PER_EXPERT


def test_stacked_expert_weights_give_active_parameters_and_say_what_ran():
    r = pfe.profile(Block(), [TOKENS, H])
    assert r.params == TOTAL
    assert r.active_params == TOTAL - (E - K) * PER_EXPERT
    assert r.moe["stacked_layers"] == ["experts"]
    assert any("stacked [E, ...] weights" in n for n in r.notes)
    # what ran: every expert on every token
    assert r.macs == TOKENS * H * E + E * TOKENS * H * 2 * F + E * TOKENS * F * H


def test_active_parameters_are_a_field_of_every_format():
    r = pfe.profile(Block(), [TOKENS, H])
    active = TOTAL - (E - K) * PER_EXPERT
    assert json.loads(r.to_json())["total"]["active_params"] == active
    assert f"active per token: {pfe_human(active)} ({active:,})" in r.table()
    assert f"({active:,})" in r.to_markdown()
    assert f"total,active_params,,{active}" in r.summary_csv()


def test_a_dense_model_has_no_active_parameter_field():
    r = pfe.profile(paddle.nn.Linear(4, 4), [1, 4])
    assert "active_params" not in json.loads(r.to_json())["total"]
    assert "active per token" not in r.table()


def pfe_human(n):
    from paddle_flops_ext.report.render import human
    return human(n)
