"""Shape-only counting at scale: LLaMA-style 7B and 70B models built under
``paddle.LazyGuard()`` (no weight is allocated) and counted with
``profile(..., mode="trace")``.

Each configuration runs in a fresh Python process so that its peak RSS is its
own. Reported per configuration:

* wall time of the child process from start to exit (``import paddle``
  included) and of its two steps: building the model lazily and
  ``pfe.profile(..., mode="trace")``;
* peak RSS of the child process (``resource.getrusage(RUSAGE_SELF).ru_maxrss``
  read just before it exits), next to the fp32 weight size the model would
  need if materialised;
* parameters vs the analytic count (``benchmarks.models.llama.param_count``);
* MACs vs an analytic per-token estimate written out here: every projection
  weight (q/k/v/o, gate/up/down, lm_head; i.e. all parameters except the
  embedding table and the norm weights) does one MAC per token, plus the two
  attention products ``Q K^T`` and ``A V``, ``2 * seq^2 * dim`` MACs per layer
  for the full (``causal="full"``) score matrix.

Targets (issue: shape-only counting): 70B in <= 10 s wall and <= 1 GB peak RSS.

    python benchmarks/bench_scale.py [--seq 2048] [--repeats 3] [--out benchmarks/results/scale.md]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = ("llama_7b", "llama_70b")
TARGETS = {"llama_70b": {"wall_s": 10.0, "rss_mb": 1024.0}}


def analytic_macs(cfg, seq: int, batch: int = 1) -> int:
    d = cfg.dim
    norms = 2 * cfg.n_layers * d + d
    from paddle_flops_ext.models.llama import param_count
    projection_params = param_count(cfg) - cfg.vocab_size * d - norms
    attention = cfg.n_layers * 2 * seq * seq * d
    return batch * (seq * projection_params + attention)


def run_one(name: str, seq: int) -> dict:
    """Runs in the child process."""
    t0 = time.perf_counter()
    import resource
    import warnings
    warnings.filterwarnings("ignore")
    sys.path.insert(0, ROOT)
    import paddle
    import paddle_flops_ext as pfe
    from paddle_flops_ext.models import llama as L
    t_import = time.perf_counter()
    with paddle.LazyGuard():
        model = getattr(L, name)()
    t_build = time.perf_counter()
    result = pfe.profile(model, input_spec=[paddle.static.InputSpec([1, seq], "int64")], mode="trace")
    t_profile = time.perf_counter()
    cfg = model.cfg
    lazy = all(not p._is_initialized() for p in model.parameters())
    return {
        "model": name, "seq": seq, "dim": cfg.dim, "layers": cfg.n_layers, "heads": cfg.n_heads,
        "kv_heads": cfg.kv_heads, "ffn": cfg.ffn_dim, "vocab": cfg.vocab_size,
        "import_s": t_import - t0, "build_s": t_build - t_import, "profile_s": t_profile - t_build,
        "in_process_s": t_profile - t0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "params": result.params, "params_analytic": L.param_count(cfg),
        "macs": result.macs, "macs_analytic": analytic_macs(cfg, seq),
        "flops": result.flops, "paddle_flops": result.paddle_flops,
        "fp32_weights_gb": 4 * result.params / 1e9,
        "weights_materialised": not lazy, "uncounted": result.uncounted, "notes": result.notes,
    }


def measure(name: str, seq: int) -> dict:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", name, "--seq", str(seq)],
                          capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    line = [l for l in proc.stdout.splitlines() if l.startswith("{")][-1]
    row = json.loads(line)
    row["process_wall_s"] = wall
    return row


def fmt_int(n: int) -> str:
    return f"{n:,}"


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=3, help="fresh processes per model; medians reported")
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "scale.md"))
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(args.child, args.seq)))
        return
    sys.path.insert(0, ROOT)
    rows = []
    for name in CONFIGS:
        runs = [measure(name, args.seq) for _ in range(args.repeats)]
        row = dict(runs[-1])
        for key in ("process_wall_s", "in_process_s", "import_s", "build_s", "profile_s", "peak_rss_mb"):
            row[key] = statistics.median(r[key] for r in runs)
            row[key + "_max"] = max(r[key] for r in runs)
        rows.append(row)
        print(f"{name}: {row['process_wall_s']:.2f} s process wall, profile {row['profile_s']:.2f} s, "
              f"peak RSS {row['peak_rss_mb']:.0f} MB", file=sys.stderr)

    import numpy
    import paddle
    lines = [
        "# Shape-only counting at scale (LLaMA-style, LazyGuard + mode=\"trace\")",
        "",
        f"Command: `python benchmarks/bench_scale.py --seq {args.seq} --repeats {args.repeats}`  ",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, CPU only; "
        f"paddle {paddle.__version__}, numpy {numpy.__version__}, Python {platform.python_version()}  ",
        f"Input: token ids [1, {args.seq}] int64. Each run is a fresh process; medians of {args.repeats} "
        f"runs (max in brackets). The machine is shared, so times are indicative.",
        "",
        "| model | params | fp32 weights | process wall (s) | import paddle (s) | lazy build (s) | profile (s) "
        "| peak RSS (MB) | target | met |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        tgt = TARGETS.get(r["model"])
        if tgt:
            met = "yes" if r["process_wall_s"] <= tgt["wall_s"] and r["peak_rss_mb"] <= tgt["rss_mb"] else "no"
            tgt_s = f"<= {tgt['wall_s']:.0f} s, <= {tgt['rss_mb']:.0f} MB"
        else:
            met, tgt_s = "-", "-"
        lines.append(
            f"| {r['model']} | {r['params'] / 1e9:.2f} B | {r['fp32_weights_gb']:.1f} GB | "
            f"{r['process_wall_s']:.2f} ({r['process_wall_s_max']:.2f}) | {r['import_s']:.2f} | "
            f"{r['build_s']:.2f} | {r['profile_s']:.2f} ({r['profile_s_max']:.2f}) | "
            f"{r['peak_rss_mb']:.0f} ({r['peak_rss_mb_max']:.0f}) | {tgt_s} | {met} |")
    lines += [
        "",
        "Counts against the analytic formulas (`param_count` in `benchmarks/models/llama.py`; MACs = "
        "seq x (all parameters except the embedding table and norm weights) + layers x 2 x seq^2 x dim "
        "for QK^T and AV over the full score matrix):",
        "",
        "| model | config | params | analytic | MACs | analytic | FLOPs | uncounted ops | weights materialised |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        cfg = (f"dim {r['dim']}, {r['layers']} layers, {r['heads']} heads / {r['kv_heads']} kv, "
               f"ffn {r['ffn']}, vocab {r['vocab']}")
        unc = ", ".join(e["name"] for e in r["uncounted"]) or "none"
        lines.append(
            f"| {r['model']} | {cfg} | {fmt_int(r['params'])} | "
            f"{fmt_int(r['params_analytic'])} {'(equal)' if r['params'] == r['params_analytic'] else '(DIFFERENT)'} | "
            f"{fmt_int(r['macs'])} | {fmt_int(r['macs_analytic'])} "
            f"{'(equal)' if r['macs'] == r['macs_analytic'] else '(DIFFERENT)'} | {fmt_int(r['flops'])} | {unc} | "
            f"{'yes' if r['weights_materialised'] else 'no'} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text)
        with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
            json.dump({"seq": args.seq, "repeats": args.repeats, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
