"""The machine's attainable peak, measured in the same run as the models.

- arithmetic: an ``n x n`` float32 matrix product (``2 n^3`` FLOPs), run
  through each backend the modes use: eager ``paddle.matmul`` and, on the
  CPU, a Paddle Inference predictor with oneDNN running a bias-free
  ``Linear`` on an ``n x n`` input (its timed call includes copying the
  ``n x n`` result to host memory, so it slightly understates the kernel).
  The machine's peak is the best of the backends: on CPU builds of Paddle
  the eager matmul kernel reaches only a fraction of what oneDNN does, and a
  peak taken from it would let compiled models score above 100 %.
- memory: copying a large float32 buffer into a preallocated one with
  ``paddle.assign`` (``2 x nbytes`` moved: one read, one write).

Each is timed with :func:`.timing.time_callable` (warm-up, sync). A peak is
the best repeat (what the machine can reach, not what it usually does); the
median is reported next to it. The runner measures at the start and at the
end of a sweep and keeps the better of the two (:func:`combine_peaks`).
These are the roofs of the roofline model: ``ridge = peak_flops /
peak_bandwidth`` FLOPs per byte.
"""
from __future__ import annotations

from .timing import time_callable

SIZES = {
    # (matmul n, copy elements)
    "cpu": (2048, 64 * 2 ** 20),          # 17.2 GFLOP; 256 MiB buffer
    "cpu_quick": (1024, 16 * 2 ** 20),
    "gpu": (8192, 512 * 2 ** 20),         # 1.1 TFLOP; 2 GiB buffer
    "gpu_quick": (4096, 128 * 2 ** 20),
}


def _matmul_eager(n, repeats, warmup, sync, threads):
    import paddle
    from .timing import set_threads
    set_threads(threads)          # a predictor created earlier may have reset it
    a = paddle.randn([n, n], dtype="float32")
    b = paddle.randn([n, n], dtype="float32")
    _, st = time_callable(lambda: paddle.matmul(a, b), warmup=warmup, repeats=repeats, sync=sync)
    return st


def _matmul_predictor(n, repeats, warmup, threads):
    import paddle
    from .modes import prepare_mode
    lin = paddle.nn.Linear(n, n, bias_attr=False)
    pm = prepare_mode("inference", lin, [paddle.randn([n, n], dtype="float32")], device="cpu",
                      threads=threads)
    try:
        if pm.status != "ran":
            return None, pm.reason
        _, st = time_callable(pm.fn, warmup=warmup, repeats=repeats)
        return st, None
    finally:
        pm.close()


def measure_peak(device: str = "cpu", quick: bool = False, repeats: int = 10, warmup: int = 1,
                 sync=None, sizes: tuple[int, int] | None = None, threads: int = 1,
                 backends: tuple = ("eager", "inference")) -> dict:
    import paddle
    gpu = str(device).startswith("gpu")
    key = ("gpu" if gpu else "cpu") + ("_quick" if quick else "")
    n, elems = sizes or SIZES[key]
    flop = 2.0 * n ** 3
    per_backend, notes = {}, []
    if "eager" in backends:
        st = _matmul_eager(n, repeats, warmup, sync, threads)
        per_backend["eager"] = {"gflops_peak": flop / st.min / 1e9, "gflops_median": flop / st.median / 1e9,
                                "noisy": st.noisy}
    if "inference" in backends and not gpu:
        st, why = _matmul_predictor(n, repeats, warmup, threads)
        if st is None:
            notes.append(f"inference matmul not measured: {why}")
        else:
            per_backend["inference"] = {"gflops_peak": flop / st.min / 1e9,
                                        "gflops_median": flop / st.median / 1e9, "noisy": st.noisy}
    best = max(per_backend, key=lambda k: per_backend[k]["gflops_peak"])
    src = paddle.ones([elems], dtype="float32")
    dst = paddle.zeros([elems], dtype="float32")
    _, cp = time_callable(lambda: paddle.assign(src, output=dst), warmup=warmup, repeats=repeats, sync=sync)
    moved = 2.0 * elems * 4
    peak_flops = per_backend[best]["gflops_peak"] * 1e9
    peak_bw = moved / cp.min
    return {
        "matmul_n": n,
        "matmul_gflops_peak": peak_flops / 1e9,
        "matmul_gflops_median": per_backend[best]["gflops_median"],
        "matmul_noisy": per_backend[best]["noisy"],
        "matmul_backend": best,
        "matmul_backends": per_backend,
        "copy_mib": elems * 4 / 2 ** 20,
        "copy_gbps_peak": peak_bw / 1e9,
        "copy_gbps_median": moved / cp.median / 1e9,
        "copy_noisy": cp.noisy,
        "ridge_flops_per_byte": peak_flops / peak_bw,
        "repeats": repeats,
        "notes": notes,
    }


def combine_peaks(*peaks: dict) -> dict:
    """The best of several measurements of the same roofs (the runner
    measures at the start and at the end of a sweep, so that a burst of
    other load during one of them does not lower the roofs); each
    measurement is kept under ``measurements``."""
    peaks = [p for p in peaks if p]
    best_f = max(peaks, key=lambda p: p["matmul_gflops_peak"])
    best_b = max(peaks, key=lambda p: p["copy_gbps_peak"])
    out = {k: v for k, v in best_f.items() if not k.startswith("copy_")}
    out.update({k: v for k, v in best_b.items() if k.startswith("copy_")})
    out["ridge_flops_per_byte"] = out["matmul_gflops_peak"] / out["copy_gbps_peak"]
    out["matmul_backends"] = {
        k: max((p["matmul_backends"][k] for p in peaks if k in p["matmul_backends"]),
               key=lambda v: v["gflops_peak"])
        for k in dict.fromkeys(k for p in peaks for k in p["matmul_backends"])}
    out["notes"] = [n for p in peaks for n in p.get("notes", [])]
    out["measurements"] = [{k: v for k, v in p.items() if k != "measurements"} for p in peaks]
    return out
