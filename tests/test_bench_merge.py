"""Sharding the sweep grid across ranks and merging the parts (pure
functions), merging fresh-process repeats, and one real two-process run
under ``python -m paddle.distributed.launch`` on the CPU (correctness of the
sharding and merging, not speed)."""
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from paddle_flops_ext.bench import merge

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _entries():
    return [SimpleNamespace(name="cnn", input_kind="image"), SimpleNamespace(name="llm", input_kind="tokens"),
            SimpleNamespace(name="user", input_kind="custom")]


def test_grid_covers_every_model_batch_and_size_in_order():
    tasks = merge.grid(_entries(), [1, 8], [224, 320], [128])
    got = [(t["entry"].name, t["batch_size"], t["input_size"]) for t in tasks]
    assert got == [("cnn", 1, 224), ("cnn", 1, 320), ("cnn", 8, 224), ("cnn", 8, 320),
                   ("llm", 1, 128), ("llm", 8, 128), ("user", 1, None), ("user", 8, None)]
    assert [t["index"] for t in tasks] == list(range(8))


@pytest.mark.parametrize("world", [1, 2, 3, 5, 9])
def test_shards_are_disjoint_round_robin_and_cover_the_grid(world):
    tasks = merge.grid(_entries(), [1, 8], [224, 320], [128])
    shards = [merge.shard(tasks, r, world) for r in range(world)]
    indices = sorted(t["index"] for s in shards for t in s)
    assert indices == list(range(len(tasks)))
    for r, s in enumerate(shards):
        assert all(t["index"] % world == r for t in s)
    with pytest.raises(ValueError):
        merge.shard(tasks, 2, 2)


def test_dist_env_reads_what_paddle_launch_sets():
    assert merge.dist_env({}) == {"rank": 0, "world": 1, "local_rank": 0, "device_id": 0}
    env = {"PADDLE_TRAINER_ID": "3", "PADDLE_TRAINERS_NUM": "4", "PADDLE_RANK_IN_NODE": "1",
           "FLAGS_selected_gpus": "5"}
    assert merge.dist_env(env) == {"rank": 3, "world": 4, "local_rank": 1, "device_id": 5}


def _part(rank, world, task_indices, config=None):
    rows = [{"model": f"m{i}", "batch_size": 1, "input_size": 224, "task_index": i, "mode_index": j,
             "mode": mode, "status": "ran"} for i in task_indices for j, mode in enumerate(["eager", "inference"])]
    return {"schema": "x", "config": dict(config or {"models": None}, rank=rank, world=world),
            "machine": {"device": f"gpu:{rank}"}, "peak": {"matmul_gflops_peak": 100 + rank},
            "results": rows, "per_layer": [{"model": f"m{i}", "task_index": i} for i in task_indices],
            "notes": [f"rank {rank} note", "shared note"]}


def test_merge_ranks_restores_grid_order_and_keeps_every_rank():
    parts = [_part(1, 2, [1, 3]), _part(0, 2, [0, 2, 4])]
    doc = merge.merge_ranks(parts)
    assert [(r["task_index"], r["mode"]) for r in doc["results"]] == [
        (i, m) for i in range(5) for m in ("eager", "inference")]
    assert [r["rank"] for r in doc["results"] if r["mode"] == "eager"] == [0, 1, 0, 1, 0]
    assert [pl["task_index"] for pl in doc["per_layer"]] == [0, 1, 2, 3, 4]
    assert [(r["rank"], r["device"], r["tasks"]) for r in doc["ranks"]] == [
        (0, "gpu:0", [0, 2, 4]), (1, "gpu:1", [1, 3])]
    assert doc["peak"]["matmul_gflops_peak"] == 100       # rank 0's
    assert doc["notes"][:3] == ["rank 0 note", "shared note", "rank 1 note"]
    assert doc["config"]["world"] == 2 and "rank" not in doc["config"]


def test_merge_ranks_refuses_missing_ranks_and_foreign_parts():
    with pytest.raises(ValueError, match="expected ranks"):
        merge.merge_ranks([_part(0, 3, [0]), _part(2, 3, [2])])
    with pytest.raises(ValueError, match="different sweeps"):
        merge.merge_ranks([_part(0, 2, [0]), _part(1, 2, [1], config={"models": ["other"]})])


def _proc_doc(samples_by_mode):
    rows = []
    for i, (mode, samples) in enumerate(samples_by_mode.items()):
        med = sorted(samples)[len(samples) // 2]
        rows.append({"model": "m", "batch_size": 2, "input_size": 224, "task_index": 0, "mode": mode,
                     "mode_index": i, "status": "ran", "samples_ms": samples, "flops": 4e9,
                     "achieved_gflops": 4e9 / (med / 1e3) / 1e9, "frac_peak": 4e9 / (med / 1e3) / 1e11,
                     "latency_ms": {"median": med, "converged": True}})
    return {"config": {"noise_threshold": 0.1}, "results": rows, "notes": []}


def test_merge_processes_pools_samples_and_reports_the_spread_between_processes():
    docs = [_proc_doc({"eager": [10.0] * 7}), _proc_doc({"eager": [11.0] * 7}), _proc_doc({"eager": [12.0] * 7})]
    doc = merge.merge_processes(docs)
    row = doc["results"][0]
    assert row["latency_ms"]["n"] == 21 and row["latency_ms"]["median"] == 11.0
    assert row["between_process"]["medians_ms"] == [10.0, 11.0, 12.0]
    assert row["between_process"]["spread"] == pytest.approx(2.0 / 11.0)
    assert row["throughput_per_s"] == pytest.approx(2 / 0.011)
    assert row["achieved_gflops"] == pytest.approx(4e9 / 0.011 / 1e9)
    assert row["frac_peak"] == pytest.approx(row["achieved_gflops"] / 100.0)
    assert doc["processes"] == 3


TINY = """
import paddle.nn as nn

class Tiny(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.conv(x).mean(axis=[2, 3]))

def tiny():
    return Tiny()
"""


@pytest.mark.slow
def test_two_ranks_under_paddle_distributed_launch_on_cpu(tmp_path):
    (tmp_path / "pfe_dist_tiny.py").write_text(TINY)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT, os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
           "--log_dir", str(tmp_path / "log"), os.path.join(ROOT, "benchmarks", "run_bench.py"),
           "--models", "pfe_dist_tiny:tiny", "--batch-sizes", "1,2", "--input-sizes", "8,16",
           "--modes", "eager", "--repeats", "3", "--quick", "--no-per-layer", "--no-plots",
           "--load-wait", "0", "--device", "cpu", "--out", str(out), "--no-progress"]
    proc = subprocess.run(cmd, env=env, cwd=str(tmp_path), capture_output=True, text=True)
    logs = "".join(p.read_text() for p in (tmp_path / "log").glob("workerlog.*"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:] + logs[-2000:]
    doc = json.loads((out / "bench_cpu.json").read_text())
    got = [(r["batch_size"], r["input_size"], r["rank"], r["status"]) for r in doc["results"]]
    # 4 tasks, round robin: tasks 0 and 2 on rank 0, 1 and 3 on rank 1, merged back in grid order
    assert got == [(1, 8, 0, "ran"), (1, 16, 1, "ran"), (2, 8, 0, "ran"), (2, 16, 1, "ran")]
    assert [(r["rank"], r["tasks"]) for r in doc["ranks"]] == [(0, [0, 2]), (1, [1, 3])]
    assert doc["config"]["world"] == 2 and doc["complete"]
    assert {r["macs"] for r in doc["results"] if r["batch_size"] == 1 and r["input_size"] == 8} == {
        3 * 4 * 9 * 64 + 8}
