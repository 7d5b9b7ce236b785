"""Collectives priced in bytes each rank sends (ring algorithm factors
written out here), and a tensor-parallel model built from fleet layers,
traced on each of 2 CPU ranks under ``paddle.distributed.launch``, against
the dense model and the per-rank plan."""
import json
import os
import subprocess
import sys

import paddle
import pytest

import paddle_flops_ext as pfe
from paddle_flops_ext.estimates.parallel import ActivationTerm, ParallelLayout, PlanRequest, plan, shape_from_result
from paddle_flops_ext.formulas import registry
from paddle_flops_ext.formulas.communication import group_size

HERE = os.path.dirname(os.path.abspath(__file__))


def _sent(op, x, out, n, element_size=4):
    return registry.lookup_op(op).cost({"x": x}, [out], {"ring_id": 0, "nranks": n, "element_size": element_size})


@pytest.mark.parametrize("op", ["c_allreduce_sum", "mp_allreduce_sum", "all_reduce", "pd_op.mp_allreduce_sum_"])
def test_all_reduce_sends_twice_n_minus_one_over_n_of_the_tensor(op):
    cost = _sent(op, (4, 8), (4, 8), 4)
    assert cost.comm_bytes == 2 * 3 * (4 * 8 * 4) // 4
    assert (cost.macs, cost.flops) == (0, 0)


def test_gather_scatter_all_to_all_and_point_to_point():
    assert _sent("all_gather", (4, 8), (8, 8), 2, element_size=2).comm_bytes == (8 * 8 * 2) // 2
    assert _sent("c_concat", (8, 4), (8, 8), 2).comm_bytes == (8 * 8 * 4) // 2
    assert _sent("reduce_scatter", (8, 8), (2, 8), 4).comm_bytes == 3 * (8 * 8 * 4) // 4
    assert _sent("all_to_all", (8, 8), (8, 8), 4).comm_bytes == 3 * (8 * 8 * 4) // 4
    assert _sent("send_v2", (4, 8), (4, 8), 2).comm_bytes == 4 * 8 * 4
    assert _sent("broadcast", (4, 8), (4, 8), 8).comm_bytes == 4 * 8 * 4


def test_identity_split_and_receive_send_nothing_in_the_forward():
    for op in ("c_identity", "c_split", "recv_v2"):
        assert _sent(op, (4, 8), (4, 8), 2) == pfe.Cost()
    # c_embedding is a lookup in the local vocabulary shard: no arithmetic, no bytes
    assert registry.zero_cost_reason("c_embedding") is not None


def test_group_size_and_missing_element_size():
    assert group_size({"nranks": 8}) == 8
    assert group_size({"ring_id": 0}) == 1        # one process: the world is one rank
    assert _sent("all_reduce", (4, 8), (4, 8), 1).comm_bytes == 0
    with pytest.raises(ValueError, match="element size"):
        registry.lookup_op("all_reduce").cost({"x": (4, 8)}, [(4, 8)], {"nranks": 2})


@pytest.mark.slow
def test_fleet_tensor_parallel_ranks_match_the_dense_model_and_the_plan(tmp_path):
    sys.path.insert(0, HERE)
    import fleet_tp_rank as tp
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}   # launch reads it as GPUs
    done = subprocess.run([sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
                           "--log_dir", str(tmp_path / "log"), os.path.join(HERE, "fleet_tp_rank.py")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    logs = "".join((tmp_path / "log" / f).read_text() for f in sorted(os.listdir(tmp_path / "log")))
    assert done.returncode == 0, logs[-3000:]
    ranks = [json.loads(line[len("RESULT "):]) for line in logs.splitlines() if line.startswith("RESULT ")]
    assert sorted(r["rank"] for r in ranks) == [0, 1]

    dense = tp.TensorParallelModel(parallel=False)
    spec = [paddle.static.InputSpec([tp.BATCH, tp.SEQ], "int64")]
    whole = pfe.profile(dense, input_spec=spec, mode="trace", training=True)
    tokens, hidden_bytes = tp.BATCH * tp.SEQ, tp.BATCH * tp.SEQ * tp.HIDDEN * 4
    # per forward: the embedding's sum and one per row-parallel Linear (two per block)
    forward_all_reduces = 1 + 2 * tp.BLOCKS
    for r in ranks:
        assert 2 * r["macs"] == whole.macs                  # every matmul split in two
        assert r["comm_bytes"] == forward_all_reduces * 2 * (2 - 1) * hidden_bytes // 2
        assert r["layers"]["blocks.0.up1"]["comm_bytes"] == 0            # c_identity: nothing in the forward
        # the backward: an all-reduce of dX for each c_identity (two per block, and the head's)
        assert r["layers"]["blocks.0.up1"]["backward_comm_bytes"] == hidden_bytes
        assert r["backward_comm_bytes"] == (2 * tp.BLOCKS + 1) * hidden_bytes
        assert not any(layer["uncounted"] for layer in r["layers"].values())
        # every format says it: the JSON total and the table's footer
        assert r["json_comm_bytes"] == r["comm_bytes"]
        assert f"({r['comm_bytes']:,} bytes)" in r["table"]

    block_acts = (ActivationTerm("block activations", tp.SEQ * tp.FFN, split_by_tp=True),)
    shape = shape_from_result(whole, "tp", block_activations=block_acts)
    stage = plan(PlanRequest(shape, ParallelLayout(tp=2, micro_batch=tp.BATCH), optimizer="sgd",
                             precision="fp32")).stages[0]
    tensor = [c for c in stage.collectives if c.group == "tensor" and "block" in c.what][0]
    # the plan's tensor-parallel all-reduces, forward and backward, are what each rank's trace sends
    assert tensor.sent_bytes == ranks[0]["comm_bytes"] + ranks[0]["backward_comm_bytes"]
    assert tensor.buffer_bytes == hidden_bytes
    assert tokens * tp.HIDDEN * 4 == hidden_bytes
    # parameters: the plan splits every Linear and the embedding; fleet keeps a row-parallel
    # Linear's bias whole on each rank (HIDDEN more per row-parallel Linear than half of it)
    row_biases = 2 * tp.BLOCKS * tp.HIDDEN
    assert ranks[0]["params"] == stage.params + row_biases // 2


def test_backward_of_each_collective_is_its_dual():
    from paddle_flops_ext.formulas.gradients import lookup_grad
    attrs = {"nranks": 4, "element_size": 2}

    def grad(op, x, out):
        return lookup_grad(op).cost({"x": x}, [out], attrs, {"x"}, pfe.Cost()).comm_bytes
    assert grad("c_identity", (4, 8), (4, 8)) == 2 * 3 * (4 * 8 * 2) // 4        # all-reduce of dX
    assert grad("mp_allreduce_sum", (4, 8), (4, 8)) == 0                          # the identity
    assert grad("c_split", (4, 8), (4, 2)) == 3 * (4 * 8 * 2) // 4                # all-gather of dX
    assert grad("all_gather", (1, 8), (4, 8)) == 3 * (4 * 8 * 2) // 4             # reduce-scatter of dO
