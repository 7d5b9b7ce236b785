"""Writers for a benchmark document (see :mod:`.runner` for its schema):
JSON, CSV (one row per model x batch x size x mode, and one per layer),
Markdown, a plain-text machine description, and PNG plots."""
from __future__ import annotations

import json
import os

from ..report.content import Column, Content
from ..report.render import human_bytes, number, percent, render_csv, render_markdown, render_table

from ..files import write_text
from .plots import write_plots

RESULT_COLUMNS = ["model", "source", "batch_size", "input_size", "mode", "precision", "status", "reason",
                  "macs", "flops", "paddle_flops", "params", "weight_bytes",
                  "median_ms", "ci_low_ms", "ci_high_ms", "ci_rel", "converged", "stop",
                  "mean_ms", "std_ms", "min_ms", "max_ms", "p10_ms", "p90_ms", "n",
                  "spread", "noisy", "between_process_spread", "throughput_per_s", "achieved_gflops",
                  "frac_peak", "max_abs_diff_vs_eager", "setup_s", "load_busy_fraction", "load_waited_s",
                  "load_1min", "parallelism", "rank", "notes"]
LAYER_COLUMNS = ["model", "batch_size", "input_size", "name", "type", "kind", "leaf", "calls",
                 "macs", "flops", "params", "bytes", "intensity", "roof_level", "roof_gbps", "bound",
                 "time_ms", "time_raw_ms", "time_share", "flops_share", "achieved_gflops", "frac_peak",
                 "attainable_gflops", "roofline_ms"]


def publish_markdown(lines: list, path: str | None = None) -> None:
    """Print a Markdown report (a list of lines) and write it to ``path``
    when one is given: every benchmark's results file is what it printed."""
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if path:
        write_text(path, text)


def _json_default(o):
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def to_json(doc: dict) -> str:
    return json.dumps({k: v for k, v in doc.items() if k != "files"}, indent=2, default=_json_default)


def _csv(keys: list, rows: list) -> str:
    return render_csv(Content(columns=[Column(k, k) for k in keys], rows=rows))


def results_csv(doc: dict) -> str:
    rows = []
    for r in doc["results"]:
        lat = r.get("latency_ms") or {}
        row = {k: r.get(k) for k in RESULT_COLUMNS}
        for k in ("median", "mean", "std", "min", "max", "p10", "p90", "ci_low", "ci_high"):
            row[f"{k}_ms"] = lat.get(k)
        for k in ("n", "spread", "ci_rel", "converged", "stop"):
            row[k] = lat.get(k)
        row["between_process_spread"] = (r.get("between_process") or {}).get("spread")
        load = r.get("load_check") or {}
        row["load_busy_fraction"], row["load_waited_s"] = load.get("busy_fraction"), load.get("waited_s")
        row["notes"] = "; ".join(r.get("notes") or [])
        rows.append(row)
    return _csv(RESULT_COLUMNS, rows)


def layers_csv(doc: dict) -> str:
    return _csv(LAYER_COLUMNS, [{"model": pl["model"], "batch_size": pl["batch_size"],
                                 "input_size": pl["input_size"], **r}
                                for pl in doc.get("per_layer", []) for r in pl["layers"]])


# -- prose and tables -------------------------------------------------------

def peak_lines(p: dict) -> list[str]:
    comp = []
    for prec, v in p.get("compute", {}).items():
        if v.get("status") == "ran":
            comp.append(f"{prec} {v['gflops_peak']:.1f} GFLOP/s (median {v['gflops_median']:.1f}, "
                        f"{v.get('backend', '')})")
        else:
            comp.append(f"{prec} unavailable ({v.get('reason')})")
    eager = p.get("matmul_backends", {}).get("eager")
    lines = [f"Compute peaks ({p['matmul_n']}x{p['matmul_n']} matmul): " + "; ".join(comp)
             + (f"; eager fp32 paddle.matmul {eager['gflops_peak']:.1f}" if eager and
                p.get("matmul_backend") != "eager" else "")]
    bw = [f"{b['level']} ({human_bytes(b['working_set_bytes'])} copied) {b['gbps_peak']:.1f} GB/s "
          f"(median {b['gbps_median']:.1f})" for b in p.get("bandwidth", [])]
    if bw:
        lines.append("Copy bandwidth by working set: " + "; ".join(bw)
                     + f" [{p['bandwidth'][0].get('method', '')}]")
    lines.append(f"Classic roofline: fp32 {p['matmul_gflops_peak']:.1f} GFLOP/s over DRAM "
                 f"{p['copy_gbps_peak']:.1f} GB/s, ridge {p['ridge_flops_per_byte']:.2f} FLOP/byte")
    return lines


def timing_line(c: dict, m: dict) -> str:
    if c.get("repeats"):
        how = f"{c['warmup']} warm-up + exactly {c['repeats']} timed runs per mode"
    else:
        how = (f"{c['warmup']} warm-up runs, then adaptive: modes interleaved, each timed until the "
               f"median's 95% CI is within +-{100 * c.get('ci_target', 0.02):.0f}% "
               f"(at least {c.get('min_repeats')} runs, at most {c.get('budget_s')} s per mode)")
    return (f"Timing: {how}; timer: {m.get('timer', 'wall clock')}; per-layer {c['per_layer_repeats']} "
            f"runs; noisy = (p90-p10)/median > {c['noise_threshold']}; load check before each model: "
            f"wait up to {c.get('load_wait_s')} s while other processes use > "
            f"{100 * (c.get('load_threshold') or 0):.0f}% of the CPUs")


def machine_text(doc: dict) -> str:
    m, p, c = doc["machine"], doc["peak"], doc["config"]
    th = m.get("threads", {})
    caches = ", ".join(f"{x['level']} {human_bytes(x['size_bytes'])}" + (" shared" if x.get("shared_by", 1) > 1 else "")
                       for x in m.get("caches", []))
    lines = [
        f"CPU: {m.get('cpu_model')} ({', '.join(m.get('simd') or []) or 'SIMD flags unknown'}), "
        f"{m.get('cpu_count')} logical cores, {th.get('available_cores')} available to the process, "
        f"{m.get('memory_gib')} GiB memory" + (f"; caches per core: {caches}" if caches else ""),
        f"Device: {m.get('device')}" + (f" ({m['gpu_name']})" if m.get("gpu_name") else ""),
        f"OS: {m.get('os')}; Python {m.get('python')}; PaddlePaddle {m.get('paddle')} "
        f"(commit {str(m.get('paddle_commit'))[:10]}, CUDA build: {m.get('compiled_with_cuda')}, "
        f"oneDNN: {m.get('compiled_with_onednn')})",
        f"Threads: {th.get('threads')} (set via {', '.join(th.get('applied_via', []))}, and again before "
        f"every eager/to_static call; OMP_NUM_THREADS={th.get('OMP_NUM_THREADS')})",
        "Allocator: " + (f"glibc mmap threshold pinned at {human_bytes(m['malloc']['mmap_threshold'])}, trim "
                         f"threshold {human_bytes(m['malloc']['trim_threshold'])}" if (m.get("malloc") or {}).get("applied")
                         else f"glibc defaults ({(m.get('malloc') or {}).get('reason', 'not recorded')})"),
        f"Load average (1/5/15 min) at start {m.get('load_average_start')}, "
        f"at end {m.get('load_average_end')}",
        *peak_lines(p),
        timing_line(c, m),
    ]
    if doc.get("processes"):
        lines.append(f"Processes: {doc['processes']} fresh processes, samples pooled")
    if doc.get("ranks"):
        lines.append("Ranks: " + "; ".join(f"rank {r['rank']} on {r['device']} ({len(r['tasks'])} tasks)"
                                             for r in doc["ranks"]))
    return "\n".join(lines) + "\n"


def _ci(lat: dict) -> str:
    if lat.get("ci_low") is None:
        return "-"
    return f"{number(lat['ci_low'])}-{number(lat['ci_high'])} (±{percent(lat['ci_rel'], 1, 100)})"


def _n(key, header):
    """An integer column."""
    return Column(key, header, "number", digits=0)


BUSY_PARALLELISM = 0.5    # CPU/wall below this: the process was off the CPU more than half the time


def roofline_verdict(pl: dict | None) -> str | None:
    """A model's roofline verdict from its per-layer pass: which bound
    holds most of the forward's time (``memory 63%``: memory-bound layers
    took 63 % of it); ``None`` without a per-layer pass."""
    if not pl or not pl.get("layers"):
        return None
    total = sum(r["time_ms"] for r in pl["layers"])
    if total <= 0:
        return None
    memory = sum(r["time_ms"] for r in pl["layers"] if r.get("bound") == "memory") / total
    return f"memory {memory:.0%}" if memory >= 0.5 else f"compute {1 - memory:.0%}"


def busy_runs(doc: dict) -> list[dict]:
    """Timed runs whose times other load set, not the model: the load check
    before the model found other processes using the CPUs (and waiting did
    not help), or the process was off the CPU more than half the time while
    timed (CPU/wall below :data:`BUSY_PARALLELISM`)."""
    return [r for r in doc["results"] if r["status"] == "ran" and (
        (r.get("load_check") or {}).get("busy")
        or (r.get("parallelism") is not None and r["parallelism"] < BUSY_PARALLELISM))]


def _why_busy(r: dict) -> str:
    load = r.get("load_check") or {}
    why = [f"other processes used {load['busy_fraction']:.0%} of the CPUs"] if load.get("busy") else []
    if r.get("parallelism") is not None and r["parallelism"] < BUSY_PARALLELISM:
        why.append(f"CPU/wall {r['parallelism']:.2f}")
    return f"{r['model']} / {r['mode']} ({', '.join(why)})"


SUMMARY_COLUMNS = [
    Column("model", "model"), Column("mode", "mode"), Column("precision", "prec.", drop=6),
    Column("flops", "FLOPs", "count", drop=3), Column("median_s", "median", "duration"),
    Column("ci", "95% CI"),
    Column("achieved_gflops", "GFLOP/s", "number", 1), Column("frac_peak", "% peak", "percent", 1, 100),
    Column("bound", "roofline", drop=2), Column("parallelism", "CPU/wall", "number", 2, drop=5),
    Column("status", "status", drop=7)]


def summary_table(doc: dict, width: int | None = None) -> str:
    """A table for the terminal: one line per model/mode run, with its
    counts, median and interval, achieved GFLOP/s and % of the peak at the
    mode's precision, the roofline verdict; a plain warning when the machine
    was too busy to trust a timing. ``width``: fit that many columns."""
    verdicts = {(pl["model"], pl["batch_size"], pl["input_size"]): roofline_verdict(pl)
                for pl in doc.get("per_layer") or []}
    rows = []
    for r in doc["results"]:
        lat = r.get("latency_ms") or {}
        rows.append({**r, "median_s": lat["median"] / 1e3 if lat.get("median") is not None else None,
                     "ci": None if lat.get("ci_rel") is None else
                     f"±{100 * lat['ci_rel']:.1f}%" + ("" if lat.get("converged") else "*"),
                     "bound": verdicts.get((r["model"], r["batch_size"], r["input_size"]))})
    ran = [r for r in doc["results"] if r["status"] == "ran"]
    conv = sum(1 for r in ran if (r.get("latency_ms") or {}).get("converged"))
    footer = [f"{r['model']} / {r['mode']}: {r['status']}: {r['reason']}"
              for r in doc["results"] if r["status"] != "ran"]
    footer.append(f"{len(ran)} of {len(doc['results'])} runs timed; {conv} converged to the CI target; "
                  f"{sum(1 for r in doc['results'] if r['status'] == 'failed')} failed. 95% CI: the median's "
                  f"interval, +- this share of it (* not converged to the target; the bounds are in the "
                  f"Markdown report); % peak: achieved "
                  f"GFLOP/s over the measured matmul peak at the mode's precision; roofline: the bound "
                  f"holding most of the eager forward's time (per-layer pass).")
    busy = busy_runs(doc)
    if busy:
        footer.append("WARNING: the machine was too busy to trust these timings: "
                      + "; ".join(_why_busy(r) for r in busy) + ". Rerun on a quiet machine.")
    columns = list(SUMMARY_COLUMNS)
    if any(r.get("between_process") for r in doc["results"]):     # --processes N
        columns.insert(columns.index(next(c for c in columns if c.key == "ci")) + 1,
                       Column("between_spread", "between-proc", "percent", 1, 100, drop=1))
        for row in rows:
            row["between_spread"] = (row.get("between_process") or {}).get("spread")
        footer.append("between-proc: (max - min) / median of the per-process medians; with several processes "
                      "the 95% CI is the interval the next process's median falls in.")
    return render_table(Content(columns=columns, rows=rows, footer=footer), width)


def _giga(key, header, scale=1e-9):
    """Three significant figures of ``value * scale``."""
    return Column(key, header, "number", digits=None, scale=scale)


LATENCY_COLUMNS = [
    Column("model", "Model"), _n("batch_size", "Batch"), _n("input_size", "Input"), Column("mode", "Mode"),
    _giga("macs", "GMACs"), _giga("flops", "GFLOPs"), _giga("params", "Params (M)", 1e-6),
    Column("weight_bytes", "Weights", "bytes", 2), Column("median", "Median ms", "number", 2),
    Column("ci", "95% CI ms", "number"), _n("n", "n"), Column("converged", "Conv."),
    Column("p10_p90", "p10-p90 ms", "number"), Column("throughput_per_s", "Samples/s", "number", 1),
    Column("achieved_gflops", "GFLOP/s", "number", 1), Column("frac_peak", "% of peak", "percent", 1, 100),
    Column("parallelism", "CPU/wall", "number", 2), Column("busy", "Busy", "percent", 0, 100)]
KIND_COLUMNS = [
    Column("kind", "Kind"), _n("layers", "Layers"), Column("flops_share", "FLOP share", "percent", 1, 100),
    Column("time_share", "Time share", "percent", 1, 100), Column("achieved_gflops", "GFLOP/s", "number", 1),
    Column("frac_peak", "% of peak", "percent", 1, 100), Column("intensity", "FLOP/byte", "number", 1),
    Column("bound", "Bound"), Column("memory_bound_time_share", "Mem-bound time", "percent", 0, 100)]
SLOWEST_COLUMNS = [
    Column("name", "Layer"), Column("kind", "Kind"), _giga("flops", "MFLOPs", 1e-6),
    Column("bytes", "Moved", "bytes", 2), Column("intensity", "FLOP/byte", "number", 1),
    Column("roof_level", "Roof"), Column("bound", "Bound"), Column("time_ms", "ms", "number", 3),
    Column("time_share", "% time", "percent", 1, 100), Column("achieved_gflops", "GFLOP/s", "number", 1)]


def _latency_row(r: dict) -> dict:
    lat = r["latency_ms"]
    return {**r, "median": lat["median"], "ci": _ci(lat), "n": lat["n"], "converged": bool(lat.get("converged")),
            "p10_p90": f"{number(lat['p10'])}-{number(lat['p90'])}",
            "busy": (r.get("load_check") or {}).get("busy_fraction")}


def to_markdown(doc: dict, top: int = 10) -> str:
    out = [f"# Benchmark results ({doc['machine'].get('device')})", ""]
    if doc.get("command"):
        out += [f"Command: `{doc['command']}`  ", f"Created: {doc['created']}", ""]
    out += ["## Machine", ""] + [f"- {line}" for line in machine_text(doc).strip().splitlines()] + [""]

    ran = [r for r in doc["results"] if r["status"] == "ran"]
    out += ["## Latency", "", render_markdown(Content(columns=LATENCY_COLUMNS, rows=[_latency_row(r) for r in ran]))]
    n_noisy = sum(1 for r in ran if r["noisy"])
    n_conv = sum(1 for r in ran if r["latency_ms"].get("converged"))
    out += ["", f"{n_conv} of {len(ran)} timed runs converged (95% CI of the median within "
                f"±{100 * doc['config'].get('ci_target', 0.02):.0f}%); {n_noisy} were flagged noisy "
                f"((p90-p10)/median > {doc['config']['noise_threshold']}). Weights: parameters x "
                f"bytes per element at the mode's precision. CPU/wall: process CPU seconds per wall second "
                f"while the mode was timed ({doc['machine']['threads'].get('threads')} threads: about "
                f"{doc['machine']['threads'].get('threads')} when every thread kept a CPU; lower when the "
                f"work is serial or other processes took CPUs). Busy: the share of the CPUs other "
                f"processes used just before the model was timed. % of peak is against the matmul "
                f"peak measured at the mode's precision (fp32, bf16, int8; fp32 where that precision "
                f"was not measured); above 100% means the kernels did less arithmetic than the count "
                f"(e.g. Winograd convolution).", ""]
    busy = busy_runs(doc)
    if busy:
        out += ["**Warning: the machine was too busy to trust these timings**: "
                + "; ".join(_why_busy(r) for r in busy) + ".", ""]
    bp = [r for r in ran if r.get("between_process")]
    if bp:
        out += ["Between-process spread ((max - min) / median of the per-process medians): "
                + ", ".join(f"{r['model']} {r['mode']} {100 * r['between_process']['spread']:.1f}%" for r in bp),
                ""]

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
                f"Bytes = (inputs + outputs + weights) x dtype size; each layer is judged against the "
                f"bandwidth roof of the fastest measured level whose capacity holds its bytes (Roof "
                f"column), memory-bound when its FLOP/byte is below that roof's ridge point (DRAM "
                f"ridge {ridge:.2f}; the per-kind Bound is against DRAM, Mem-bound time is the share "
                f"of the kind's time in layers memory-bound against their own roof). Times are "
                f"exclusive, with the hooks' overhead subtracted. Time share and FLOP share are over "
                f"the rows listed (leaf layers and containers' own operations)." + eager_txt, ""]
        for pl in doc["per_layer"]:
            size = f" {pl['input_size']}" if pl["input_size"] is not None else ""
            listed = sum(r["time_ms"] for r in pl["layers"])
            check = ""
            if pl.get("unhooked_ms") is not None:
                ov = pl["hook_overhead_us"]
                check = (f" Whole forward pass without hooks {pl['unhooked_ms']:.2f} ms; sum of the "
                         f"exclusive times {pl['sum_exclusive_raw_ms']:.2f} ms raw, "
                         f"{pl['sum_exclusive_ms']:.2f} ms after subtracting the hooks' measured "
                         f"overhead ({ov['per_call']:.1f} µs per layer call x {pl['layer_calls']} "
                         f"calls) = {100 * pl['sum_exclusive_ms'] / pl['unhooked_ms']:.0f}% of the "
                         f"whole." if pl["unhooked_ms"] else "")
            out += [f"### {pl['model']} (batch {pl['batch_size']}{size})", "",
                    f"Forward pass with hooks {pl['total_ms']:.2f} ms (median of {pl['repeats']}); the "
                    f"medians of the {len(pl['layers'])} rows add up to {listed:.2f} ms." + check, "",
                    render_markdown(Content(columns=KIND_COLUMNS, rows=pl["by_kind"])), "",
                    render_markdown(Content(columns=SLOWEST_COLUMNS, title=f"Slowest {top} layers:",
                                            rows=sorted(pl["layers"], key=lambda r: -r["time_ms"])[:top])), ""]
    return "\n".join(out)


def write_all(doc: dict, out_dir: str, stem: str, plots: bool = True, plot_model: str | None = None) -> dict:
    """Write ``<stem>.json/.md/.csv``, ``<stem>_layers.csv``,
    ``<stem>_machine.txt`` and (matplotlib permitting) PNG plots under
    ``out_dir``. Returns ``{kind: path}``; a skipped plot is reported under
    ``plots_skipped``."""
    os.makedirs(out_dir, exist_ok=True)
    files = {}

    def put(kind, name, text):
        path = os.path.join(out_dir, name)
        write_text(path, text, newline="")
        files[kind] = path

    put("json", f"{stem}.json", to_json(doc))
    put("csv", f"{stem}.csv", results_csv(doc))
    if doc.get("per_layer"):
        put("layers_csv", f"{stem}_layers.csv", layers_csv(doc))
    put("markdown", f"{stem}.md", to_markdown(doc))
    put("machine", f"{stem}_machine.txt", machine_text(doc))
    if plots:
        made, skipped = write_plots(doc, out_dir, stem, plot_model=plot_model)
        files.update(made)
        if skipped:
            files["plots_skipped"] = skipped
    return files
