"""The sweep: models x batch sizes x input sizes x modes, written as JSON,
CSV, Markdown and PNG.

JSON schema (``bench_<device>.json``, ``"schema": "paddle_flops_ext.bench/2"``)::

    {
      "schema": "paddle_flops_ext.bench/2",
      "complete": bool,                              # false in the files written after each model
      "created": "2025-01-01T12:00:00+00:00",        # UTC, ISO 8601
      "command": "paddle-flops bench ...",           # as given, when known
      "machine": {cpu_model, simd, cpu_count, memory_gib, os, python, paddle,
                  paddle_commit, compiled_with_cuda, compiled_with_onednn,
                  device, gpu_name?, threads: {threads, applied_via, cpu_count,
                  available_cores, OMP_NUM_THREADS},
                  caches: [{level, size_bytes, shared_by}],
                  malloc: {applied, mmap_threshold, trim_threshold, reason?},
                  load_average_start, load_average_end},
      "config": {models, batch_sizes, input_sizes, seq_lens, modes, repeats
                 (null: adaptive), warmup, min_repeats, max_repeats, budget_s,
                 ci_target, per_layer, per_layer_repeats, quick, noise_threshold,
                 load_threshold, load_wait_s, rank, world, timer},
      "peak": {compute: {fp32|bf16|int8 (CPU) or fp32|tf32|fp16|bf16|int8 (GPU):
                         {status ("ran"|"unavailable"), reason?, gflops_peak,
                          gflops_median, backend, backends?}},
               bandwidth: [{level ("L1".."DRAM"), working_set_bytes,
                            capacity_bytes (null for DRAM), gbps_peak,
                            gbps_median, method}],
               matmul_n, matmul_gflops_peak, matmul_gflops_median, matmul_noisy,
               matmul_backend ("eager"|"inference"),
               matmul_backends: {eager|inference: {gflops_peak, gflops_median, noisy}},
               copy_mib, copy_gbps_peak, copy_gbps_median, copy_noisy,
               ridge_flops_per_byte, repeats, notes,
               measurements: [the same fields, measured at the start and at
                              the end of the sweep; the top level keeps the
                              best of them]},
      "results": [                                   # one per model x batch x size x mode
        {model, source ("zoo"|"user"), batch_size, input_size, input_shapes,
         task_index, mode_index, rank?, mode, precision, weight_bytes,
         status ("ran"|"unavailable"|"failed"), reason, notes, setup_s,
         macs, flops, paddle_flops, params, uncounted_ops,
         latency_ms: {n, median, mean, std, min, max, p10, p90, spread, noisy,
                      ci_low, ci_high, ci_rel, confidence, converged, stop} | null,
         samples_ms: [every timed call],
         between_process?: {medians_ms, spread},      # --processes N
         load_check: {busy_fraction, waited_s, busy, load_1min, cpu_pressure_avg10},
         parallelism (process CPU seconds per wall second while timed),
         noisy, throughput_per_s, achieved_gflops, frac_peak,
         max_abs_diff_vs_eager, load_1min (1-minute load average when the
         mode was timed)}
      ],
      "per_layer": [                                 # eager, when per_layer is on
        {model, batch_size, input_size, task_index, total_ms (hooked pass),
         unhooked_ms (pass without hooks), sum_exclusive_raw_ms,
         sum_exclusive_ms (after subtracting the hooks' overhead), layer_calls,
         hook_overhead_us: {a, b, per_call}, repeats,
         layers: [{name, type, kind, leaf, calls, macs, flops, params, bytes,
                   intensity, roof_level, roof_gbps, bound
                   ("compute"|"memory"|null), time_ms (corrected),
                   time_raw_ms, time_share, flops_share, achieved_gflops,
                   frac_peak, attainable_gflops, roofline_ms}],
         by_kind: [{kind, layers, flops, bytes, time_ms, intensity, bound,
                    memory_bound_time_share, time_share, flops_share,
                    achieved_gflops, frac_peak}]}
      ],
      "notes": [str],
      "ranks"?: [{rank, device, machine, peak, tasks}],  # distributed sweeps
      "processes"?: N                                      # --processes N
    }

Units: ``*_ms`` milliseconds, ``*_gflops`` 1e9 FLOP/s, ``*_gbps`` 1e9 B/s,
``bytes`` bytes, ``intensity`` FLOPs per byte, ``*_share``/``frac_*``
fractions in [0, 1]. ``flops`` follows this project's convention (2 per MAC
plus the non-MAC work); ``achieved_gflops = flops / median latency``;
``frac_peak = achieved_gflops /`` the matmul peak at the mode's precision
(``peak.compute[precision].gflops_peak``; the fp32 peak when that precision
was not measured; above 1 when a kernel does less arithmetic than the count,
e.g. Winograd convolution, or when the peak run was slowed by other load);
``throughput_per_s = batch_size / median latency``; ``weight_bytes =
params x bytes per element`` at the mode's precision.

Order of work: arguments are validated (:func:`validate`) before anything
runs; the peaks are measured; then, for each model (its share of the grid
under ``paddle.distributed.launch``, see :mod:`.merge`): a load check, the
model is built and counted, every mode is prepared, the modes are timed
interleaved and adaptively (:func:`.timing.time_interleaved`), the
per-layer pass runs, and the results so far are written. A model that fails
anywhere gets ``failed`` rows with the message and the sweep goes on.
"""
from __future__ import annotations

import datetime as _dt
import gc
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field

from . import modes as modes_mod
from .layers import correct_overhead, hook_overhead, time_layers
from .machine import describe_machine, load_average, load_check
from .merge import grid, merge_ranks, shard
from .report import to_json, write_all
from .peak import combine_peaks, measure_peak
from ..estimates.roofline import apply_peak, per_layer_rows, summarize_kinds
from .timing import (CI_TARGET, NOISE_THRESHOLD, Adaptive, device_sync, make_timer, pin_malloc,
                     set_threads, thread_restorer, time_interleaved)
from .zoo import make_inputs, resolve
from ..errors import ConfigError
from ..files import check_stem, write_text
from ..quiet import quiet

SCHEMA = "paddle_flops_ext.bench/2"
CONFIG_KEYS = ("models", "batch_sizes", "input_sizes", "seq_lens", "modes", "repeats", "warmup",
               "min_repeats", "max_repeats", "budget_s", "ci_target", "per_layer", "per_layer_repeats",
               "quick", "noise_threshold", "load_threshold", "load_wait_s", "pin_malloc", "rank", "world")


def default_out_dir(now=None) -> str:
    """``paddle_flops_bench/<UTC timestamp>``: a new directory under the
    current one, so a run can neither shadow the package nor overwrite
    committed results."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return os.path.join("paddle_flops_bench", now.strftime("%Y%m%d-%H%M%S"))


@dataclass
class BenchConfig:
    models: list | None = None                 # None: the embedded zoo
    batch_sizes: list = field(default_factory=lambda: [1])
    input_sizes: list = field(default_factory=lambda: [224])
    seq_lens: list = field(default_factory=lambda: [128])
    modes: list = field(default_factory=lambda: list(modes_mod.DEFAULT_MODES))
    repeats: int | None = None                 # fixed count; None: adaptive
    warmup: int = 3
    min_repeats: int = 10                      # adaptive: at least this many samples ...
    max_repeats: int = 1000
    budget_s: float = 10.0                     # ... and at most this many timed seconds per mode
    ci_target: float = CI_TARGET               # stop when the median's 95 % CI is within +-2 %
    threads: int | None = None                 # None: every available core
    device: str = "auto"                       # auto | cpu | gpu | gpu:N
    per_layer: bool = True
    per_layer_repeats: int = 5
    quick: bool = False
    out: str | None = field(default_factory=default_out_dir)   # None: write nothing
    tag: str | None = None                     # file name stem; default bench_<cpu|gpu>
    plots: bool = True
    plot_model: str | None = None              # per-layer roofline of this model only
    sample_shape: list | None = None           # user models: per-sample input shape
    dtype: str = "float32"
    noise_threshold: float = NOISE_THRESHOLD
    load_threshold: float = 0.15               # other processes' share of the CPUs
    load_wait_s: float = 10.0                  # wait at most this long for it (0: just record)
    progress: bool = True
    quiet: bool = True                         # keep Paddle's warnings / C++ prints off the terminal
    pin_malloc: bool = True                    # fix glibc's mmap/trim thresholds (see timing.pin_malloc)
    command: str | None = None
    rank: int = 0                              # paddle.distributed.launch rank ...
    world: int = 1                             # ... and world size
    merge_timeout_s: float = 6 * 3600          # rank 0 waits this long for the other ranks


def _check(ok: bool, flag: str, msg: str) -> None:
    if not ok:
        raise ConfigError(f"{flag}: {msg}")


def validate(cfg: BenchConfig, check_out: bool = True) -> None:
    """Raise :class:`ConfigError` naming the flag for any bad setting; with
    ``check_out`` create ``cfg.out`` and make sure a file can be written
    there. Also resolves the model names (no model is built)."""
    _check(cfg.models is None or (len(cfg.models) > 0 and all(isinstance(m, str) and m.strip()
                                                                 for m in cfg.models)),
           "--models", "give at least one non-empty model name (comma-separated)")
    for flag, vals in (("--batch-sizes", cfg.batch_sizes), ("--input-sizes", cfg.input_sizes),
                       ("--seq-lens", cfg.seq_lens)):
        _check(bool(vals) and all(int(v) >= 1 for v in vals), flag, f"expected positive integers, got {vals}")
    unknown = [m for m in cfg.modes if m not in modes_mod.MODES]
    _check(bool(cfg.modes) and not unknown, "--modes",
           f"unknown mode(s) {unknown or cfg.modes}; choose from {', '.join(modes_mod.MODES)}")
    _check(cfg.repeats is None or cfg.repeats >= 1, "--repeats", f"must be >= 1 (got {cfg.repeats})")
    _check(cfg.warmup >= 0, "--warmup", f"must be >= 0 (got {cfg.warmup})")
    _check(cfg.min_repeats >= 6, "--min-repeats",
           f"must be >= 6, the fewest samples a 95 % interval of the median needs (got {cfg.min_repeats})")
    _check(cfg.max_repeats >= cfg.min_repeats, "--max-repeats", "must be >= --min-repeats")
    _check(cfg.budget_s > 0, "--budget", f"must be > 0 seconds (got {cfg.budget_s})")
    _check(0 < cfg.ci_target < 1, "--ci-target", f"must be in (0, 1) (got {cfg.ci_target})")
    _check(cfg.threads is None or cfg.threads >= 1, "--threads", f"must be >= 1 (got {cfg.threads})")
    _check(cfg.per_layer_repeats >= 1, "--per-layer-repeats", f"must be >= 1 (got {cfg.per_layer_repeats})")
    _check(cfg.noise_threshold > 0, "--noise-threshold", f"must be > 0 (got {cfg.noise_threshold})")
    _check(0 <= cfg.load_threshold <= 1, "--load-threshold", f"must be in [0, 1] (got {cfg.load_threshold})")
    _check(cfg.load_wait_s >= 0, "--load-wait", f"must be >= 0 seconds (got {cfg.load_wait_s})")
    _check(0 <= cfg.rank < cfg.world, "rank", f"rank {cfg.rank} is not in a world of {cfg.world}")
    if cfg.tag is not None:
        try:
            check_stem(cfg.tag, "--tag")
        except ValueError as e:
            raise ConfigError(str(e)) from None
    try:
        resolve(cfg.models, cfg.sample_shape, cfg.dtype)
    except ValueError as e:
        raise ConfigError(f"--models: {e}") from None
    if cfg.plot_model is not None and cfg.models is not None:
        _check(cfg.plot_model in cfg.models, "--plot-model", f"{cfg.plot_model!r} is not among --models")
    if cfg.out and check_out:
        check_writable(cfg.out)


def check_writable(out: str) -> None:
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, f".pfe_write_test_{os.getpid()}")
        with open(probe, "w") as f:
            f.write("")
        os.remove(probe)
    except OSError as e:
        raise ConfigError(f"--out {out}: not writable ({e.strerror or e})") from None


def resolve_device(device: str, compiled_with_cuda: bool | None = None,
                   gpu_count: int | None = None) -> str:
    """``auto`` -> ``gpu:0`` when Paddle has CUDA and sees a GPU, else ``cpu``;
    a GPU request a build cannot serve is a :class:`ConfigError` that says so."""
    if compiled_with_cuda is None or gpu_count is None:
        import paddle
        compiled_with_cuda = bool(paddle.device.is_compiled_with_cuda())
        gpu_count = paddle.device.cuda.device_count() if compiled_with_cuda else 0
    d = str(device).strip().lower()
    if d == "auto":
        return "gpu:0" if compiled_with_cuda and gpu_count > 0 else "cpu"
    if d == "cpu":
        return "cpu"
    m = re.fullmatch(r"gpu(?::(\d+))?", d)
    _check(m is not None, "--device", f"expected auto, cpu, gpu or gpu:N, got {device!r}")
    _check(compiled_with_cuda, "--device",
           f"{device!r} asks for a GPU but this PaddlePaddle build has no CUDA support "
           f"(paddle.device.is_compiled_with_cuda() is False); use --device cpu or install paddlepaddle-gpu")
    idx = int(m.group(1) or 0)
    _check(idx < gpu_count, "--device", f"{device!r}: Paddle sees {gpu_count} GPU(s)")
    return f"gpu:{idx}"


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


def _counts(model, inputs) -> dict:
    from ..api import profile  # local: Paddle is imported quietly (quiet()) before the first profile
    try:
        r = profile(model, inputs=tuple(inputs))
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"[:300], "result": None}
    return {"result": r, "macs": r.macs, "flops": r.flops, "paddle_flops": r.paddle_flops,
            "params": r.params, "uncounted_ops": [u["name"] for u in r.uncounted]}


def _row(task, mode_index, inputs, mode, counts) -> dict:
    entry = task["entry"]
    precision, elem_bytes = modes_mod.PRECISION.get(mode, ("fp32", 4))
    params = counts.get("params")
    return {
        "model": entry.name, "source": entry.source, "batch_size": task["batch_size"],
        "input_size": task["input_size"], "task_index": task["index"], "mode_index": mode_index,
        "input_shapes": [list(t.shape) for t in inputs] if inputs else None,
        "mode": mode, "precision": precision,
        "weight_bytes": params * elem_bytes if params is not None else None,
        "status": "failed", "reason": "", "notes": [], "setup_s": None,
        "macs": counts.get("macs"), "flops": counts.get("flops"),
        "paddle_flops": counts.get("paddle_flops"), "params": params,
        "uncounted_ops": counts.get("uncounted_ops", []),
        "latency_ms": None, "samples_ms": None, "noisy": None, "throughput_per_s": None,
        "achieved_gflops": None, "frac_peak": None, "max_abs_diff_vs_eager": None,
        "load_check": None, "load_1min": None, "parallelism": None,
    }


def _error(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    return f"{type(e).__name__}: {msg[0] if msg else ''}"[:300]


class Sweep:
    """State of one run; :meth:`run_task` does one model x batch x size."""

    def __init__(self, cfg: BenchConfig, device: str, threads: dict, peak: dict, bar: Progress):
        self.cfg, self.device, self.threads, self.peak, self.bar = cfg, device, threads, peak, bar
        self.timer = make_timer(device)
        self.notes: list[str] = []
        self._overhead = None
        if cfg.repeats:
            self.rule = Adaptive.fixed(cfg.repeats, cfg.ci_target)
        else:
            self.rule = Adaptive(target=cfg.ci_target, min_repeats=cfg.min_repeats,
                                 max_repeats=cfg.max_repeats, budget_s=cfg.budget_s)

    def failed_rows(self, task, message, done=()) -> list:
        rows = []
        for i, m in enumerate(self.cfg.modes):
            if m in done:
                continue
            row = _row(task, i, None, m, {})
            row["reason"] = message
            rows.append(row)
        return rows

    def run_task(self, task) -> tuple[list, dict | None]:
        """Rows for every mode of ``task`` (failed ones with the reason) and
        its per-layer entry; never raises for a failing model."""
        import paddle
        cfg, entry = self.cfg, task["entry"]
        label = f"{entry.name} b{task['batch_size']}" + (f" {task['input_size']}" if task["input_size"] else "")
        load = None
        if cfg.load_wait_s > 0 or cfg.load_threshold < 1:
            self.bar.show(f"{label}: load check")
            load = load_check(cfg.load_threshold, cfg.load_wait_s)
        self.bar.show(f"{label}: building and counting")
        try:
            with quiet(cfg.quiet):
                model = entry.build(task["input_size"])
                model.eval()
                inputs = make_inputs(entry, task["batch_size"], task["input_size"])
        except Exception as e:
            return self.failed_rows(task, f"building the model or its input failed: {_error(e)}"), None
        with quiet(cfg.quiet):
            counts = _counts(model, inputs)
        if counts.get("error"):
            self.notes.append(f"{label}: counting failed ({counts['error']}); latency is still measured")
        try:
            with quiet(cfg.quiet), paddle.no_grad():
                reference = modes_mod.output_array(model(*inputs))
        except Exception as e:
            return self.failed_rows(task, f"the model's forward pass raised {_error(e)}"), None
        self.bar.step(f"{label}: counted")
        rows, prepared = [], {}
        restore = thread_restorer(self.threads["threads"])
        try:
            for i, m in enumerate(cfg.modes):
                self.bar.show(f"{label}: preparing {m}")
                restore()
                with quiet(cfg.quiet):
                    pm = modes_mod.prepare_mode(m, model, inputs, device=self.device,
                                                threads=self.threads["threads"], reference=reference)
                row = _row(task, i, inputs, m, counts)
                row.update(status=pm.status, reason=pm.reason, notes=pm.notes, load_check=load,
                           load_1min=(load or {}).get("load_1min"),
                           setup_s=round(pm.setup_seconds, 3), max_abs_diff_vs_eager=pm.max_abs_diff)
                rows.append(row)
                if pm.status == "ran":
                    prepared[m] = pm
            self.bar.show(f"{label}: timing {', '.join(prepared)} interleaved")
            with quiet(cfg.quiet):
                meas = time_interleaved({m: pm.fn for m, pm in prepared.items()}, warmup=cfg.warmup,
                                        rule=self.rule, timer=self.timer,
                                        before={m: restore for m in prepared if m in ("eager", "to_static")},
                                        noise_threshold=cfg.noise_threshold)
        finally:
            for pm in prepared.values():
                pm.close()
        for row in rows:
            me = meas.get(row["mode"]) if prepared else None
            if me is None:
                continue
            if me.error:
                row.update(status="failed", reason=f"timing failed: {me.error}")
            if me.stats is not None and not me.error:
                fill_latency(row, me.stats, me.samples, counts, self.peak)
                row["parallelism"] = round(me.parallelism, 3) if me.parallelism is not None else None
        self.bar.step(f"{label}: " + ", ".join(f"{r['mode']} {_short(r)}" for r in rows), len(cfg.modes))
        pl = None
        if cfg.per_layer and counts.get("result") is not None:
            self.bar.show(f"{label}: per-layer")
            try:
                restore()
                with quiet(cfg.quiet):
                    pl = {"model": entry.name, "batch_size": task["batch_size"], "input_size": task["input_size"],
                          "task_index": task["index"], **self.per_layer(model, inputs, counts)}
            except Exception as e:
                self.notes.append(f"{label}: per-layer timing failed: {_error(e)}")
        if cfg.per_layer:
            self.bar.step(f"{label}: per-layer done")
        del model, inputs, reference, counts
        gc.collect()
        return rows, pl

    def overhead(self) -> dict:
        if self._overhead is None:
            sync = getattr(self.timer, "sync", None)
            self._overhead = hook_overhead(repeats=max(5, self.cfg.per_layer_repeats * 3), sync=sync)
        return self._overhead

    def per_layer(self, model, inputs, counts) -> dict:
        sync = device_sync(self.device)
        t = time_layers(model, inputs, warmup=1, repeats=self.cfg.per_layer_repeats, sync=sync)
        ov = self.overhead()
        corrected = correct_overhead(t, ov)
        raw_sum = sum(v["exclusive"] for v in t["layers"].values())
        for name, v in t["layers"].items():
            v["exclusive_raw"], v["exclusive"] = v["exclusive"], corrected[name]
        dtype_size = 4
        for tensor in inputs:
            if "float" in str(tensor.dtype):
                dtype_size = tensor.element_size() if hasattr(tensor, "element_size") else 4
                break
        rows = per_layer_rows(counts["result"], t, self.peak, model=model, dtype_size=dtype_size)
        return {"total_ms": t["total"] * 1e3, "unhooked_ms": t["unhooked"] * 1e3,
                "sum_exclusive_raw_ms": raw_sum * 1e3,
                "sum_exclusive_ms": sum(corrected.values()) * 1e3,
                "layer_calls": sum(v["calls"] for v in t["layers"].values()),
                "hook_overhead_us": {k: ov[k] * 1e6 for k in ("a", "b", "per_call")},
                "repeats": t["repeats"], "layers": rows, "by_kind": summarize_kinds(rows, self.peak)}


def run_benchmark(config: BenchConfig) -> dict:
    """Run the sweep of ``config`` (this rank's share of it); write the files
    after each model when ``config.out`` is set; return the JSON document
    (see the module docstring). Raises :class:`ConfigError` for bad
    settings before doing any work."""
    cfg = config
    if cfg.quick:
        cfg.warmup = min(cfg.warmup, 1)
        cfg.min_repeats = min(cfg.min_repeats, 6)
        cfg.budget_s = min(cfg.budget_s, 1.0)
        cfg.per_layer_repeats = min(cfg.per_layer_repeats, 2)
        cfg.load_wait_s = min(cfg.load_wait_s, 1.0)    # a busy machine is reported, not waited out
        if cfg.repeats:
            cfg.repeats = min(cfg.repeats, 3)
    validate(cfg)
    malloc = pin_malloc() if cfg.pin_malloc else {"applied": False, "reason": "--no-pin-malloc"}
    with quiet(cfg.quiet):
        import paddle
    device = resolve_device(cfg.device)
    paddle.set_device(device)
    threads = set_threads(cfg.threads)
    machine = describe_machine(device, threads)
    machine["malloc"] = malloc
    entries, notes = resolve(cfg.models, cfg.sample_shape, cfg.dtype)
    tasks = shard(grid(entries, cfg.batch_sizes, cfg.input_sizes, cfg.seq_lens), cfg.rank, cfg.world)
    stem = cfg.tag or f"bench_{'gpu' if device.startswith('gpu') else 'cpu'}"
    part_stem = stem if cfg.world == 1 else f"{stem}.rank{cfg.rank}"

    steps = len(tasks) * (len(cfg.modes) + (1 if cfg.per_layer else 0) + 1) + 2
    bar = Progress(steps, cfg.progress)
    bar.show("measuring peaks (matmul per precision, copy bandwidth per cache level)")
    timer = make_timer(device)
    with quiet(cfg.quiet):
        peak = measure_peak(device, quick=cfg.quick, timer=timer, threads=threads["threads"])
    bar.step(f"peak {peak['matmul_gflops_peak']:.0f} GFLOP/s, {peak['copy_gbps_peak']:.1f} GB/s DRAM")
    sweep = Sweep(cfg, device, threads, peak, bar)
    machine["timer"] = sweep.timer.kind
    doc = {
        "schema": SCHEMA, "complete": False,
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "command": cfg.command, "machine": machine,
        "config": {k: v for k, v in asdict(cfg).items() if k in CONFIG_KEYS},
        "peak": peak, "results": [], "per_layer": [], "notes": notes,
    }
    for task in tasks:
        try:
            rows, pl = sweep.run_task(task)
        except Exception as e:   # anything run_task did not foresee: record it, go on
            rows, pl = sweep.failed_rows(task, f"unexpected error: {_error(e)}"), None
        doc["results"] += rows
        if pl is not None:
            doc["per_layer"].append(pl)
        if cfg.out:
            _checkpoint(doc, cfg, part_stem)
    peaks = [peak]
    if not cfg.quick:      # the citable run measures the peaks again at the end and keeps the best
        bar.show("measuring peaks again")
        with quiet(cfg.quiet):
            peaks.append(measure_peak(device, quick=cfg.quick, timer=timer, threads=threads["threads"]))
    bar.step("peaks measured again" if len(peaks) > 1 else "done")
    bar.close()
    machine["load_average_end"] = load_average()
    doc["peak"] = peak = combine_peaks(*peaks)
    reapply_peak(doc)
    doc["notes"] = notes + sweep.notes + _gpu_notes(device)
    doc["complete"] = True
    if cfg.world > 1:
        if cfg.out:
            _checkpoint(doc, cfg, part_stem)
        if cfg.rank != 0:
            return doc
        doc = wait_and_merge(cfg, stem, doc)
    if cfg.out:
        doc["files"] = _write(doc, cfg, stem, plots=cfg.plots)
    return doc


def peak_gflops(peak: dict, precision: str | None) -> float:
    """The measured matmul peak at ``precision`` (``fp32``, ``bf16``,
    ``int8``, ...), or the fp32 peak when that precision was not measured."""
    measured = (peak.get("compute") or {}).get(precision or "fp32") or {}
    if measured.get("status") == "ran" and measured.get("gflops_peak"):
        return measured["gflops_peak"]
    return peak["matmul_gflops_peak"]


def reapply_peak(doc: dict) -> None:
    """Recompute the columns that depend on the roofs."""
    peak = doc["peak"]
    for row in doc["results"]:
        if row.get("achieved_gflops") is not None:
            row["frac_peak"] = row["achieved_gflops"] / peak_gflops(peak, row.get("precision"))
    for pl in doc["per_layer"]:
        apply_peak(pl["layers"], peak)
        pl["by_kind"] = summarize_kinds(pl["layers"], peak)


def wait_and_merge(cfg: BenchConfig, stem: str, own: dict, sleep=time.sleep, clock=time.monotonic) -> dict:
    """Rank 0: wait for every rank's ``<stem>.rank<r>.json`` under ``cfg.out``
    to be complete, then merge them (:func:`.merge.merge_ranks`)."""
    if not cfg.out:
        raise ConfigError("--out: a distributed sweep needs an output directory shared by the ranks")
    t0 = clock()
    parts = {0: own}
    while len(parts) < cfg.world:
        for r in range(1, cfg.world):
            if r in parts:
                continue
            path = os.path.join(cfg.out, f"{stem}.rank{r}.json")
            try:
                with open(path, encoding="utf-8") as f:
                    part = json.load(f)
            except (OSError, ValueError):
                continue
            if part.get("complete"):
                parts[r] = part
        if len(parts) < cfg.world:
            if clock() - t0 > cfg.merge_timeout_s:
                missing = sorted(set(range(cfg.world)) - set(parts))
                raise RuntimeError(f"ranks {missing} did not finish within {cfg.merge_timeout_s:.0f} s")
            sleep(1.0)
    return merge_ranks([parts[r] for r in range(cfg.world)])


def _checkpoint(doc, cfg, stem) -> None:
    """The results so far: every file but the plots for a single process, the
    JSON part alone for one rank of a distributed sweep (written to a
    temporary name and renamed, so rank 0 never reads half a file)."""
    if cfg.world == 1:
        _write(doc, cfg, stem, plots=False)
        return
    write_text(os.path.join(cfg.out, f"{stem}.json"), to_json(doc))


def _write(doc, cfg, stem, plots) -> dict:
    return write_all(doc, cfg.out, stem, plots=plots, plot_model=cfg.plot_model)


def _gpu_notes(device: str) -> list:
    if device.startswith("gpu"):
        return []
    return ["CPU run. The GPU path (CUDA-event timing, GPU matmul peaks per precision, predictor "
            "enable_use_gpu, TensorRT) is selected when Paddle is built with CUDA and a GPU is "
            "visible; it was not exercised here."]


def _short(row) -> str:
    if row["status"] != "ran":
        return row["status"]
    lat = row["latency_ms"]
    return f"{lat['median']:.2f} ms" + ("" if lat.get("converged") else " (not converged)")


def fill_latency(row, st, samples, counts, peak) -> None:
    med = st.median
    row["latency_ms"] = st.to_dict(1e3)
    row["samples_ms"] = [round(x * 1e3, 4) for x in samples]
    row["noisy"] = st.noisy
    row["throughput_per_s"] = row["batch_size"] / med if med > 0 else None
    if counts.get("flops") is not None and med > 0:
        achieved = counts["flops"] / med
        row["achieved_gflops"] = achieved / 1e9
        row["frac_peak"] = achieved / (peak_gflops(peak, row.get("precision")) * 1e9)


def failed_runs(doc: dict) -> list:
    return [r for r in doc["results"] if r["status"] == "failed"]


__all__ = ["BenchConfig", "ConfigError", "run_benchmark", "validate", "resolve_device", "SCHEMA",
           "Progress", "default_out_dir", "failed_runs"]
