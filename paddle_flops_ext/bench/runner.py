"""The sweep: models x batch sizes x input sizes x modes, written as JSON,
CSV, Markdown and PNG.

JSON schema (``bench_<device>.json``, ``"schema": "paddle_flops_ext.bench/1"``)::

    {
      "schema": "paddle_flops_ext.bench/1",
      "created": "2025-01-01T12:00:00+00:00",        # UTC, ISO 8601
      "command": "paddle-flops bench ...",           # as given, when known
      "machine": {cpu_model, simd, cpu_count, memory_gib, os, python, paddle,
                  paddle_commit, compiled_with_cuda, compiled_with_onednn,
                  device, gpu_name?, threads: {threads, applied_via, cpu_count,
                  available_cores, OMP_NUM_THREADS},
                  load_average_start, load_average_end},
      "config": {models, batch_sizes, input_sizes, seq_lens, modes, repeats,
                 warmup, per_layer, per_layer_repeats, quick, noise_threshold},
      "peak": {matmul_n, matmul_gflops_peak, matmul_gflops_median, matmul_noisy,
               matmul_backend ("eager"|"inference"),
               matmul_backends: {eager|inference: {gflops_peak, gflops_median, noisy}},
               copy_mib, copy_gbps_peak, copy_gbps_median, copy_noisy,
               ridge_flops_per_byte, repeats, notes,
               measurements: [the same fields, measured at the start and at
                              the end of the sweep; the top level keeps the
                              best of them]},
      "results": [                                   # one per model x batch x size x mode
        {model, source ("zoo"|"user"), batch_size, input_size, input_shapes,
         mode, status ("ran"|"unavailable"|"failed"), reason, notes, setup_s,
         macs, flops, paddle_flops, params, uncounted_ops,
         latency_ms: {n, median, mean, std, min, max, p10, p90, spread, noisy} | null,
         noisy, throughput_per_s, achieved_gflops, frac_peak,
         max_abs_diff_vs_eager, load_1min (1-minute load average when the
         mode was timed)}
      ],
      "per_layer": [                                 # eager, when per_layer is on
        {model, batch_size, input_size, total_ms, repeats,
         layers: [{name, type, kind, leaf, calls, macs, flops, params, bytes,
                   intensity, bound ("compute"|"memory"|null), time_ms,
                   time_share, flops_share, achieved_gflops, frac_peak,
                   attainable_gflops, roofline_ms}],
         by_kind: [{kind, layers, flops, bytes, time_ms, intensity, bound,
                    time_share, flops_share, achieved_gflops, frac_peak}]}
      ],
      "notes": [str]
    }

Units: ``*_ms`` milliseconds, ``*_gflops`` 1e9 FLOP/s, ``*_gbps`` 1e9 B/s,
``bytes`` bytes, ``intensity`` FLOPs per byte, ``*_share``/``frac_*``
fractions in [0, 1]. ``flops`` follows this project's convention (2 per MAC
plus the non-MAC work); ``achieved_gflops = flops / median latency``;
``frac_peak = achieved_gflops / peak.matmul_gflops_peak`` (above 1 when a
kernel does less arithmetic than the count, e.g. Winograd convolution, or
when the peak run was slowed by other load);
``throughput_per_s = batch_size / median latency``.
"""
from __future__ import annotations

import datetime as _dt
import gc
import sys
import time
from dataclasses import asdict, dataclass, field

from . import modes as modes_mod
from .layers import time_layers
from .machine import describe_machine, load_average
from .peak import combine_peaks, measure_peak
from .roofline import apply_peak, per_layer_rows, summarize_kinds
from .timing import NOISE_THRESHOLD, device_sync, set_threads, time_callable
from .zoo import make_inputs, resolve

SCHEMA = "paddle_flops_ext.bench/1"


@dataclass
class BenchConfig:
    models: list | None = None                 # None: the embedded zoo
    batch_sizes: list = field(default_factory=lambda: [1])
    input_sizes: list = field(default_factory=lambda: [224])
    seq_lens: list = field(default_factory=lambda: [128])
    modes: list = field(default_factory=lambda: ["eager", "to_static", "inference"])
    repeats: int = 10
    warmup: int = 3
    threads: int | None = None                 # None: every available core
    device: str = "auto"                       # auto | cpu | gpu | gpu:N
    per_layer: bool = True
    per_layer_repeats: int = 5
    quick: bool = False
    out: str | None = "benchmarks/results"
    tag: str | None = None                     # file name stem; default bench_<cpu|gpu>
    plots: bool = True
    sample_shape: list | None = None           # user models: per-sample input shape
    dtype: str = "float32"
    noise_threshold: float = NOISE_THRESHOLD
    progress: bool = True
    command: str | None = None


class Progress:
    """A text progress bar on stderr (a line per step when not a terminal)."""

    def __init__(self, total: int, enabled: bool = True, stream=None):
        self.total = max(total, 1)
        self.done = 0
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def step(self, label: str, advance: int = 1) -> None:
        self.done = min(self.done + advance, self.total)
        self.show(label)

    def show(self, label: str) -> None:
        if not self.enabled:
            return
        width = 24
        filled = int(width * self.done / self.total)
        elapsed = time.perf_counter() - self.start
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                f"{int(elapsed) // 60:02d}:{int(elapsed) % 60:02d} {label}")
        if self.tty:
            self.stream.write("\r" + line[:150].ljust(150))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def resolve_device(device: str) -> str:
    import paddle
    if device == "auto":
        if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
            return "gpu:0"
        return "cpu"
    if device == "gpu":
        return "gpu:0"
    return device


def _counts(model, inputs) -> dict:
    from ..api import profile
    try:
        r = profile(model, inputs=tuple(inputs))
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"[:300], "result": None}
    return {"result": r, "macs": r.macs, "flops": r.flops, "paddle_flops": r.paddle_flops,
            "params": r.params, "uncounted_ops": [u["name"] for u in r.uncounted]}


def _row(entry, batch, size, inputs, mode, counts) -> dict:
    return {
        "model": entry.name, "source": entry.source, "batch_size": batch, "input_size": size,
        "input_shapes": [list(t.shape) for t in inputs] if inputs else None,
        "mode": mode, "status": "failed", "reason": "", "notes": [], "setup_s": None,
        "macs": counts.get("macs"), "flops": counts.get("flops"),
        "paddle_flops": counts.get("paddle_flops"), "params": counts.get("params"),
        "uncounted_ops": counts.get("uncounted_ops", []),
        "latency_ms": None, "noisy": None, "throughput_per_s": None,
        "achieved_gflops": None, "frac_peak": None, "max_abs_diff_vs_eager": None,
        "load_1min": None,
    }


def run_benchmark(config: BenchConfig) -> dict:
    """Run the sweep of ``config``; write the files when ``config.out`` is set;
    return the JSON document (see the module docstring)."""
    import paddle

    cfg = config
    if cfg.quick:
        cfg.repeats = min(cfg.repeats, 3)
        cfg.warmup = min(cfg.warmup, 1)
        cfg.per_layer_repeats = min(cfg.per_layer_repeats, 2)
    unknown = [m for m in cfg.modes if m not in modes_mod.MODES]
    if unknown:
        raise ValueError(f"unknown mode(s) {unknown}; choose from {', '.join(modes_mod.MODES)}")
    device = resolve_device(cfg.device)
    paddle.set_device(device)
    sync = device_sync(device)
    threads = set_threads(cfg.threads)
    machine = describe_machine(device, threads)
    entries, notes = resolve(cfg.models, cfg.sample_shape, cfg.dtype)

    tasks = []
    for e in entries:
        sizes = cfg.seq_lens if e.input_kind == "tokens" else (
            [None] if e.input_kind == "custom" else cfg.input_sizes)
        for b in cfg.batch_sizes:
            for s in sizes:
                tasks.append((e, int(b), s))
    steps = len(tasks) * (len(cfg.modes) + (1 if cfg.per_layer else 0) + 1) + 2
    bar = Progress(steps, cfg.progress)
    bar.show("measuring peak matmul and copy")
    peak = measure_peak(device, quick=cfg.quick, sync=sync, threads=threads["threads"])
    bar.step(f"peak {peak['matmul_gflops_peak']:.0f} GFLOP/s, {peak['copy_gbps_peak']:.1f} GB/s")

    results, per_layer = [], []
    for entry, batch, size in tasks:
        label = f"{entry.name} b{batch}" + (f" {size}" if size else "")
        bar.show(f"{label}: counting")
        try:
            model = entry.build(size)
            model.eval()
            inputs = make_inputs(entry, batch, size)
        except Exception as e:
            for m in cfg.modes:
                row = _row(entry, batch, size, None, m, {})
                row["reason"] = f"building the model or its input failed: {type(e).__name__}: {e}"[:300]
                results.append(row)
            bar.step(f"{label}: build failed", 1 + len(cfg.modes) + (1 if cfg.per_layer else 0))
            continue
        counts = _counts(model, inputs)
        if counts.get("error"):
            notes.append(f"{label}: counting failed ({counts['error']}); latency is still measured")
        with paddle.no_grad():
            reference = modes_mod.output_array(model(*inputs))
        bar.step(f"{label}: counted")
        for m in cfg.modes:
            bar.show(f"{label}: {m}")
            row = _row(entry, batch, size, inputs, m, counts)
            set_threads(threads["threads"])   # a predictor resets the eager thread count
            pm = modes_mod.prepare_mode(m, model, inputs, device=device, threads=threads["threads"],
                                        reference=reference)
            row["load_1min"] = (load_average() or [None])[0]
            row.update(status=pm.status, reason=pm.reason, notes=pm.notes,
                       setup_s=round(pm.setup_seconds, 3), max_abs_diff_vs_eager=pm.max_abs_diff)
            if pm.status == "ran":
                try:
                    _, st = time_callable(pm.fn, warmup=cfg.warmup, repeats=cfg.repeats, sync=sync,
                                          noise_threshold=cfg.noise_threshold)
                    _fill_latency(row, st, batch, counts, peak)
                except Exception as e:
                    row.update(status="failed", reason=f"timing failed: {type(e).__name__}: {e}"[:300])
            pm.close()
            results.append(row)
            bar.step(f"{label}: {m} {_short(row)}")
        if cfg.per_layer:
            bar.show(f"{label}: per-layer")
            set_threads(threads["threads"])
            entry_pl = _per_layer(model, inputs, counts, peak, cfg, sync)
            if entry_pl is not None:
                per_layer.append({"model": entry.name, "batch_size": batch, "input_size": size, **entry_pl})
            bar.step(f"{label}: per-layer done")
        del model, inputs, reference, counts
        gc.collect()
    bar.show("measuring peak again")
    peak_end = measure_peak(device, quick=cfg.quick, sync=sync, threads=threads["threads"])
    bar.step("peak measured again")
    bar.close()
    machine["load_average_end"] = load_average()
    peak_start = peak
    peak = combine_peaks(peak_start, peak_end)
    if peak["matmul_gflops_peak"] != peak_start["matmul_gflops_peak"]:
        for row in results:
            if row.get("achieved_gflops") is not None:
                row["frac_peak"] = row["achieved_gflops"] / peak["matmul_gflops_peak"]
    for pl in per_layer:   # the roofline columns depend on the roofs
        apply_peak(pl["layers"], peak)
        pl["by_kind"] = summarize_kinds(pl["layers"], peak)

    doc = {
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "command": cfg.command,
        "machine": machine,
        "config": {k: v for k, v in asdict(cfg).items()
                   if k in ("models", "batch_sizes", "input_sizes", "seq_lens", "modes", "repeats",
                            "warmup", "per_layer", "per_layer_repeats", "quick", "noise_threshold")},
        "peak": peak,
        "results": results,
        "per_layer": per_layer,
        "notes": notes + _gpu_notes(device),
    }
    if cfg.out:
        from .report import write_all
        doc["files"] = write_all(doc, cfg.out, cfg.tag or f"bench_{'gpu' if device.startswith('gpu') else 'cpu'}",
                                 plots=cfg.plots)
    return doc


def _gpu_notes(device: str) -> list:
    if device.startswith("gpu"):
        return []
    return ["CPU run. The GPU path (paddle.device.synchronize, predictor enable_use_gpu, TensorRT) "
            "is selected when Paddle is built with CUDA and a GPU is visible; it was not exercised here."]


def _short(row) -> str:
    if row["status"] != "ran":
        return row["status"]
    return f"{row['latency_ms']['median']:.2f} ms"


def _fill_latency(row, st, batch, counts, peak) -> None:
    med = st.median
    row["latency_ms"] = st.to_dict(1e3)
    row["noisy"] = st.noisy
    row["throughput_per_s"] = batch / med if med > 0 else None
    if counts.get("flops") is not None and med > 0:
        achieved = counts["flops"] / med
        row["achieved_gflops"] = achieved / 1e9
        row["frac_peak"] = achieved / (peak["matmul_gflops_peak"] * 1e9)


def _per_layer(model, inputs, counts, peak, cfg, sync) -> dict | None:
    result = counts.get("result")
    if result is None:
        return None
    t = time_layers(model, inputs, warmup=1, repeats=cfg.per_layer_repeats, sync=sync)
    dtype_size = 4
    for tensor in inputs:
        if "float" in str(tensor.dtype):
            dtype_size = tensor.element_size() if hasattr(tensor, "element_size") else 4
            break
    rows = per_layer_rows(result, t, peak, model=model, dtype_size=dtype_size)
    return {"total_ms": t["total"] * 1e3, "repeats": t["repeats"], "layers": rows,
            "by_kind": summarize_kinds(rows, peak)}


__all__ = ["BenchConfig", "run_benchmark", "SCHEMA", "Progress"]
