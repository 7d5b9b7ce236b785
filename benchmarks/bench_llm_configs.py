"""Language models from their shipped configurations, no weights: each
configuration is built under ``paddle.LazyGuard()`` in a fresh Python process
(so that its peak RSS is its own), counted for one forward of ``--seq``
tokens (``pfe.profile(mode="trace")``) and for generation
(``pfe.profile_generation``: prefill of ``--prompt`` tokens + ``--new``
decode steps, two decode traces), and, when ``profile(training=True)`` can
count a weightless model, for one training step.

Reported per configuration: wall time of the child process (``import
paddle`` included) and of each step, peak RSS (the child's own ``VmHWM``:
``ru_maxrss`` would carry the parent's high-water mark across fork and exec),
params, active params, forward MACs, generation totals, KV cache bytes.

Targets: every configuration, the 671 B DeepSeek-V3 and the other
mixture-of-experts flagships included, counted in at most 10 s and 1 GiB on
this machine: "count" = a fresh process importing Paddle, building the model
and counting its forward; the generation and training-step traces that
follow in the same process are reported beside it, and the peak RSS covers
all of them.

    python benchmarks/bench_llm_configs.py [--seq 2048] [--prompt 2048] [--new 128] [--configs a,b]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = {"wall_s": 10.0, "rss_mib": 1024.0}

PEAKS = {"flops_per_s": 1e12, "bytes_per_s": 100e9}   # fixed: this benchmark times counting, not the roofline


def run_one(name: str, seq: int, prompt: int, new: int) -> dict:
    t0 = time.perf_counter()
    import warnings
    warnings.filterwarnings("ignore")
    sys.path.insert(0, ROOT)
    from paddle_flops_ext.quiet import import_paddle_quietly
    paddle = import_paddle_quietly()
    import paddle_flops_ext as pfe
    from paddle_flops_ext.bench.machine import process_memory_bytes
    from paddle_flops_ext.llm.builder import build, load_config, storage_dtype
    t_import = time.perf_counter()
    cfg = load_config(name)
    model, notes = build(cfg, max_seq_len=max(seq, prompt + new))
    t_build = time.perf_counter()
    fwd = pfe.profile(model, input_spec=[paddle.static.InputSpec([1, seq], "int64")], mode="trace")
    t_fwd = time.perf_counter()
    gen = pfe.profile_generation(model, prompt, new, dtype=storage_dtype(cfg), peaks=PEAKS)
    t_gen = time.perf_counter()
    train = {"status": "not available"}
    try:
        tr = pfe.profile(model, input_spec=[paddle.static.InputSpec([1, seq], "int64")], mode="trace",
                         training=True)
        train = {"status": "ran", "training_flops": getattr(tr, "training_flops", None)}
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        train = {"status": "not available", "reason": f"{type(exc).__name__}: {exc}"}
    t_train = time.perf_counter()
    lazy = all(not p._is_initialized() for p in model.parameters())
    return {
        "config": name, "seq": seq, "prompt": prompt, "new_tokens": new, "dtype": storage_dtype(cfg),
        "import_s": t_import - t0, "build_s": t_build - t_import, "forward_s": t_fwd - t_build,
        "generation_s": t_gen - t_fwd, "training_attempt_s": t_train - t_gen,
        "in_process_s": t_gen - t0, "count_s": t_fwd - t0,
        "peak_rss_mib": process_memory_bytes("VmHWM") / 2 ** 20,
        "params": fwd.params, "active_params": fwd.active_params, "forward_macs": fwd.macs,
        "forward_flops": fwd.flops, "forward_exact": fwd.exact,
        "generation_macs": gen.macs, "generation_flops": gen.flops, "prefill_macs": gen.prefill.macs,
        "decode_step_macs": list(gen.decode_affine["macs"]), "kv_cache_bytes": gen.kv_cache_bytes,
        "generation_exact": gen.exact, "training": train, "weights_materialised": not lazy,
        "notes": notes,
    }


def table(rows: list) -> str:
    """The results as a Markdown table (imports the package: not in a child, whose import is timed)."""
    from paddle_flops_ext.report.content import Column, Content
    from paddle_flops_ext.report.render import human_bytes, render_markdown
    columns = [Column("config", "config"), Column("count_s", "count s", "number", 2),
               Column("wall_s", "wall s", "number", 2),
               Column("build_s", "build s", "number", 2), Column("forward_s", "forward s", "number", 2),
               Column("generation_s", "generation s", "number", 2),
               Column("peak_rss_mib", "peak RSS MiB", "number", 0), Column("params", "params", "number", 0),
               Column("active_params", "active params", "number", 0),
               Column("forward_macs", "forward MACs", "number", 0),
               Column("generation_macs", "generation MACs", "number", 0),
               Column("kv_cache", "KV cache at the end", "bytes"), Column("training", "training step (time, FLOPs)")]

    def cells(r: dict) -> dict:
        if "error" in r:
            return {"config": r["config"], "wall_s": "error: " + (r["error"].splitlines()[-1] if r["error"] else "")}
        t = r["training"]
        return {**r, "kv_cache": f"{human_bytes(r['kv_cache_bytes'], 2)} ({r['dtype']})",
                "training": (f"{r['training_attempt_s']:.2f} s, {t['training_flops']:,} training FLOPs"
                             if t["status"] == "ran" else t["status"])}
    return render_markdown(Content(columns=columns, rows=[cells(r) for r in rows]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--prompt", type=int, default=2048)
    ap.add_argument("--new", type=int, default=128)
    ap.add_argument("--configs", default=None, help="comma-separated (default: every shipped configuration)")
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "llm_configs"))
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(args.child, args.seq, args.prompt, args.new)))
        return 0
    sys.path.insert(0, ROOT)
    from paddle_flops_ext.llm.builder import known_configs
    names = args.configs.split(",") if args.configs else known_configs()
    rows = []
    for name in names:
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--child", name, "--seq", str(args.seq), "--prompt",
                              str(args.prompt), "--new", str(args.new)], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if out.returncode:
            rows.append({"config": name, "error": out.stderr[-2000:], "wall_s": wall})
            continue
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row["wall_s"] = wall
        rows.append(row)
        print(f"{name}: {wall:.2f} s wall, {row['peak_rss_mib']:.0f} MiB peak RSS, params {row['params']:,}, "
              f"active {row['active_params']:,}", file=sys.stderr)
    machine = {"python": platform.python_version(), "platform": platform.platform(),
               "cpu_count": os.cpu_count()}
    with open(args.out + ".json", "w") as f:
        json.dump({"machine": machine, "args": vars(args), "target": TARGET, "rows": rows}, f, indent=2)
    lines = [f"# Language models from their configurations (no weights)", "",
             f"`python benchmarks/bench_llm_configs.py --seq {args.seq} --prompt {args.prompt} --new {args.new}`"
             f" on {machine['platform']}, {machine['cpu_count']} CPUs, Python {machine['python']}. Each "
             f"configuration in a fresh process: count = import paddle + build + forward count; wall = the whole child process; "
             f"forward = one trace of {args.seq} tokens; generation = prefill of {args.prompt} + "
             f"{args.new} decode steps (three traces); training = one training step at {args.seq} tokens "
             f"(profile(training=True), trace mode, no optimizer); RSS = the child's peak.", "",
             table(rows)]
    judged = [r for r in rows if "error" not in r]
    missed = [r["config"] for r in judged
              if r["count_s"] > TARGET["wall_s"] or r["peak_rss_mib"] > TARGET["rss_mib"]]
    failed = [r["config"] for r in rows if "error" in r]
    lines += ["", f"Target: each configuration counted (a fresh process: import, build, forward count) in at "
                  f"most {TARGET['wall_s']:.0f} s, and the whole process (generation and training too) in "
                  f"{TARGET['rss_mib']:.0f} MiB: "
                  + ("met by every configuration" if not missed and not failed else
                     f"NOT met by {', '.join(missed + failed)}") + "."]
    if judged:
        slowest = max(judged, key=lambda r: r["count_s"])
        largest = max(judged, key=lambda r: r["peak_rss_mib"])
        lines += [f"Slowest count: {slowest['config']} {slowest['count_s']:.2f} s (whole process "
                  f"{slowest['wall_s']:.2f} s); largest: {largest['config']} "
                  f"{largest['peak_rss_mib']:.0f} MiB."]
    reasons = {r["training"].get("reason") for r in rows if "training" in r and r["training"].get("reason")}
    if reasons:
        lines += ["", "Training step not counted: " + "; ".join(sorted(reasons))]
    from paddle_flops_ext.bench.report import publish_markdown
    publish_markdown(lines, args.out + ".md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
