"""PNG plots of a benchmark document; matplotlib is an optional extra
(``pip install paddle_flops_ext[plot]``). Without it the plots are skipped
with a message and everything else is still written.

- ``<stem>_flops_vs_latency.png``: each model's FLOPs against its median
  latency per mode (log-log), with the lines a machine running at 100 % and
  10 % of the measured matmul peak would follow.
- ``<stem>_layers.png``: left, every layer's exclusive time against its
  FLOPs, coloured by layer kind; right, the roofline: arithmetic intensity
  against achieved GFLOP/s under the measured compute and bandwidth roofs.
"""
from __future__ import annotations

import os

KIND_COLORS = {"conv depthwise": "#d62728", "conv 1x1": "#1f77b4", "conv kxk": "#2ca02c",
               "conv grouped": "#9467bd", "linear": "#ff7f0e"}
MODE_MARKERS = {"eager": "o", "to_static": "s", "inference": "^", "inference_trt": "D"}


def _matplotlib():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt, None
    except ImportError as e:
        return None, (f"matplotlib is not installed ({e}); PNG plots skipped. "
                      f"Install it with `pip install matplotlib` (or the [plot] extra).")


def write_plots(doc: dict, out_dir: str, stem: str) -> tuple[dict, str | None]:
    plt, why = _matplotlib()
    if plt is None:
        import sys
        print(why, file=sys.stderr)
        return {}, why
    made = {}
    path = os.path.join(out_dir, f"{stem}_flops_vs_latency.png")
    if _flops_vs_latency(plt, doc, path):
        made["plot_flops_vs_latency"] = path
    path = os.path.join(out_dir, f"{stem}_layers.png")
    if _layers(plt, doc, path):
        made["plot_layers"] = path
    return made, None


def _flops_vs_latency(plt, doc, path) -> bool:
    rows = [r for r in doc["results"] if r["status"] == "ran" and r.get("flops")]
    if not rows:
        return False
    peak = doc["peak"]["matmul_gflops_peak"] * 1e9
    fig, ax = plt.subplots(figsize=(9, 6.5))
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    for m in modes:
        sel = [r for r in rows if r["mode"] == m]
        ax.scatter([r["flops"] / 1e9 for r in sel], [r["latency_ms"]["median"] for r in sel],
                   marker=MODE_MARKERS.get(m, "x"), s=45, label=m, alpha=0.85)
    labelled = set()
    for r in sorted(rows, key=lambda r: r["latency_ms"]["median"]):
        key = (r["model"], r["batch_size"], r["input_size"])
        if key in labelled:
            continue
        labelled.add(key)
        name = r["model"] + (f" b{r['batch_size']}" if len(doc["config"]["batch_sizes"]) > 1 else "")
        # alternate above/below so neighbours with similar FLOPs stay legible
        below = len(labelled) % 2 == 0
        ax.annotate(name, (r["flops"] / 1e9, r["latency_ms"]["median"]), textcoords="offset points",
                    xytext=(6, -11 if below else 5), fontsize=8)
    lo = min(r["flops"] for r in rows) / 2
    hi = max(r["flops"] for r in rows) * 2
    for frac, style in ((1.0, "-"), (0.1, "--")):
        ax.plot([lo / 1e9, hi / 1e9], [lo / (peak * frac) * 1e3, hi / (peak * frac) * 1e3], style,
                color="grey", lw=1, label=f"{int(frac * 100)}% of measured peak "
                                          f"({doc['peak']['matmul_gflops_peak'] * frac:.0f} GFLOP/s)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("GFLOPs per forward pass (this project's convention)")
    ax.set_ylabel("median latency (ms)")
    m = doc["machine"]
    ax.set_title(f"FLOPs vs measured latency: {m.get('device')} - {m.get('cpu_model', '')}, "
                 f"{m['threads'].get('threads')} threads", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _layers(plt, doc, path) -> bool:
    layers = [(pl["model"], r) for pl in doc.get("per_layer", []) for r in pl["layers"]
              if r["flops"] > 0 and r["time_ms"] > 0]
    if not layers:
        return False
    peak_f = doc["peak"]["matmul_gflops_peak"]
    peak_bw = doc["peak"]["copy_gbps_peak"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 6))
    kinds = list(KIND_COLORS) + ["other"]
    for kind in kinds:
        sel = [r for _, r in layers if (r["kind"] if r["kind"] in KIND_COLORS else "other") == kind]
        if not sel:
            continue
        color = KIND_COLORS.get(kind, "#7f7f7f")
        ax1.scatter([r["flops"] / 1e6 for r in sel], [r["time_ms"] for r in sel], s=10, alpha=0.6,
                    color=color, label=kind)
        pts = [r for r in sel if r["intensity"] is not None and r["achieved_gflops"]]
        if pts:
            ax2.scatter([r["intensity"] for r in pts], [r["achieved_gflops"] for r in pts], s=10,
                        alpha=0.6, color=color, label=kind)
    fl = [r["flops"] for _, r in layers]
    lo, hi = min(fl) / 2, max(fl) * 2
    ax1.plot([lo / 1e6, hi / 1e6], [lo / (peak_f * 1e9) * 1e3, hi / (peak_f * 1e9) * 1e3], "-",
             color="grey", lw=1, label=f"at measured peak ({peak_f:.0f} GFLOP/s)")
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("layer MFLOPs")
    ax1.set_ylabel("layer exclusive time (ms, median)")
    times = [r["time_ms"] for _, r in layers]
    ax1.set_ylim(min(times) / 3, max(times) * 3)
    n_models = len(dict.fromkeys(m for m, _ in layers))
    ax1.set_title(f"Per-layer exclusive time vs FLOPs (eager, {len(layers)} layers of {n_models} models)",
                  fontsize=9)
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=8)

    ai = [r["intensity"] for _, r in layers if r["intensity"]]
    if ai:
        lo_i, hi_i = min(ai) / 2, max(ai) * 2
        ridge = peak_f / peak_bw
        xs = [lo_i, ridge, hi_i] if lo_i < ridge < hi_i else [lo_i, hi_i]
        ax2.plot(xs, [min(peak_f, x * peak_bw) for x in xs], "-", color="black", lw=1.2,
                 label=f"roofline: {peak_bw:.1f} GB/s, {peak_f:.0f} GFLOP/s (ridge {ridge:.1f} FLOP/B)")
        ax2.axvline(ridge, color="grey", ls=":", lw=1)
        eager = doc["peak"].get("matmul_backends", {}).get("eager")
        if eager and doc["peak"].get("matmul_backend") != "eager":
            e_peak = eager["gflops_peak"]
            ax2.plot([lo_i, hi_i], [e_peak, e_peak], "--", color="black", lw=0.8,
                     label=f"eager paddle.matmul ({e_peak:.0f} GFLOP/s)")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("arithmetic intensity (FLOP / byte, leaf layers)")
    ax2.set_ylabel("achieved GFLOP/s")
    ax2.set_title("Roofline of the leaf layers (eager timings, measured roofs)", fontsize=9)
    ax2.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
