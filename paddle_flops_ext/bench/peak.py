"""The machine's attainable peaks, measured in the same run as the models.

Compute, per precision (``peak["compute"]``, each ``ran`` or
``unavailable`` with the reason):

- CPU ``fp32``: an ``n x n`` matrix product (``2 n^3`` FLOPs) through each
  backend the modes use -- eager ``paddle.matmul`` and a Paddle Inference
  predictor with oneDNN running a bias-free ``Linear`` on an ``n x n`` input
  (its timed call includes copying the result to host memory, so it slightly
  understates the kernel); the peak is the best backend (on CPU builds the
  eager kernel reaches a fraction of oneDNN's, and a peak taken from it would
  let compiled models score above 100 %).
- CPU ``bf16``: the same predictor with ``enable_onednn_bfloat16()``, when
  the CPU has ``avx512_bf16`` or ``amx_bf16``.
- CPU ``int8``: not measured (a oneDNN int8 predictor needs a quantised
  model; the harness does not quantise), reported unavailable.
- GPU ``fp32``, ``tf32`` (cuBLAS tensor-op math via
  ``FLAGS_enable_cublas_tensor_op_math``), ``fp16``, ``bf16``: eager
  ``paddle.matmul`` at that dtype, timed with CUDA events.

Bandwidth (``peak["bandwidth"]``): copies of several working-set sizes, one
per cache level (half of a private cache per core, a quarter of a shared
one) and one for DRAM (``max(256 MiB, 8 x last-level cache)``). On the CPU
each worker thread copies its own buffers with numpy (which releases the
GIL); a cache-sized copy is repeated over the same buffers through a
zero-stride view, so one call streams ~256 MiB through the cache without a
Python loop. ``bytes moved = 2 x buffer`` (one read, one write). On a GPU:
``paddle.assign`` into a preallocated tensor of the DRAM size.

A peak is the best repeat (what the machine can reach); the median is next
to it. The runner measures at the start and at the end of a sweep and keeps
the better of each roof (:func:`combine_peaks`). Top-level keys
``matmul_gflops_peak`` (fp32) and ``copy_gbps_peak`` (DRAM) are the classic
roofline's two roofs; :mod:`.roofline` picks the bandwidth roof by a layer's
working set.
"""
from __future__ import annotations

import threading
import time

from .machine import cache_levels, cpu_has_bf16
from .modes import prepare_mode
from .timing import WallTimer, set_threads, time_callable

SIZES = {
    # (matmul n, DRAM copy bytes)
    "cpu": (2048, 256 * 2 ** 20),
    "cpu_quick": (1024, 64 * 2 ** 20),
    "gpu": (8192, 2 * 2 ** 30),
    "gpu_quick": (4096, 512 * 2 ** 20),
}
STREAM_BYTES = 256 * 2 ** 20          # bytes one cache-sized copy call streams
GPU_DTYPES = {"fp32": "float32", "tf32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def _stats_entry(flop: float, st, **extra) -> dict:
    return {"status": "ran", "gflops_peak": flop / st.min / 1e9,
            "gflops_median": flop / st.median / 1e9, "noisy": st.noisy, **extra}


def unavailable(reason: str) -> dict:
    return {"status": "unavailable", "reason": reason}


# -- compute ------------------------------------------------------------------

def _matmul_eager(n, repeats, warmup, timer, threads, dtype="float32"):
    import paddle
    set_threads(threads)          # a predictor created earlier may have reset it
    a = paddle.randn([n, n], dtype="float32").astype(dtype)
    b = paddle.randn([n, n], dtype="float32").astype(dtype)
    _, st = time_callable(lambda: paddle.matmul(a, b), warmup=warmup, repeats=repeats, timer=timer)
    return st


def _matmul_predictor(n, repeats, warmup, threads, precision="fp32"):
    import paddle
    lin = paddle.nn.Linear(n, n, bias_attr=False)
    mode = "inference" if precision == "fp32" else f"inference_{precision}"
    pm = prepare_mode(mode, lin, [paddle.randn([n, n], dtype="float32")], device="cpu", threads=threads)
    try:
        if pm.status != "ran":
            return None, pm.reason
        _, st = time_callable(pm.fn, warmup=warmup, repeats=repeats)
        return st, None
    finally:
        pm.close()


def cpu_compute(n, repeats, warmup, threads, backends=("eager", "inference"), simd=None) -> dict:
    flop = 2.0 * n ** 3
    fp32 = {}
    if "eager" in backends:
        fp32["eager"] = _stats_entry(flop, _matmul_eager(n, repeats, warmup, WallTimer(), threads))
    notes = []
    if "inference" in backends:
        st, why = _matmul_predictor(n, repeats, warmup, threads)
        if st is None:
            notes.append(f"inference matmul not measured: {why}")
        else:
            fp32["inference"] = _stats_entry(flop, st)
    best = max(fp32, key=lambda k: fp32[k]["gflops_peak"])
    out = {"fp32": {**fp32[best], "backend": best, "backends": fp32}}
    if not cpu_has_bf16(simd):
        out["bf16"] = unavailable("the CPU has neither avx512_bf16 nor amx_bf16")
    elif "inference" not in backends:
        out["bf16"] = unavailable("measured through a Paddle Inference predictor, not requested")
    else:
        st, why = _matmul_predictor(n, repeats, warmup, threads, "bf16")
        out["bf16"] = (_stats_entry(flop, st, backend="inference") if st is not None
                       else unavailable(f"bf16 predictor failed: {why}"))
    out["int8"] = unavailable("a oneDNN int8 predictor needs a quantised model (e.g. PaddleSlim "
                              "post-training quantisation); the harness does not quantise")
    return out, notes


def gpu_compute(n, repeats, warmup, timer, dtypes=GPU_DTYPES, matmul=None, set_flags=None) -> dict:
    """Eager matmul GFLOP/s per GPU precision. ``matmul(n, dtype)`` returns
    the callable to time and ``set_flags`` sets Paddle flags (both injectable
    for tests); a precision that raises is reported unavailable with the
    error."""
    if matmul is None:
        def matmul(n, dtype):
            import paddle
            a = paddle.randn([n, n], dtype="float32").astype(dtype)
            b = paddle.randn([n, n], dtype="float32").astype(dtype)
            return lambda: paddle.matmul(a, b)
    if set_flags is None:
        def set_flags(flags):
            import paddle
            paddle.set_flags(flags)
    flop = 2.0 * n ** 3
    out = {}
    for name, dtype in dtypes.items():
        tf32 = name == "tf32"
        try:
            set_flags({"FLAGS_enable_cublas_tensor_op_math": tf32})
            fn = matmul(n, dtype)
            _, st = time_callable(fn, warmup=warmup, repeats=repeats, timer=timer)
            out[name] = _stats_entry(flop, st, backend="eager", timer=getattr(timer, "kind", ""))
        except Exception as e:
            out[name] = unavailable(f"{type(e).__name__}: {str(e).strip().splitlines()[0][:200] if str(e).strip() else ''}")
        finally:
            if tf32:
                try:
                    set_flags({"FLAGS_enable_cublas_tensor_op_math": False})
                except Exception:
                    pass
    return out


# -- bandwidth ----------------------------------------------------------------

def working_sets(caches: list[dict], threads: int, dram_bytes: int) -> list[tuple]:
    """``[(level, bytes per thread, capacity)]``: half of each private cache,
    a quarter of a shared one divided among the threads, and the DRAM size
    divided among the threads (each thread copies ``bytes / 2`` into another
    ``bytes / 2``). ``capacity`` is what a multi-threaded kernel's working set
    may occupy at that level: a private cache times the threads, a shared
    one once, DRAM ``None`` (unbounded)."""
    out = []
    last = 0
    threads = max(threads, 1)
    for c in caches:
        shared = c.get("shared_by", 1) > 1
        per_thread = c["size_bytes"] // 4 // threads if shared else c["size_bytes"] // 2
        out.append((c["level"], per_thread, c["size_bytes"] if shared else c["size_bytes"] * threads))
        last = max(last, c["size_bytes"])
    dram = max(dram_bytes, 8 * last)
    out.append(("DRAM", dram // threads, None))
    return out


def _numpy_copy(ws_bytes: int):
    import numpy as np
    n = max(ws_bytes // 2 // 8, 1)
    src = np.ones(n, dtype=np.float64)
    dst = np.zeros(n, dtype=np.float64)
    reps = max(1, STREAM_BYTES // (2 * n * 8))
    if reps > 1:
        strided = np.lib.stride_tricks.as_strided
        src_v = strided(src, (reps, n), (0, 8))
        dst_v = strided(dst, (reps, n), (0, 8), writeable=True)
    else:
        src_v, dst_v = src, dst
    return (lambda: np.copyto(dst_v, src_v)), 2.0 * n * 8 * reps


def cpu_copy_gbps(ws_bytes: int, threads: int, repeats: int = 5, clock=time.perf_counter,
                  make_copy=_numpy_copy):
    """``(best, median)`` GB/s of ``threads`` threads each copying its own
    ``ws_bytes`` working set at once."""
    jobs = [make_copy(ws_bytes) for _ in range(max(threads, 1))]
    moved = sum(b for _, b in jobs)
    rates = []
    for i in range(repeats + 1):           # the first round warms the buffers
        start = threading.Barrier(len(jobs) + 1)
        ths = [threading.Thread(target=lambda f=f: (start.wait(), f())) for f, _ in jobs]
        for t in ths:
            t.start()
        start.wait()
        t0 = clock()
        for t in ths:
            t.join()
        dt = clock() - t0
        if i:
            rates.append(moved / dt / 1e9 if dt > 0 else 0.0)
    rates.sort()
    return rates[-1], rates[len(rates) // 2]


def measure_bandwidth(device: str, caches: list[dict], threads: int, dram_bytes: int,
                      repeats: int = 5, timer=None) -> list[dict]:
    if str(device).startswith("gpu"):
        import paddle
        elems = dram_bytes // 4
        src = paddle.ones([elems], dtype="float32")
        dst = paddle.zeros([elems], dtype="float32")
        _, st = time_callable(lambda: paddle.assign(src, output=dst), warmup=1, repeats=repeats,
                              timer=timer)
        moved = 2.0 * elems * 4
        return [{"level": "DRAM", "working_set_bytes": elems * 4, "capacity_bytes": None,
                 "gbps_peak": moved / st.min / 1e9,
                 "gbps_median": moved / st.median / 1e9, "method": "paddle.assign on the GPU"}]
    out = []
    for level, ws, capacity in working_sets(caches, threads, dram_bytes):
        best, med = cpu_copy_gbps(ws, threads, repeats)
        out.append({"level": level, "working_set_bytes": ws * max(threads, 1), "capacity_bytes": capacity,
                    "per_thread_bytes": ws, "gbps_peak": best, "gbps_median": med,
                    "method": f"numpy copy, {threads} thread(s)"})
    return out


# -- both ---------------------------------------------------------------------

def measure_peak(device: str = "cpu", quick: bool = False, repeats: int = 10, warmup: int = 1,
                 sync=None, sizes: tuple[int, int] | None = None, threads: int = 1,
                 backends: tuple = ("eager", "inference"), caches: list | None = None,
                 timer=None) -> dict:
    gpu = str(device).startswith("gpu")
    key = ("gpu" if gpu else "cpu") + ("_quick" if quick else "")
    n, dram = sizes or SIZES[key]
    timer = timer or WallTimer(sync)
    notes = []
    if gpu:
        compute = gpu_compute(n, repeats, warmup, timer)
        compute["int8"] = unavailable("no int8 matmul peak is measured on GPUs")
    else:
        compute, notes = cpu_compute(n, repeats, warmup, threads, backends)
    caches = cache_levels() if caches is None else caches
    bw = measure_bandwidth(device, [] if gpu else caches, threads, dram, repeats=max(3, repeats // 2),
                           timer=timer)
    return finish_peak({"matmul_n": n, "compute": compute, "bandwidth": bw, "repeats": repeats,
                        "notes": notes})


def finish_peak(p: dict) -> dict:
    """Fill the classic top-level roofs from ``compute`` and ``bandwidth``."""
    fp32 = p["compute"]["fp32"]
    dram = next(b for b in p["bandwidth"] if b["level"] == "DRAM")
    p.update({
        "matmul_gflops_peak": fp32["gflops_peak"],
        "matmul_gflops_median": fp32["gflops_median"],
        "matmul_noisy": fp32.get("noisy"),
        "matmul_backend": fp32.get("backend", "eager"),
        "matmul_backends": {k: {kk: v[kk] for kk in ("gflops_peak", "gflops_median", "noisy")}
                            for k, v in fp32.get("backends", {"eager": fp32}).items()},
        "copy_mib": dram["working_set_bytes"] / 2 ** 20,
        "copy_gbps_peak": dram["gbps_peak"],
        "copy_gbps_median": dram["gbps_median"],
        "ridge_flops_per_byte": fp32["gflops_peak"] / dram["gbps_peak"],
    })
    return p


def combine_peaks(*peaks: dict) -> dict:
    """The best of several measurements of the same roofs (the runner
    measures at the start and at the end of a sweep, so that a burst of
    other load during one of them does not lower the roofs): the best
    repeat per precision, per fp32 backend and per bandwidth level; each
    measurement is kept under ``measurements``."""
    peaks = [p for p in peaks if p]
    compute = {}
    for prec in dict.fromkeys(k for p in peaks for k in p["compute"]):
        ran = [p["compute"][prec] for p in peaks if p["compute"].get(prec, {}).get("status") == "ran"]
        if not ran:
            compute[prec] = next(p["compute"][prec] for p in peaks if prec in p["compute"])
            continue
        best = dict(max(ran, key=lambda v: v["gflops_peak"]))
        if "backends" in best:
            best["backends"] = {
                k: max((v["backends"][k] for v in ran if k in v.get("backends", {})),
                       key=lambda v: v["gflops_peak"])
                for k in dict.fromkeys(k for v in ran for k in v.get("backends", {}))}
        compute[prec] = best
    bw = []
    for level in dict.fromkeys(b["level"] for p in peaks for b in p["bandwidth"]):
        bw.append(max((b for p in peaks for b in p["bandwidth"] if b["level"] == level),
                      key=lambda b: b["gbps_peak"]))
    out = finish_peak({"matmul_n": peaks[0]["matmul_n"], "compute": compute, "bandwidth": bw,
                       "repeats": peaks[0].get("repeats"),
                       "notes": list(dict.fromkeys(n for p in peaks for n in p.get("notes", [])))})
    out["measurements"] = [{k: v for k, v in p.items() if k != "measurements"} for p in peaks]
    return out
