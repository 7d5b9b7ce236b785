"""Per-rank plans: model states under ZeRO, kept activations under tensor,
sequence and pipeline parallelism, collectives, FLOPs and the bubble,
checked against published figures and formulas written here."""
import pytest

from paddle_flops_ext.estimates.parallel import (BlockShape, ModelShape, ParallelLayout, PlanRequest, plan,
                                                 transformer_activations)

EMPTY = BlockShape("edge", 0, 0, 0, 0)


def _one_block_model(params: int) -> ModelShape:
    return ModelShape("states only", 1, 1, (BlockShape("all", params, 0, 0, 0),), EMPTY, EMPTY)


@pytest.mark.parametrize("stage, published_gb", [(0, 120.0), (1, 31.4), (2, 16.6), (3, 1.9)])
def test_zero_paper_model_states_for_7_5b_on_64_devices(stage, published_gb):
    """Rajbhandari et al., Figure 1: 7.5 B parameters, 64 devices, Adam in
    mixed precision (K = 12): 2 + 2 + K bytes per parameter, with the
    optimizer states, then the gradients, then the weights split N ways."""
    psi, n, k = 7.5e9, 64, 12
    derived = {0: (2 + 2 + k) * psi, 1: 2 * psi + 2 * psi + k * psi / n,
               2: 2 * psi + (2 + k) * psi / n, 3: (2 + 2 + k) * psi / n}[stage]
    assert derived / 1e9 == pytest.approx(published_gb, abs=0.05)
    got = plan(PlanRequest(_one_block_model(7_500_000_000), ParallelLayout(dp=64, zero=stage), optimizer="adam"))
    assert got.stages[0].model_state_bytes == pytest.approx(derived, rel=1e-9)


def _gpt(s=2048, h=4096, a=32, layers=4, **layout):
    blocks = tuple(BlockShape(f"b{i}", 12 * h * h, 4 * h, 0, 0,
                              transformer_activations(h, a, s, 4 * h, gated=False, dropout=True), s * h)
                   for i in range(layers))
    return plan(PlanRequest(ModelShape("gpt", s, h, blocks, EMPTY, EMPTY), ParallelLayout(**layout)))


S, H, A, LAYERS = 2048, 4096, 32, 4


def _per_layer(result) -> float:
    stage = result.stages[0]
    return stage.activation_bytes / stage.in_flight / LAYERS


@pytest.mark.parametrize("b", [1, 2, 4])
def test_korthikanti_activations_without_parallelism(b):
    """sbh (34 + 5 a s / h) bytes per layer at 16 bits."""
    expected = S * b * H * (34 + 5 * A * S / H)
    assert _per_layer(_gpt(micro_batch=b)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("t", [2, 4, 8])
def test_korthikanti_tensor_parallel(t):
    """sbh (10 + 24 / t + 5 a s / (h t))."""
    expected = S * H * (10 + 24 / t + 5 * A * S / (H * t))
    assert _per_layer(_gpt(tp=t)) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("t", [2, 4, 8])
def test_korthikanti_tensor_and_sequence_parallel(t):
    """sbh (34 / t + 5 a s / (h t))."""
    expected = S * H * (34 / t + 5 * A * S / (H * t))
    assert _per_layer(_gpt(tp=t, sequence_parallel=True)) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("t", [2, 8])
def test_korthikanti_selective_and_full_recompute(t):
    """Selective recomputation keeps sbh 34 / t; full keeps the layer
    input, 2 sbh / t with sequence parallelism."""
    selective = _gpt(tp=t, sequence_parallel=True, recompute="selective")
    assert _per_layer(selective) == pytest.approx(S * H * 34 / t, rel=1e-9)
    full = _gpt(tp=t, sequence_parallel=True, recompute="full")
    assert _per_layer(full) == pytest.approx(2 * S * H / t, rel=1e-9)


def test_first_stage_holds_as_many_micro_batches_as_stages():
    """1F1B: stage i keeps p - i micro-batches; the first stage's activations
    equal one micro-batch through every layer (Korthikanti, section 4.2)."""
    p = 4
    result = _gpt(layers=8, pp=p, global_batch=16)
    assert [s.in_flight for s in result.stages] == [4, 3, 2, 1]
    per_layer = S * H * (34 + 5 * A * S / H)
    assert result.stages[0].activation_bytes == pytest.approx(8 * per_layer, rel=1e-12)
    assert result.bubble == pytest.approx((p - 1) / (16 + p - 1))


def test_data_parallel_traffic_matches_zero_paper_volumes():
    """ZeRO: stages 0-2 move 2 psi per rank (reduce-scatter + all-gather, or
    an all-reduce), stage 3 moves 3 psi; ring sends (n-1)/n of each."""
    psi, n = 1_000_000, 8
    model = _one_block_model(psi)
    sent = {z: plan(PlanRequest(model, ParallelLayout(dp=n, zero=z))).stages[0].sent_bytes for z in range(4)}
    unit = 2 * psi * (n - 1) / n       # 16-bit gradients or weights, one pass
    for z in (0, 1, 2):
        assert sent[z] == pytest.approx(2 * unit, rel=1e-6)
    assert sent[3] == pytest.approx(3 * unit, rel=1e-6)


def test_tensor_parallel_all_reduces_per_layer():
    """Megatron: two all-reduces of s b h per layer in the forward, two in the
    backward; each rank sends 2 (t-1)/t of the buffer."""
    t = 4
    stage = _gpt(tp=t).stages[0]
    tensor = [c for c in stage.collectives if c.group == "tensor" and c.collective == "all-reduce"]
    blocks = tensor[0]
    assert blocks.buffer_bytes == S * H * 2
    assert blocks.calls == 4 * LAYERS + 2
    assert blocks.sent_bytes == blocks.calls * 2 * (t - 1) * S * H * 2 // t


def test_flops_per_rank_and_step_time():
    """Training FLOPs of the step spread over tp; step time from peak x
    utilisation with the bubble."""
    block = BlockShape("b", 10, 0, forward_flops=1000, backward_flops=2000)
    model = ModelShape("m", 8, 4, (block,) * 4, EMPTY, EMPTY)
    lay = ParallelLayout(tp=2, pp=2, micro_batch=2, global_batch=8)
    result = plan(PlanRequest(model, lay, peak_tflops=1e-9, utilisation=0.5))
    assert result.stages[0].model_flops == 2 * 3000 * (2 * 4) // 2
    bubble = 1 / (4 + 1)
    assert result.step_seconds == pytest.approx(24000 / (1e3 * 0.5) / (1 - bubble))


@pytest.mark.parametrize("layout, word", [(dict(zero=4), "zero"), (dict(dp=0), "dp"),
                                          (dict(recompute="some"), "recompute"),
                                          (dict(sequence_parallel=True), "tp > 1"),
                                          (dict(dp=2, micro_batch=2, global_batch=6), "multiple")])
def test_bad_layouts_say_what_is_wrong(layout, word):
    with pytest.raises(ValueError, match=word):
        ParallelLayout(**layout)


def test_a_model_without_known_structure_refuses_tensor_parallelism():
    model = ModelShape("lump", 8, 4, (BlockShape("b", 10, 0, 0, 0),) * 2, EMPTY, EMPTY, tensor_parallel=False)
    with pytest.raises(ValueError, match="tensor-parallel structure"):
        PlanRequest(model, ParallelLayout(tp=2))


TINY = {"_name": "tiny-llama", "model_type": "llama", "vocab_size": 512, "hidden_size": 64,
        "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
        "intermediate_size": 160, "max_position_embeddings": 64}


def test_plan_of_a_configuration_splits_what_megatron_splits():
    """Per rank at tp 2, pp 2: each stage's linears (q, k, v, o, gate, up,
    down), the vocabulary of embedding and head halved, norms whole; the
    stages' FLOPs times tp add up to the traced step's forward + backward."""
    from paddle_flops_ext.llm.plan import plan_config
    h, v, f, a, kv, layers = 64, 512, 160, 4, 2, 4
    d = h // a
    split = h * a * d + 2 * h * kv * d + a * d * h + 3 * h * f
    lay = ParallelLayout(tp=2, pp=2, global_batch=4)
    result = plan_config(TINY, lay, 32, optimizer="sgd", precision="fp32")
    first, last = result.stages
    assert first.params == (2 * split + v * h) // 2 + 2 * 2 * h
    assert last.params == (2 * split + v * h) // 2 + 2 * 2 * h + h
    assert first.parameter_bytes == 4 * first.params and first.optimizer_bytes == 0
    shape = result.request.shape
    assert shape.params == layers * (split + 2 * h) + 2 * v * h + h
    traced = sum(b.forward_flops + b.backward_flops for b in (shape.first, *shape.blocks, shape.last))
    assert sum(s.model_flops for s in result.stages) * 2 == traced * 4


def test_plan_of_a_profile_without_tensor_structure():
    """A plain model's training profile plans data and pipeline
    parallelism; its kept activations are shared by its blocks."""
    import paddle
    import paddle_flops_ext as pfe
    from paddle_flops_ext.estimates.parallel import shape_from_result
    net = paddle.nn.Sequential(*[paddle.nn.Sequential(paddle.nn.Linear(32, 32), paddle.nn.ReLU()) for _ in range(4)])
    r = pfe.profile(net, input_size=[8, 32], training=True, optimizer="momentum")
    shape = shape_from_result(r, "mlp")
    assert len(shape.blocks) == 4 and shape.params == 4 * (32 * 32 + 32)
    got = plan(PlanRequest(shape, ParallelLayout(dp=2, pp=2, micro_batch=2, global_batch=8), "momentum", "fp32"))
    # momentum: weights, gradients and one fp32 state per element on each rank, two blocks per stage
    assert got.stages[0].model_state_bytes == 3 * 4 * 2 * (32 * 32 + 32)
    with pytest.raises(ValueError, match="tensor-parallel structure"):
        PlanRequest(shape, ParallelLayout(tp=2))


def _plan_args(argv):
    import argparse
    from paddle_flops_ext.cli.plan import add_plan_arguments
    parser = argparse.ArgumentParser()
    parser.add_argument("--seq-len", type=int, default=32)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--optimizer", default="adamw")
    add_plan_arguments(parser)
    return parser, parser.parse_args(argv)


def test_plan_flags_draw_a_table_that_fits_100_columns():
    import paddle
    import paddle_flops_ext as pfe
    from paddle_flops_ext.cli.plan import plan_content, run_plan
    from paddle_flops_ext.llm.builder import build
    from paddle_flops_ext.report.render import render_table
    _, args = _plan_args("--tp 2 --pp 2 --dp 2 --zero 2 --global-batch 8 --recompute selective "
                         "--sequence-parallel --peak-tflops 100 --utilisation 0.5".split())
    model, _ = build(TINY, max_seq_len=32)
    training = pfe.profile(model, input_spec=[paddle.static.InputSpec([1, 32], "int64")], mode="trace",
                           training=True, optimizer="adamw")
    result = run_plan(args, TINY, training)
    assert result.request.layout.micro_batches == 4 and result.step_seconds > 0
    text = render_table(plan_content(result), width=100)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "reduce-scatter" in text and result.to_dict()["layout"]["zero"] == 2


@pytest.mark.parametrize("argv, flag", [("--global-batch 3 --dp 2", "--global-batch"),
                                        ("--sequence-parallel", "--tp"),
                                        ("--peak-tflops 10", "--utilisation")])
def test_plan_flag_mistakes_are_said_in_flag_names(argv, flag):
    from paddle_flops_ext.cli.plan import layout_from_args
    _, args = _plan_args(argv.split())
    with pytest.raises(ValueError, match=flag):
        layout_from_args(args)


@pytest.mark.parametrize("argv", ["--zero 4", "--dp 0", "--utilisation 1.5", "--recompute half"])
def test_plan_flags_refuse_bad_values_in_argparse(argv, capsys):
    parser, _ = _plan_args([])
    with pytest.raises(SystemExit):
        parser.parse_args(argv.split())
    assert argv.split()[0] in capsys.readouterr().err
