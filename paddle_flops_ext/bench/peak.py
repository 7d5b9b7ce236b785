"""The machine's attainable peak, measured in the same run as the models.

- arithmetic: an ``n x n`` float32 ``paddle.matmul`` (``2 n^3`` FLOPs),
- memory: copying a large float32 buffer into a preallocated one with
  ``paddle.assign`` (``2 x nbytes`` moved: one read, one write).

Both are timed with :func:`.timing.time_callable` (warm-up, sync). The peak
is the best repeat (a peak is what the machine can reach, not what it
usually does); the median is reported next to it. These are the roofs the
roofline model uses: ``ridge = peak_flops / peak_bandwidth`` FLOPs per byte.
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


def measure_peak(device: str = "cpu", quick: bool = False, repeats: int = 5, warmup: int = 1,
                 sync=None, sizes: tuple[int, int] | None = None) -> dict:
    import paddle
    key = ("gpu" if str(device).startswith("gpu") else "cpu") + ("_quick" if quick else "")
    n, elems = sizes or SIZES[key]
    a = paddle.randn([n, n], dtype="float32")
    b = paddle.randn([n, n], dtype="float32")
    _, mm = time_callable(lambda: paddle.matmul(a, b), warmup=warmup, repeats=repeats, sync=sync)
    flop = 2.0 * n ** 3
    del a, b
    src = paddle.ones([elems], dtype="float32")
    dst = paddle.zeros([elems], dtype="float32")
    _, cp = time_callable(lambda: paddle.assign(src, output=dst), warmup=warmup, repeats=repeats, sync=sync)
    moved = 2.0 * elems * 4
    del src, dst
    peak_flops = flop / mm.min
    peak_bw = moved / cp.min
    return {
        "matmul_n": n,
        "matmul_gflops_peak": peak_flops / 1e9,
        "matmul_gflops_median": flop / mm.median / 1e9,
        "matmul_noisy": mm.noisy,
        "copy_mib": elems * 4 / 2 ** 20,
        "copy_gbps_peak": peak_bw / 1e9,
        "copy_gbps_median": moved / cp.median / 1e9,
        "copy_noisy": cp.noisy,
        "ridge_flops_per_byte": peak_flops / peak_bw,
        "repeats": repeats,
    }
