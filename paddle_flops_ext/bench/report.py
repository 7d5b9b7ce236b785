"""Writers for a benchmark document (see :mod:`.runner` for its schema):
JSON, CSV (one row per model x batch x size x mode, and one per layer),
Markdown, a plain-text machine description, and PNG plots."""
from __future__ import annotations

import csv
import io
import json
import os

RESULT_COLUMNS = ["model", "source", "batch_size", "input_size", "mode", "status", "reason",
                  "macs", "flops", "paddle_flops", "params",
                  "median_ms", "mean_ms", "std_ms", "min_ms", "max_ms", "p10_ms", "p90_ms", "n",
                  "spread", "noisy", "throughput_per_s", "achieved_gflops", "frac_peak",
                  "max_abs_diff_vs_eager", "setup_s", "load_1min", "notes"]
LAYER_COLUMNS = ["model", "batch_size", "input_size", "name", "type", "kind", "leaf", "calls",
                 "macs", "flops", "params", "bytes", "intensity", "bound", "time_ms", "time_share",
                 "flops_share", "achieved_gflops", "frac_peak", "attainable_gflops", "roofline_ms"]


def _json_default(o):
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def to_json(doc: dict) -> str:
    return json.dumps({k: v for k, v in doc.items() if k != "files"}, indent=2, default=_json_default)


def results_csv(doc: dict) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=RESULT_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in doc["results"]:
        lat = r.get("latency_ms") or {}
        row = {k: r.get(k) for k in RESULT_COLUMNS}
        for k in ("median", "mean", "std", "min", "max", "p10", "p90"):
            row[f"{k}_ms"] = lat.get(k)
        row["n"], row["spread"] = lat.get("n"), lat.get("spread")
        row["notes"] = "; ".join(r.get("notes") or [])
        w.writerow(row)
    return buf.getvalue()


def layers_csv(doc: dict) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=LAYER_COLUMNS, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for pl in doc.get("per_layer", []):
        for r in pl["layers"]:
            w.writerow({"model": pl["model"], "batch_size": pl["batch_size"],
                        "input_size": pl["input_size"], **r})
    return buf.getvalue()


# -- formatting -------------------------------------------------------------

def _f(x, digits=2, scale=1.0, pct=False) -> str:
    if x is None:
        return "-"
    x = x * scale
    if pct:
        return f"{100 * x:.{max(digits - 1, 0)}f}%"
    return f"{x:,.{digits}f}"


def _sig(x, scale=1.0) -> str:
    """Three significant figures (4.09, 0.301, 17.6, 86.6)."""
    if x is None:
        return "-"
    v = x * scale
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def machine_text(doc: dict) -> str:
    m, p, c = doc["machine"], doc["peak"], doc["config"]
    th = m.get("threads", {})
    lines = [
        f"CPU: {m.get('cpu_model')} ({', '.join(m.get('simd') or []) or 'SIMD flags unknown'}), "
        f"{m.get('cpu_count')} logical cores, {th.get('available_cores')} available to the process, "
        f"{m.get('memory_gib')} GiB memory",
        f"Device: {m.get('device')}" + (f" ({m['gpu_name']})" if m.get("gpu_name") else ""),
        f"OS: {m.get('os')}; Python {m.get('python')}; PaddlePaddle {m.get('paddle')} "
        f"(commit {str(m.get('paddle_commit'))[:10]}, CUDA build: {m.get('compiled_with_cuda')}, "
        f"oneDNN: {m.get('compiled_with_onednn')})",
        f"Threads: {th.get('threads')} (set via {', '.join(th.get('applied_via', []))}; "
        f"OMP_NUM_THREADS={th.get('OMP_NUM_THREADS')})",
        f"Load average (1/5/15 min) at start {m.get('load_average_start')}, "
        f"at end {m.get('load_average_end')}",
        f"Measured peak: {p['matmul_n']}x{p['matmul_n']} fp32 matmul "
        f"{p['matmul_gflops_peak']:.1f} GFLOP/s (median {p['matmul_gflops_median']:.1f}) via "
        f"{p.get('matmul_backend', 'eager')}"
        + "".join(f"; {k} matmul {v['gflops_peak']:.1f}" for k, v in p.get("matmul_backends", {}).items()
                  if k != p.get("matmul_backend")) + "; "
        f"{p['copy_mib']:.0f} MiB copy {p['copy_gbps_peak']:.1f} GB/s "
        f"(median {p['copy_gbps_median']:.1f}); ridge point {p['ridge_flops_per_byte']:.2f} FLOP/byte",
        f"Timing: {c['warmup']} warm-up + {c['repeats']} timed runs per mode; per-layer "
        f"{c['per_layer_repeats']} runs; noisy = (p90-p10)/median > {c['noise_threshold']}",
    ]
    return "\n".join(lines) + "\n"


def to_markdown(doc: dict, top: int = 10) -> str:
    out = [f"# Benchmark results ({doc['machine'].get('device')})", ""]
    if doc.get("command"):
        out += [f"Command: `{doc['command']}`  ", f"Created: {doc['created']}", ""]
    out += ["## Machine", ""] + [f"- {line}" for line in machine_text(doc).strip().splitlines()] + [""]

    ran = [r for r in doc["results"] if r["status"] == "ran"]
    out += ["## Latency", "",
            "| Model | Batch | Input | Mode | GMACs | GFLOPs | Params (M) | Median ms | p10-p90 ms "
            "| Samples/s | GFLOP/s | % of peak | Noisy | Load |",
            "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in ran:
        lat = r["latency_ms"]
        out.append(
            f"| {r['model']} | {r['batch_size']} | {r['input_size'] if r['input_size'] is not None else '-'} "
            f"| {r['mode']} | {_sig(r['macs'], 1e-9)} | {_sig(r['flops'], 1e-9)} "
            f"| {_sig(r['params'], 1e-6)} | {lat['median']:.2f} | {lat['p10']:.2f}-{lat['p90']:.2f} "
            f"| {_f(r['throughput_per_s'], 1)} | {_f(r['achieved_gflops'], 1)} "
            f"| {_f(r['frac_peak'], 2, pct=True)} | {'yes' if r['noisy'] else 'no'} "
            f"| {_f(r.get('load_1min'), 2)} |")
    n_noisy = sum(1 for r in ran if r["noisy"])
    out += ["", f"{n_noisy} of {len(ran)} timed runs were flagged noisy "
                f"((p90-p10)/median > {doc['config']['noise_threshold']}). Load: the 1-minute load "
                f"average when the mode was timed (this process counts for about "
                f"{doc['machine']['threads'].get('threads')}). % of peak above 100% means the kernels "
                f"did less arithmetic than the count (e.g. Winograd convolution) or the peak "
                f"measurements were slowed by other load.", ""]

    other = [r for r in doc["results"] if r["status"] != "ran"]
    if other:
        out += ["## Modes not run", ""]
        seen = set()
        for r in other:
            key = (r["model"], r["mode"], r["status"], r["reason"])
            if key in seen:
                continue
            seen.add(key)
            out.append(f"- {r['model']} / {r['mode']}: {r['status']}: {r['reason']}")
        out.append("")
    notes = sorted({f"{r['model']} / {r['mode']}: {n}" for r in ran for n in r.get("notes") or []
                    if "deleted" in n})
    diffs = [r for r in ran if r.get("max_abs_diff_vs_eager") is not None]
    uncounted = sorted({(r["model"], ", ".join(r["uncounted_ops"])) for r in doc["results"]
                        if r.get("uncounted_ops")})
    if notes or diffs or uncounted or doc.get("notes"):
        out += ["## Notes", ""]
        out += [f"- {n}" for n in doc.get("notes", [])]
        out += [f"- {n}" for n in notes]
        if diffs:
            worst = max(diffs, key=lambda r: r["max_abs_diff_vs_eager"])
            out.append(f"- Compiled modes agree with eager: largest output difference "
                       f"{worst['max_abs_diff_vs_eager']:.3g} ({worst['model']} / {worst['mode']}).")
        for model, ops in uncounted:
            out.append(f"- {model}: operations with no FLOP formula (counts are lower bounds): {ops}")
        out.append("")

    if doc.get("per_layer"):
        ridge = doc["peak"]["ridge_flops_per_byte"]
        eager = doc["peak"].get("matmul_backends", {}).get("eager")
        eager_txt = (f" Per-layer times are eager (dygraph) kernels; eager `paddle.matmul` reaches "
                     f"{eager['gflops_peak']:.1f} GFLOP/s here, the machine peak above "
                     f"{doc['peak']['matmul_gflops_peak']:.1f}." if eager else "")
        out += ["## Per layer (eager, exclusive time)", "",
                f"Bytes = (inputs + outputs + weights) x dtype size; a layer is memory-bound when its "
                f"FLOP/byte is below the ridge point {ridge:.2f}. Time share and FLOP share are over "
                f"the rows listed (leaf layers and containers' own operations)." + eager_txt, ""]
        for pl in doc["per_layer"]:
            size = f" {pl['input_size']}" if pl["input_size"] is not None else ""
            listed = sum(r["time_ms"] for r in pl["layers"])
            out += [f"### {pl['model']} (batch {pl['batch_size']}{size})", "",
                    f"Forward pass with hooks {pl['total_ms']:.2f} ms (median of {pl['repeats']}); the "
                    f"medians of the {len(pl['layers'])} rows add up to {listed:.2f} ms.", "",
                    "| Kind | Layers | FLOP share | Time share | GFLOP/s | % of peak | FLOP/byte | Bound |",
                    "|---|---:|---:|---:|---:|---:|---:|---|"]
            for g in pl["by_kind"]:
                out.append(f"| {g['kind']} | {g['layers']} | {_f(g['flops_share'], 2, pct=True)} "
                           f"| {_f(g['time_share'], 2, pct=True)} | {_f(g['achieved_gflops'], 1)} "
                           f"| {_f(g['frac_peak'], 2, pct=True)} | {_f(g['intensity'], 1)} "
                           f"| {g['bound'] or '-'} |")
            out += ["", f"Slowest {top} layers:", "",
                    "| Layer | Kind | MFLOPs | MB moved | FLOP/byte | Bound | ms | % time | GFLOP/s |",
                    "|---|---|---:|---:|---:|---|---:|---:|---:|"]
            for r in sorted(pl["layers"], key=lambda r: -r["time_ms"])[:top]:
                out.append(f"| {r['name']} | {r['kind']} | {_sig(r['flops'], 1e-6)} "
                           f"| {_sig(r['bytes'], 1e-6)} | {_f(r['intensity'], 1)} | {r['bound'] or '-'} "
                           f"| {r['time_ms']:.3f} | {_f(r['time_share'], 2, pct=True)} "
                           f"| {_f(r['achieved_gflops'], 1)} |")
            out.append("")
    return "\n".join(out)


def write_all(doc: dict, out_dir: str, stem: str, plots: bool = True) -> dict:
    """Write ``<stem>.json/.md/.csv``, ``<stem>_layers.csv``,
    ``<stem>_machine.txt`` and (matplotlib permitting) PNG plots under
    ``out_dir``. Returns ``{kind: path}``; a skipped plot is reported under
    ``plots_skipped``."""
    os.makedirs(out_dir, exist_ok=True)
    files = {}

    def put(kind, name, text):
        path = os.path.join(out_dir, name)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        files[kind] = path

    put("json", f"{stem}.json", to_json(doc))
    put("csv", f"{stem}.csv", results_csv(doc))
    if doc.get("per_layer"):
        put("layers_csv", f"{stem}_layers.csv", layers_csv(doc))
    put("markdown", f"{stem}.md", to_markdown(doc))
    put("machine", f"{stem}_machine.txt", machine_text(doc))
    if plots:
        from .plots import write_plots
        made, skipped = write_plots(doc, out_dir, stem)
        files.update(made)
        if skipped:
            files["plots_skipped"] = skipped
    return files
