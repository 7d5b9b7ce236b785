"""PNG plots of a benchmark document; matplotlib is an optional extra
(``pip install paddle_flops_ext[plot]``). Without it the plots are skipped
with a message and everything else is still written.

- ``<stem>_flops_vs_latency.png``: each model's FLOPs against its median
  latency, one marker shape per model and one colour per mode (both in the
  legends, so every point can be attributed without text labels that could
  overlap; the modes of a model are dodged sideways by a few percent of
  FLOPs), p10-p90 error bars, and the lines a machine running at 100 % and
  10 % of the measured fp32 matmul peak would follow.
- ``<stem>_layers.png``: the per-layer roofline, one panel per model (or
  only ``plot_model``): each leaf layer's arithmetic intensity against its
  achieved GFLOP/s, coloured by layer kind, under the measured compute roofs
  (fp32, and bf16 when measured) and one bandwidth roof per cache level and
  DRAM.
"""
from __future__ import annotations

import math
import os

KIND_COLORS = {"conv depthwise": "#d62728", "conv 1x1": "#1f77b4", "conv kxk": "#2ca02c",
               "conv grouped": "#9467bd", "linear": "#ff7f0e", "norm": "#8c564b",
               "activation": "#e377c2", "pool": "#17becf"}
MODE_COLORS = {"eager": "#1f77b4", "to_static": "#ff7f0e", "inference": "#2ca02c",
               "inference_bf16": "#9467bd", "inference_int8": "#8c564b", "inference_trt": "#d62728"}
MODEL_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "p", "h", "*", "8", "d", "H"]
ROOF_STYLES = {"L1": ":", "L2": "-.", "L3": "--", "DRAM": "-"}
FLOPS_LABEL = "GFLOPs per forward pass (1 multiply-add = 2 FLOPs, plus non-MAC operations)"


def _matplotlib():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt, None
    except ImportError as e:
        return None, (f"matplotlib is not installed ({e}); PNG plots skipped. "
                      f"Install it with `pip install matplotlib` (or the [plot] extra).")


def write_plots(doc: dict, out_dir: str, stem: str, plot_model: str | None = None) -> tuple[dict, str | None]:
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
    if _layers(plt, doc, path, plot_model):
        made["plot_layers"] = path
    return made, None


def model_markers(models: list) -> dict:
    return {m: MODEL_MARKERS[i % len(MODEL_MARKERS)] for i, m in enumerate(models)}


def _point_label(r, multi_batch, multi_size) -> str:
    return r["model"] + (f" b{r['batch_size']}" if multi_batch else "") + (
        f" {r['input_size']}" if multi_size and r["input_size"] is not None else "")


def _flops_vs_latency(plt, doc, path) -> bool:
    from matplotlib.lines import Line2D
    rows = [r for r in doc["results"] if r["status"] == "ran" and r.get("flops")]
    if not rows:
        return False
    peak = doc["peak"]["matmul_gflops_peak"] * 1e9
    multi_b = len({r["batch_size"] for r in rows}) > 1
    multi_s = len({r["input_size"] for r in rows}) > 1
    labels = list(dict.fromkeys(_point_label(r, multi_b, multi_s) for r in rows))
    markers = model_markers(labels)
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    fig, ax = plt.subplots(figsize=(10, 6.5))
    for r in rows:
        lat = r["latency_ms"]
        med = lat["median"]
        # dodge the modes of one model sideways (x 1.06 per mode on the log axis) so they do not hide each other
        dodge = 1.06 ** (modes.index(r["mode"]) - (len(modes) - 1) / 2)
        ax.errorbar(r["flops"] / 1e9 * dodge, med, yerr=[[med - lat["p10"]], [lat["p90"] - med]],
                    marker=markers[_point_label(r, multi_b, multi_s)], ms=7, ls="none",
                    color=MODE_COLORS.get(r["mode"], "black"), mec="black", mew=0.5,
                    ecolor=MODE_COLORS.get(r["mode"], "black"), elinewidth=1, capsize=2, alpha=0.9)
    lo = min(r["flops"] for r in rows) / 2
    hi = max(r["flops"] for r in rows) * 2
    lines = []
    for frac, style in ((1.0, "-"), (0.1, "--")):
        ln, = ax.plot([lo / 1e9, hi / 1e9], [lo / (peak * frac) * 1e3, hi / (peak * frac) * 1e3], style,
                      color="grey", lw=1,
                      label=f"{int(frac * 100)}% of fp32 peak ({doc['peak']['matmul_gflops_peak'] * frac:.0f} GFLOP/s)")
        lines.append(ln)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(FLOPS_LABEL)
    ax.set_ylabel("latency per forward pass (ms): median, bars p10-p90")
    m = doc["machine"]
    ax.set_title(f"FLOPs vs measured latency: {m.get('device')} - {m.get('cpu_model', '')}, "
                 f"{m['threads'].get('threads')} threads, batch "
                 f"{','.join(str(b) for b in sorted({r['batch_size'] for r in rows}))}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    model_handles = [Line2D([], [], marker=markers[k], ls="none", color="white", mec="black", ms=7, label=k)
                     for k in labels]
    mode_handles = [Line2D([], [], marker="s", ls="none", color=MODE_COLORS.get(md, "black"), ms=8, label=md)
                    for md in modes]
    leg1 = ax.legend(handles=model_handles, title="model", fontsize=8, title_fontsize=8,
                     loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.add_artist(leg1)
    ax.legend(handles=mode_handles + lines, title="mode (colour)", fontsize=8, title_fontsize=8,
              loc="lower left", bbox_to_anchor=(1.01, 0.0))
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return True


def _roofs(doc) -> tuple[list, list]:
    """``([(label, GFLOP/s)], [(label, GB/s, style)])``."""
    p = doc["peak"]
    compute = [(f"fp32 peak {p['matmul_gflops_peak']:.0f} GFLOP/s", p["matmul_gflops_peak"])]
    bf16 = p.get("compute", {}).get("bf16", {})
    if bf16.get("status") == "ran":
        compute.append((f"bf16 peak {bf16['gflops_peak']:.0f} GFLOP/s", bf16["gflops_peak"]))
    eager = p.get("matmul_backends", {}).get("eager")
    if eager and p.get("matmul_backend") != "eager":
        compute.append((f"eager fp32 matmul {eager['gflops_peak']:.0f} GFLOP/s", eager["gflops_peak"]))
    bw = [(f"{b['level']} {b['gbps_peak']:.0f} GB/s", b["gbps_peak"], ROOF_STYLES.get(b["level"], "-"))
          for b in p.get("bandwidth", [])] or [(f"DRAM {p['copy_gbps_peak']:.0f} GB/s", p["copy_gbps_peak"], "-")]
    return compute, bw


def _layers(plt, doc, path, plot_model=None) -> bool:
    entries = [pl for pl in doc.get("per_layer", []) if plot_model is None or pl["model"] == plot_model]
    panels = []
    for pl in entries:
        pts = [r for r in pl["layers"] if r.get("intensity") and r.get("achieved_gflops")]
        if pts:
            size = f" {pl['input_size']}" if pl.get("input_size") is not None else ""
            panels.append((f"{pl['model']} (batch {pl['batch_size']}{size})", pts))
    if not panels:
        return False
    ncol = min(3, len(panels))
    nrow = math.ceil(len(panels) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(max(5.2 * ncol, 11), 4.4 * nrow + 1.2), squeeze=False)
    compute, bw = _roofs(doc)
    top = max(v for _, v in compute)
    all_ai = [r["intensity"] for _, pts in panels for r in pts]
    lo_i, hi_i = min(all_ai) / 2, max(all_ai) * 2
    all_g = [r["achieved_gflops"] for _, pts in panels for r in pts]
    handles = {}
    for ax, (title, pts) in zip(axes.flat, panels):
        for kind in list(KIND_COLORS) + ["other"]:
            sel = [r for r in pts if (r["kind"] if r["kind"] in KIND_COLORS else "other") == kind]
            if sel:
                h = ax.scatter([r["intensity"] for r in sel], [r["achieved_gflops"] for r in sel], s=14,
                               alpha=0.75, color=KIND_COLORS.get(kind, "#7f7f7f"), label=kind, lw=0)
                handles.setdefault(kind, h)
        xs = [lo_i * (hi_i / lo_i) ** (i / 200) for i in range(201)]
        for label, gbps, style in bw:
            h, = ax.plot(xs, [min(compute[0][1], x * gbps) for x in xs], ls=style, color="#666666", lw=1)
            handles.setdefault("roof " + label, h)
        for i, (label, gf) in enumerate(compute):
            h = ax.axhline(gf, color=["black", "#9467bd", "grey"][min(i, 2)], lw=1.8 if i == 0 else 0.9,
                           ls="-" if i == 0 else "--")
            handles.setdefault(label, h)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo_i, hi_i)
        ax.set_ylim(min(all_g) / 3, top * 2)
        ax.set_title(title, fontsize=9)
        ax.grid(True, which="both", alpha=0.25)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax in axes.flat[:len(panels)]:
        ax.set_xlabel("FLOP / byte (FLOPs: 2 per MAC; bytes: inputs + outputs + weights)", fontsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel("achieved GFLOP/s (eager, exclusive time)", fontsize=8)
    per_row = min(5, len(handles))
    fig.legend(list(handles.values()), list(handles.keys()), loc="lower center",
               ncol=per_row, fontsize=8, frameon=False)
    fig.suptitle("Per-layer roofline: measured bandwidth roof per cache level and DRAM, "
                 "compute roof per precision", fontsize=10)
    legend_rows = math.ceil(len(handles) / per_row)
    height = fig.get_size_inches()[1]
    fig.tight_layout(rect=(0, (0.25 + 0.2 * legend_rows) / height, 1, 1 - 0.35 / height))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
