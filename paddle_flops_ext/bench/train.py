"""Real training steps next to ``profile(training=True)``: step time, achieved
FLOP/s, MFU and HFU, and measured peak memory next to ``r.memory["peak"]``.

Each model runs in a fresh process: RSS after importing Paddle and one tiny
op is the idle baseline; then the model is built, ``--warmup`` steps
(forward + ``loss.backward()`` + ``AdamW.step()`` + ``clear_grad()``) and
``--steps`` timed steps run. Measured memory: Paddle's allocator peak over
the steps (``host_memory_stat_peak_value``, what the estimate models) and the
process's own peak RSS (``VmHWM``, not ``ru_maxrss``, which carries the
parent's high-water mark across exec) above the baseline. Only then is the
model profiled (``training=True, optimizer="adamw"``), so the profile's own
memory does not enter the measurement. MFU = model FLOPs (``training_flops``)
/ median step time / the hardware's theoretical fp32 peak
(:mod:`paddle_flops_ext.bench.hardware`: cores x clock x vector width); HFU
the same with ``hardware_flops``; beside them the matmul efficiency, an eager
fp32 ``paddle.matmul`` (``paddle_flops_ext.bench.peak``) over the same peak.

    paddle-flops bench --train                             # all three models
    paddle-flops bench --train --models resnet50 --steps 2
    python benchmarks/bench_train.py                       # the committed results

Writes ``<out>.json`` and ``<out>.md`` (``paddle-flops bench --train``: under
``./paddle_flops_bench/<timestamp>/``; the script: ``benchmarks/results/train_cpu``).
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time

from ..report.content import Column, Content
from ..report.render import render_markdown
from ..models.zoo import TRAIN_MODELS as MODELS, ZOO, make_inputs
from ..files import write_text
from .machine import allocator_bytes, process_memory_bytes, reset_allocator_peak
from .report import publish_markdown

BATCH = {"resnet50": 8, "vit_b16": 8, "gpt2_small": 2}   # each model of MODELS at its zoo size


def build(name):
    """(model, inputs tuple, what) for a model name."""
    entry, batch = ZOO[name], BATCH[name]
    model = entry.build(entry.size)
    inputs = tuple(make_inputs(entry, batch, seed=None))
    shape = f"{entry.size} tokens" if entry.input_kind == "tokens" else f"{entry.size}x{entry.size}"
    return model, inputs, f"{entry.title}, batch {batch}, {shape}"


def run_one(name: str, steps: int, warmup: int) -> dict:
    import paddle
    paddle.set_device("cpu")
    paddle.seed(0)
    paddle.ones([2]).sum().numpy()
    idle = process_memory_bytes("VmRSS")
    reset_allocator_peak()
    before = allocator_bytes()
    model, inputs, what = build(name)
    model.train()
    opt = paddle.optimizer.AdamW(parameters=model.parameters())
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        loss = model(*inputs).mean()
        loss.backward()
        opt.step()
        opt.clear_grad()
        float(loss)
        dt = time.perf_counter() - t0
        if i >= warmup:
            times.append(dt)
    measured = process_memory_bytes("VmHWM") - idle
    after = allocator_bytes()
    allocator = after[1] - before[0] if after is not None and before is not None else None
    del loss
    from ..api import profile  # local: imported after the measured steps, outside their peak RSS
    t0 = time.perf_counter()
    r = profile(model, inputs=inputs, training=True, optimizer="adamw")
    profile_s = time.perf_counter() - t0
    from .hardware import this_cpu_peak, utilisation  # local: as above
    hw = this_cpu_peak()
    try:
        from .peak import cpu_compute  # local: as above
        matmul = cpu_compute(1024, 5, 2, os.cpu_count() or 1, backends=("eager",))[0]["fp32"]["gflops_peak"] * 1e9
    except Exception:  # noqa: BLE001 - the efficiency is optional, the MFU is not
        matmul = None
    step = statistics.median(times)
    u = utilisation(r.training_flops, r.hardware_flops, step, hw.peak("fp32"), matmul)
    m = r.memory
    return {
        "model": name, "what": what, "steps": steps, "warmup": warmup, "step_s": step, "step_times_s": times,
        "forward_flops": r.forward.flops, "backward_flops": r.backward.flops,
        "optimizer_flops": r.optimizer_step.flops, "training_flops": r.training_flops,
        "hardware_flops": r.hardware_flops, "achieved_flops_per_s": r.training_flops / step,
        "peak_flops_per_s": u.peak_flops_per_s, "peak_from": hw.derivation, "peak_notes": hw.notes,
        "mfu": u.mfu, "hfu": u.hfu, "matmul_flops_per_s": matmul, "matmul_efficiency": u.matmul_efficiency,
        "memory_estimate": m, "measured_peak_bytes": measured, "idle_rss_bytes": idle,
        "allocator_peak_bytes": allocator,
        "estimate_over_measured": m["peak"] / allocator if allocator else None,
        "profile_s": profile_s, "uncounted_backward": r.uncounted_backward,
    }


_G, _MIB = 1e-9, 2 ** -20
COLUMNS = [Column("what", "model"), Column("step_s", "step s", "number", 2),
           Column("training_flops", "training GFLOPs", "number", 1, _G),
           Column("hardware_flops", "hardware GFLOPs", "number", 1, _G),
           Column("achieved_flops_per_s", "achieved GFLOP/s", "number", 1, _G),
           Column("peak_flops_per_s", "peak GFLOP/s", "number", 1, _G),
           Column("mfu", "MFU", "percent", 1, 100), Column("hfu", "HFU", "percent", 1, 100),
           Column("matmul_efficiency", "matmul / peak", "percent", 1, 100),
           Column("estimate_peak", "est. peak MiB", "number", 0, _MIB),
           Column("allocator_peak_bytes", "allocator MiB", "number", 0, _MIB),
           Column("estimate_over_measured", "estimate / allocator", "number", 3),
           Column("measured_peak_bytes", "RSS above idle MiB", "number", 0, _MIB),
           Column("fixed", "params+grads+states MiB", "number", 0, _MIB),
           Column("activations", "activations MiB", "number", 0, _MIB)]


def _markdown_lines(results: list, machine: str) -> list[str]:
    rows = []
    for r in results:
        m = r["memory_estimate"]
        rows.append({**r, "estimate_peak": m["peak"], "activations": m["activations"],
                     "fixed": m["parameters"] + m["gradients"] + m["optimizer_states"]})
    return [f"# Training steps on {machine}", "",
            "Fresh process per model; AdamW; loss = mean of the output; median of the timed steps "
            "(warm-up excluded). MFU and HFU against the hardware's theoretical fp32 peak "
            f"({results[0]['peak_from'] if results else ''}); matmul / peak: an eager fp32 matmul's rate over "
            "that peak. Memory: `r.memory['peak']` of `profile(training=True, optimizer='adamw')` vs Paddle's "
            "allocator peak over the steps; the process's own peak RSS above the idle process (Paddle "
            "imported) beside it (the runtime adds memory outside the allocator).", "",
            render_markdown(Content(columns=COLUMNS, rows=rows))]


_CHILD = ("import json, sys; from paddle_flops_ext.bench.train import run_one; "
          "print(json.dumps(run_one(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))")


def run(models, steps: int, warmup: int, out: str) -> int:
    """Each model in a fresh process; writes ``out``.json/.md; exit status."""
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        print(f"paddle-flops bench: error: --models: with --train one of {', '.join(MODELS)} "
              f"(got {', '.join(unknown)})", file=sys.stderr)
        return 2
    if steps < 1 or warmup < 0:
        print("paddle-flops bench: error: --steps must be >= 1 and --warmup >= 0", file=sys.stderr)
        return 2
    results = []
    for name in models:
        proc = subprocess.run([sys.executable, "-c", _CHILD, name, str(steps), str(warmup)],
                              capture_output=True, text=True)
        if proc.returncode:
            print(proc.stderr[-3000:], file=sys.stderr)
            return proc.returncode
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        r = results[-1]
        ratio = r["estimate_over_measured"]
        print(f"{name}: step {r['step_s']:.2f} s, MFU {100 * r['mfu']:.1f}% of the fp32 peak, memory "
              f"estimate/allocator {'n/a' if ratio is None else f'{ratio:.3f}'}", flush=True)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (CPU, fp32)"
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    write_text(out + ".json", json.dumps({"machine": machine, "results": results}, indent=1))
    publish_markdown(_markdown_lines(results, machine), out + ".md")
    return 0
