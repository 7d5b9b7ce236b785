"""A model's latency measured in several fresh processes, and an interval
that covers what the next invocation will measure.

One process's confidence interval describes that process: its allocator,
its thread placement, its oneDNN primitives. A fresh process can land
elsewhere (three invocations of one bench gave resnet18 eager medians 28 %
apart, each with a +-2 % interval). So, as pyperf does, the model is timed
in ``n`` fresh interpreters one after the other (:func:`time_in_processes`),
each timing its modes interleaved with the bench's
:func:`.timing.time_interleaved` and :func:`.modes.prepare_mode`, and the
between-process spread is what the interval is built from
(:func:`between_process`):

- ``spread = (max - min) / median`` of the per-process medians;
- the **prediction interval** for one more process median, on the log of
  the medians (times vary by factors): ``exp(mean +- t(0.975, n-1) x s x
  sqrt(1 + 1/n))``, with ``s`` the sample standard deviation of the logs.
  With few processes it is wide, as it should be: 3 processes give
  ``t = 4.30``.

A child is ``python -m paddle_flops_ext.bench.processes SPEC --plan
1:inference+eager,8:inference --budget S [--shape C,H,W]``; it prints one JSON line. The
parent's ``run`` is injectable, so the tests need no processes.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Callable

from ..models.zoo import ZOO, make_inputs
from ..quiet import quiet
from .machine import load_check
from .modes import prepare_mode
from .timing import Adaptive, between_process, make_timer, set_threads, thread_restorer, time_interleaved
from .zoo import user_entry

# two-sided 95 % Student t quantiles by degrees of freedom (1..30), then the normal one
@dataclass
class ProcessTiming:
    """One model at one batch, timed in several processes."""
    spec: str
    batch: int
    modes: dict = field(default_factory=dict)     # mode -> BetweenProcess
    runs: list = field(default_factory=list)      # each process's measurement of this batch
    errors: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"spec": self.spec, "batch": self.batch, "processes": len(self.runs),
                "modes": {m: bp.to_dict() for m, bp in self.modes.items()}, "errors": self.errors,
                "load": [r.get("load") for r in self.runs]}


def plan_text(plan: dict) -> str:
    """``{1: ("inference", "eager"), 8: ("inference",)}`` -> ``1:inference+eager,8:inference``."""
    return ",".join(f"{b}:{'+'.join(m)}" for b, m in plan.items())


def parse_plan(text: str) -> dict:
    """The inverse of :func:`plan_text`."""
    plan = {}
    for part in text.split(","):
        b, _, modes = part.partition(":")
        plan[int(b)] = tuple(m for m in modes.split("+") if m) or ("inference", "eager")
    return plan


def child_command(spec: str, plan: dict, budget_s: float, shape=None, threads: int | None = None) -> list:
    cmd = [sys.executable, "-m", "paddle_flops_ext.bench.processes", spec, "--plan", plan_text(plan),
           "--budget", str(budget_s)]
    if shape:
        cmd += ["--shape", ",".join(map(str, shape))]
    if threads:
        cmd += ["--threads", str(threads)]
    return cmd


def _run_child(cmd: list) -> str:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        tail = (done.stderr or "").strip().splitlines()[-1:] or ["no message"]
        raise RuntimeError(f"the timing process exited with {done.returncode}: {tail[0][:200]}")
    return done.stdout


def time_in_processes(spec: str, plan: dict | None = None, n: int = 3, budget_s: float = 3.0, shape=None,
                      threads: int | None = None, run: Callable[[list], str] = _run_child) -> dict[int, ProcessTiming]:
    """Time ``spec`` in ``n`` fresh processes, one after the other; each
    process times, for every batch of ``plan`` (``{batch: modes}``, default
    batch 1 in inference and eager), its modes interleaved.
    Returns ``{batch: ProcessTiming}``."""
    if n < 1:
        raise ValueError("n must be >= 1")
    plan = plan or {1: ("inference", "eager")}
    out = {b: ProcessTiming(spec, b) for b in plan}
    cmd = child_command(spec, plan, budget_s, shape, threads)
    for i in range(n):
        try:
            lines = [ln for ln in run(cmd).splitlines() if ln.startswith("{")]
            doc = json.loads(lines[-1])
        except (RuntimeError, ValueError, IndexError, OSError) as e:
            for t in out.values():
                t.errors.append(f"process {i + 1}: {e}"[:300])
            continue
        for b, t in out.items():
            t.runs.append(doc["batches"].get(str(b), {}))
    for b, t in out.items():
        for m in plan[b]:
            medians = [r["modes"][m]["median_s"] for r in t.runs if r.get("modes", {}).get(m, {}).get("median_s")]
            if medians:
                t.modes[m] = between_process(medians)
            else:
                errs = {r.get("modes", {}).get(m, {}).get("error") for r in t.runs} - {None}
                t.errors.append(f"{m}: no process measured it" + (f" ({'; '.join(errs)})" if errs else ""))
    return out


# -- the child ----------------------------------------------------------------

def build_for_timing(spec: str, batch: int, shape=None):
    """``(model, inputs)``: a zoo name at its default size, or ``module:callable``
    fed ``batch`` samples of ``shape`` (default 3,224,224)."""
    entry = ZOO[spec] if spec in ZOO else user_entry(spec, tuple(shape) if shape else (3, 224, 224))
    model = entry.build(entry.size)
    model.eval()
    return model, make_inputs(entry, batch)


def measure_here(spec: str, plan: dict, budget_s: float, shape=None, threads: int | None = None) -> dict:
    """Time ``spec`` in this process at each batch of ``plan``, its modes interleaved:
    ``{"batches": {batch: {"modes": {mode: {"median_s", "n", "ci_rel", ...}}}}}``."""
    info = set_threads(threads)
    return {"spec": spec, "threads": info["threads"],
            "batches": {str(b): _measure_batch(spec, b, modes, budget_s, shape, info["threads"])
                        for b, modes in plan.items()}}


def _measure_batch(spec: str, batch: int, modes, budget_s: float, shape, threads: int) -> dict:
    with quiet(True):
        model, inputs = build_for_timing(spec, batch, shape)
    restore = thread_restorer(threads)
    prepared, out = {}, {}
    try:
        for m in modes:
            restore()
            with quiet(True):
                pm = prepare_mode(m, model, inputs, threads=threads)
            if pm.status == "ran":
                prepared[m] = pm
            else:
                out[m] = {"error": f"{pm.status}: {pm.reason}"}
        load = load_check(threshold=0.15, max_wait_s=2.0)
        meas = time_interleaved({m: pm.fn for m, pm in prepared.items()}, warmup=2, timer=make_timer("cpu"),
                                rule=Adaptive(target=0.02, min_repeats=5, max_repeats=200, budget_s=budget_s),
                                before={m: restore for m in prepared if m == "eager"})
    finally:
        for pm in prepared.values():
            pm.close()
    for m, me in meas.items():
        if me.stats is None or me.error:
            out[m] = {"error": me.error or "no sample"}
        else:
            out[m] = {"median_s": me.stats.median, "n": me.stats.n, "ci_rel": me.stats.ci_rel,
                      "converged": me.stats.converged}
    return {"load": load, "modes": out}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m paddle_flops_ext.bench.processes",
                                description="Time one model in this process and print one JSON line.")
    p.add_argument("spec")
    p.add_argument("--plan", default="1:inference+eager", help="batches and their modes, e.g. "
                   "1:inference+eager,8:inference")
    p.add_argument("--budget", type=float, default=3.0)
    p.add_argument("--shape", default=None, help="per-sample input shape, e.g. 3,224,224")
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args(argv)
    shape = tuple(int(v) for v in a.shape.split(",")) if a.shape else None
    print(json.dumps(measure_here(a.spec, parse_plan(a.plan), a.budget, shape, a.threads)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
