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

Target of shape-only counting: 70B in <= 10 s wall and <= 1 GB peak RSS.

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


def _with_max(r: dict, key: str, fmt: str) -> str:
    return f"{r[key]:{fmt}} ({r[key + '_max']:{fmt}})"


def _time_row(r: dict) -> dict:
    tgt = TARGETS.get(r["model"])
    met = (r["process_wall_s"] <= tgt["wall_s"] and r["peak_rss_mb"] <= tgt["rss_mb"]) if tgt else None
    return {**r, "params": f"{r['params'] / 1e9:.2f} B", "weights": f"{r['fp32_weights_gb']:.1f} GB",
            "wall": _with_max(r, "process_wall_s", ".2f"), "profile": _with_max(r, "profile_s", ".2f"),
            "rss": _with_max(r, "peak_rss_mb", ".0f"), "met": met,
            "target": f"<= {tgt['wall_s']:.0f} s, <= {tgt['rss_mb']:.0f} MB" if tgt else None}


def _equal(r: dict, key: str) -> str:
    return f"{r[key + '_analytic']:,} {'(equal)' if r[key] == r[key + '_analytic'] else '(DIFFERENT)'}"


def _count_row(r: dict) -> dict:
    return {**r, "config": f"dim {r['dim']}, {r['layers']} layers, {r['heads']} heads / {r['kv_heads']} kv, "
                          f"ffn {r['ffn']}, vocab {r['vocab']}",
            "params_analytic": _equal(r, "params"), "macs_analytic": _equal(r, "macs"),
            "uncounted": ", ".join(e["name"] for e in r["uncounted"]) or "none"}


def _columns():
    from paddle_flops_ext.report.content import Column
    n = lambda key, header, digits=0: Column(key, header, "number", digits)  # noqa: E731
    time = [Column("model", "model"), n("params", "params"), n("weights", "fp32 weights"),
            n("wall", "process wall (s)"), n("import_s", "import paddle (s)", 2), n("build_s", "lazy build (s)", 2),
            n("profile", "profile (s)"), n("rss", "peak RSS (MB)"), Column("target", "target"), Column("met", "met")]
    count = [Column("model", "model"), Column("config", "config"), n("params", "params"),
             n("params_analytic", "analytic"), n("macs", "MACs"), n("macs_analytic", "analytic"),
             n("flops", "FLOPs"), Column("uncounted", "uncounted ops"),
             Column("weights_materialised", "weights materialised")]
    return time, count


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
    from paddle_flops_ext.bench.report import publish_markdown
    from paddle_flops_ext.report.content import Content
    from paddle_flops_ext.report.render import render_markdown
    time_columns, count_columns = _columns()
    lines = [
        "# Shape-only counting at scale (LLaMA-style, LazyGuard + mode=\"trace\")",
        "",
        f"Command: `python benchmarks/bench_scale.py --seq {args.seq} --repeats {args.repeats}`  ",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, CPU only; "
        f"paddle {paddle.__version__}, numpy {numpy.__version__}, Python {platform.python_version()}  ",
        f"Input: token ids [1, {args.seq}] int64. Each run is a fresh process; medians of {args.repeats} "
        f"runs (max in brackets). The machine is shared, so times are indicative.",
        "",
        render_markdown(Content(columns=time_columns, rows=[_time_row(r) for r in rows])),
    ]
    lines += [
        "",
        "Counts against the analytic formulas (`param_count` in `benchmarks/models/llama.py`; MACs = "
        "seq x (all parameters except the embedding table and norm weights) + layers x 2 x seq^2 x dim "
        "for QK^T and AV over the full score matrix):",
        "",
        render_markdown(Content(columns=count_columns, rows=[_count_row(r) for r in rows])),
    ]
    if args.out:
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
    publish_markdown(lines, args.out)
    if args.out:
        with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
            json.dump({"seq": args.seq, "repeats": args.repeats, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
