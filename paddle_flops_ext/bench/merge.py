"""Sharding a sweep across processes or devices, and merging the parts.

Pure functions (no Paddle), tested on their own:

- :func:`grid` lists the sweep's tasks (model x batch size x input size) in
  a fixed order; each task has an ``index``.
- :func:`shard` gives rank ``r`` of ``world`` the tasks ``index % world ==
  r`` (round robin, so that a zoo sorted by size spreads its big models over
  the ranks).
- :func:`merge_ranks` joins the documents the ranks wrote into one: results
  and per-layer entries back in grid order, each tagged with its ``rank``;
  the machines, devices and peaks of every rank under ``ranks``; the
  top-level peak and machine are rank 0's. It refuses parts from different
  sweeps (``config`` differs) or a missing/duplicate rank.
- :func:`merge_processes` joins documents of the *same* sweep measured in
  separate fresh processes (``--processes N``): each row's samples are
  pooled and summarised again; the spread between the processes' medians is
  reported as ``between_process`` (``medians_ms``, ``spread = (max - min) /
  median``, and the 95 % prediction interval of the next process's median,
  Student t on the log medians, as pyperf reasons), and that interval, not
  one process's, becomes the row's interval.

:func:`dist_env` reads rank, world size and local device from the
environment ``python -m paddle.distributed.launch`` sets.
"""
from __future__ import annotations

import copy

from .timing import between_process, summarize

TASK_KEY = ("model", "batch_size", "input_size")


def grid(entries, batch_sizes, input_sizes, seq_lens) -> list[dict]:
    """``[{index, entry, batch_size, input_size}]`` in sweep order."""
    tasks = []
    for e in entries:
        kind = getattr(e, "input_kind", "image")
        sizes = seq_lens if kind == "tokens" else ([None] if kind == "custom" else input_sizes)
        for b in batch_sizes:
            for s in sizes:
                tasks.append({"index": len(tasks), "entry": e, "batch_size": int(b), "input_size": s})
    return tasks


def shard(tasks: list, rank: int, world: int) -> list:
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"rank {rank} is not in a world of {world}")
    return [t for i, t in enumerate(tasks) if i % world == rank]


def dist_env(env) -> dict:
    """``{rank, world, local_rank, device_id}`` from the variables
    ``paddle.distributed.launch`` sets (``PADDLE_TRAINER_ID``,
    ``PADDLE_TRAINERS_NUM``, ``PADDLE_RANK_IN_NODE``/``PADDLE_LOCAL_RANK``,
    ``FLAGS_selected_gpus``); a single process without them is rank 0 of 1."""
    rank = int(env.get("PADDLE_TRAINER_ID", env.get("PADDLE_RANK", 0)) or 0)
    world = int(env.get("PADDLE_TRAINERS_NUM", env.get("PADDLE_WORLD_SIZE", 1)) or 1)
    local = int(env.get("PADDLE_RANK_IN_NODE", env.get("PADDLE_LOCAL_RANK", rank)) or 0)
    sel = str(env.get("FLAGS_selected_gpus", "") or "").split(",")[0].strip()
    device_id = int(sel) if sel.isdigit() else local
    return {"rank": rank, "world": world, "local_rank": local, "device_id": device_id}


def _sweep_config(doc):
    return {k: v for k, v in doc.get("config", {}).items() if k not in ("rank", "world")}


def merge_ranks(parts: list[dict]) -> dict:
    if not parts:
        raise ValueError("no parts to merge")
    ranks = sorted(p["config"].get("rank", 0) for p in parts)
    world = parts[0]["config"].get("world", 1)
    if ranks != list(range(world)):
        raise ValueError(f"expected ranks 0..{world - 1}, got {ranks}")
    cfg0 = _sweep_config(parts[0])
    for p in parts[1:]:
        if _sweep_config(p) != cfg0:
            raise ValueError("parts come from different sweeps (their configs differ)")
    parts = sorted(parts, key=lambda p: p["config"].get("rank", 0))
    out = copy.deepcopy(parts[0])
    results, per_layer = [], []
    for p in parts:
        r = p["config"].get("rank", 0)
        results += [dict(row, rank=r) for row in p["results"]]
        per_layer += [dict(pl, rank=r) for pl in p.get("per_layer", [])]
    key = lambda row: (row.get("task_index", 0), row.get("mode_index", 0))  # noqa: E731
    out["results"] = sorted(results, key=key)
    out["per_layer"] = sorted(per_layer, key=lambda pl: pl.get("task_index", 0))
    out["ranks"] = [{"rank": p["config"].get("rank", 0), "device": p["machine"].get("device"),
                     "machine": p["machine"], "peak": p["peak"],
                     "tasks": sorted({row.get("task_index") for row in p["results"]})} for p in parts]
    out["notes"] = list(dict.fromkeys(n for p in parts for n in p.get("notes", [])))
    out["notes"].append(f"merged from {world} ranks (paddle.distributed.launch); each row's `rank` "
                        f"says which device timed it")
    out["config"] = dict(cfg0, world=world)
    out.pop("files", None)
    return out


def merge_processes(docs: list[dict], noise_threshold: float | None = None) -> dict:
    if not docs:
        raise ValueError("no documents to merge")
    out = copy.deepcopy(docs[0])
    out.pop("files", None)
    thr = noise_threshold if noise_threshold is not None else out["config"].get("noise_threshold", 0.1)
    index = {}
    for d in docs:
        for row in d["results"]:
            index.setdefault((row.get("task_index"), row["model"], row["batch_size"], row["input_size"],
                              row["mode"]), []).append(row)
    for row in out["results"]:
        rows = index[(row.get("task_index"), row["model"], row["batch_size"], row["input_size"],
                      row["mode"])]
        ran = [r for r in rows if r["status"] == "ran" and r.get("samples_ms")]
        if not ran:
            continue
        samples = [x for r in ran for x in r["samples_ms"]]
        medians = [r["latency_ms"]["median"] for r in ran]
        st = summarize(samples, thr, converged=all(r["latency_ms"].get("converged") for r in ran),
                       stop="pooled over processes")
        row["latency_ms"] = st.to_dict()
        row["samples_ms"] = samples
        row["noisy"] = st.noisy
        bp = between_process([m / 1e3 for m in medians])
        row["between_process"] = {**bp.to_dict(), "medians_ms": medians}
        if bp.low is not None:       # what the next invocation will measure, not one process's spread
            row["latency_ms"]["ci_low"], row["latency_ms"]["ci_high"] = bp.low * 1e3, bp.high * 1e3
            row["latency_ms"]["ci_rel"] = max(st.median - bp.low * 1e3, bp.high * 1e3 - st.median) / st.median
            row["latency_ms"]["interval"] = "between processes"
        rescale(row, st.median / 1e3)
    out["processes"] = len(docs)
    out["notes"] = list(dict.fromkeys(n for d in docs for n in d.get("notes", [])))
    out["notes"].append(f"each row pools the samples of {len(docs)} fresh processes; its interval is the 95 % "
                        f"prediction interval of the next process's median (Student t on the log medians), "
                        f"between_process.spread = (max - min) / median of the per-process medians")
    return out


def rescale(row: dict, median_s: float) -> None:
    """Recompute the columns derived from the median latency."""
    if median_s <= 0:
        return
    row["throughput_per_s"] = row["batch_size"] / median_s
    if row.get("flops") is not None and row.get("achieved_gflops") is not None and row.get("frac_peak"):
        peak = row["achieved_gflops"] / row["frac_peak"]
        row["achieved_gflops"] = row["flops"] / median_s / 1e9
        row["frac_peak"] = row["achieved_gflops"] / peak
