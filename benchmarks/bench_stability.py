"""Do three invocations of the benchmark agree?

Runs ``paddle-flops bench --models resnet18,mobilenet_v2 --modes
eager,inference --no-per-layer`` three times back to back, each in a fresh
interpreter, and compares the medians: the spread of a model/mode is
``(max - min) / min`` over the invocations; the target is 3 %. The load on
the machine is recorded before and after every invocation (load average,
the share of the CPUs other processes used, Linux CPU pressure), because on a
shared machine the spread says as much about the neighbours as about the
harness. Writes ``benchmarks/results/stability.md``.

    python benchmarks/bench_stability.py                  # 3 invocations
    python benchmarks/bench_stability.py --invocations 5 --extra=--budget=20
    python benchmarks/bench_stability.py --legacy          # the old fixed 3+10 timing, for comparison
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from paddle_flops_ext.bench.machine import busy_fraction, cpu_pressure, load_average  # noqa: E402
from paddle_flops_ext.bench.report import publish_markdown  # noqa: E402
from paddle_flops_ext.report.content import Column, Content  # noqa: E402
from paddle_flops_ext.report.render import number, render_markdown  # noqa: E402

TARGET = 0.03
BASE = ["--models", "resnet18,mobilenet_v2", "--modes", "eager,inference", "--no-per-layer", "--no-plots",
        "--no-progress"]
LEGACY = ["--repeats", "10", "--warmup", "3", "--load-wait", "0"]


def load_snapshot() -> dict:
    return {"load_average": load_average(), "busy_fraction": busy_fraction(1.0),
            "cpu_pressure_avg10": cpu_pressure()}


def wait_quiet(max_s: float, threshold: float = 0.10) -> float:
    """Seconds spent waiting for a quiet machine (at most ``max_s``)."""
    t0 = time.monotonic()
    while max_s > 0 and time.monotonic() - t0 < max_s:
        frac = busy_fraction(3.0)
        if frac is None or frac <= threshold:
            break
    return round(time.monotonic() - t0, 1)


def spread(values: list) -> float:
    return (max(values) - min(values)) / min(values) if values and min(values) > 0 else float("nan")


def summarise(runs: list[dict]) -> list[dict]:
    """One row per model/mode: the medians and intervals of every invocation
    and their spread."""
    keys = list(dict.fromkeys((r["model"], r["mode"]) for run in runs for r in run["doc"]["results"]))
    rows = []
    for model, mode in keys:
        lats = []
        for run in runs:
            r = next((r for r in run["doc"]["results"] if (r["model"], r["mode"]) == (model, mode)), None)
            lats.append(dict(r["latency_ms"], parallelism=r.get("parallelism"))
                        if r and r["status"] == "ran" else None)
        meds = [lat["median"] for lat in lats if lat]
        rows.append({"model": model, "mode": mode, "latency_ms": lats, "spread": spread(meds),
                     "within_target": len(meds) == len(runs) and spread(meds) <= TARGET})
    return rows


LOAD_COLUMNS = [Column("i", "Invocation", "number", 0), Column("waited", "Waited s", "number"),
                Column("wall", "Wall s", "number", 0), Column("load_average_before", "Load avg before"),
                Column("busy_fraction_before", "Busy before", "percent", 0, 100),
                Column("cpu_pressure_avg10_before", "Pressure before", "number"),
                Column("load_average_after", "Load avg after"),
                Column("busy_fraction_after", "Busy after", "percent", 0, 100),
                Column("cpu_pressure_avg10_after", "Pressure after", "number"), Column("exit", "Exit", "number", 0)]


def _invocation(lat: dict | None) -> str:
    """One invocation's median, interval, runs and CPU/wall."""
    if lat is None:
        return "failed"
    if lat.get("ci_low") is None:
        return f"{number(lat['median'])} (n {lat['n']})"
    return (f"{number(lat['median'])} ({number(lat['ci_low'])}-{number(lat['ci_high'])}, n {lat['n']}"
            + ("" if lat.get("converged") else ", not converged")
            + (f", CPU/wall {number(lat['parallelism'])}" if lat.get("parallelism") else "") + ")")


def to_markdown(report: dict) -> str:
    out = ["# Stability: do three invocations agree?", "",
           f"Command (run {report['invocations']} times, each in a fresh process): "
           f"`python benchmarks/run_bench.py {' '.join(report['args'])}`  ",
           f"Created: {report['created']} by `python benchmarks/bench_stability.py"
           f"{' ' + ' '.join(report['script_args']) if report['script_args'] else ''}`", "",
           f"Spread = (max - min) / min of the invocations' medians; target {100 * TARGET:.0f} %. "
           f"CPU/wall: the benchmark process's CPU seconds per wall second while the mode was timed "
           f"(2 threads: about 2 when both kept a CPU; near 1 or below when other processes took one).", "",
           render_markdown(Content(
               columns=[Column("model", "Model"), Column("mode", "Mode")]
               + [Column(f"inv{i}", f"Invocation {i + 1}: median ms (95% CI, n)", "number")
                  for i in range(report["invocations"])]
               + [Column("spread", "Spread", "percent", 1, 100), Column("within_target", "Within 3 %")],
               rows=[{**row, **{f"inv{i}": _invocation(lat) for i, lat in enumerate(row["latency_ms"])}}
                     for row in report["rows"]]))]
    ok = sum(1 for r in report["rows"] if r["within_target"])
    out += ["", f"{ok} of {len(report['rows'])} model/mode pairs within {100 * TARGET:.0f} %.", "",
            "## Load on the machine", "",
            "Busy = share of all CPUs used by other processes over 1 s just before / after the "
            "invocation; pressure = Linux PSI `some avg10` (% of the last 10 s in which a runnable task "
            "waited for a CPU). The machine has "
            f"{os.cpu_count()} logical CPUs.", "",
            render_markdown(Content(columns=LOAD_COLUMNS, rows=[
                {"i": i + 1, "waited": run.get("waited_s", 0), "wall": run["wall_s"],
                 **{f"{k}_{when}": str(run[f"load_{when}"][k]) if k != "busy_fraction"
                    else run[f"load_{when}"][k] for when in ("before", "after")
                    for k in ("load_average", "busy_fraction", "cpu_pressure_avg10")},
                 "exit": run["returncode"]} for i, run in enumerate(report["runs"])]))]
    peaks = [run["doc"]["peak"] for run in report["runs"]]
    out += ["", "Measured fp32 matmul peak per invocation (GFLOP/s): "
            + ", ".join(f"{p['matmul_gflops_peak']:.0f}" for p in peaks)
            + "; DRAM copy (GB/s): " + ", ".join(f"{p['copy_gbps_peak']:.1f}" for p in peaks), ""]
    if report.get("note"):
        out += [report["note"], ""]
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--invocations", type=int, default=3)
    p.add_argument("--legacy", action="store_true",
                   help="time with the old fixed scheme (3 warm-up + 10 runs, no load wait)")
    p.add_argument("--extra", action="append", default=[], help="extra argument for the bench (repeatable)")
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"))
    p.add_argument("--tag", default="stability")
    p.add_argument("--note", default="", help="a sentence for the report (e.g. what else ran)")
    p.add_argument("--wait-quiet", type=float, default=0.0,
                   help="before each invocation wait up to this many seconds for other processes to use "
                        "under 10%% of the CPUs (3 s windows)")
    args = p.parse_args(argv)
    bench_args = BASE + (LEGACY if args.legacy else []) + args.extra
    runs = []
    with tempfile.TemporaryDirectory(prefix="pfe_stability_") as tmp:
        for i in range(args.invocations):
            out = os.path.join(tmp, f"run{i}")
            waited = wait_quiet(args.wait_quiet)
            before = load_snapshot()
            t0 = _dt.datetime.now()
            proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "run_bench.py"), *bench_args,
                                   "--out", out, "--tag", "run"], cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
            wall = (_dt.datetime.now() - t0).total_seconds()
            after = load_snapshot()
            try:
                with open(os.path.join(out, "run.json"), encoding="utf-8") as f:
                    doc = json.load(f)
            except OSError:
                print(proc.stdout[-3000:], file=sys.stderr)
                return 1
            runs.append({"doc": doc, "wall_s": wall, "load_before": before, "load_after": after,
                         "returncode": proc.returncode, "waited_s": waited})
            print(f"invocation {i + 1}: " + ", ".join(
                f"{r['model']} {r['mode']} {r['latency_ms']['median']:.2f} ms" for r in doc["results"]
                if r["status"] == "ran"), flush=True)
    report = {"created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
              "invocations": args.invocations, "args": bench_args, "script_args": argv or sys.argv[1:],
              "rows": summarise(runs), "runs": runs, "note": args.note}
    os.makedirs(args.out, exist_ok=True)
    publish_markdown(to_markdown(report).splitlines(), os.path.join(args.out, f"{args.tag}.md"))
    return 0 if all(r["within_target"] for r in report["rows"]) else 3


if __name__ == "__main__":
    raise SystemExit(main())
