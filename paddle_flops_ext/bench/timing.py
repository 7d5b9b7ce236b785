"""Timing one callable the way a reviewer expects.

``time_callable(fn, warmup, repeats, sync)``:

1. ``warmup`` untimed calls (first-call work: kernel selection, oneDNN
   primitive creation, allocator growth, to_static tracing), then one
   ``sync()`` so that nothing queued by the warm-up is still running;
2. ``repeats`` timed calls, each read as ``t0 = clock(); fn(); sync();
   t1 = clock()``: the clock is read after the device has finished the work
   that call queued. Since the previous call ended with a ``sync()`` the
   device is idle at ``t0``, so exactly one ``sync()`` per timed call is
   needed (``repeats + 1`` calls to ``sync`` in all).

``sync`` is a parameter: :func:`device_sync` gives
``paddle.device.synchronize`` on a GPU and a no-op on the CPU, where Paddle
runs kernels synchronously. The clock is :func:`time.perf_counter`.

Statistics (:func:`summarize`): median, mean, sample standard deviation
(``ddof=1``; 0 for one sample), min, max, and the 10th/90th percentiles with
linear interpolation between order statistics (numpy's default). The run is
flagged ``noisy`` when ``(p90 - p10) / median`` exceeds ``noise_threshold``
(0.10 by default): on a quiet machine repeated inference calls agree within a
few percent, so a wider spread means something else was competing for the
cores or the memory bus.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

NOISE_THRESHOLD = 0.10


@dataclass(frozen=True)
class Stats:
    n: int
    median: float
    mean: float
    std: float
    min: float
    max: float
    p10: float
    p90: float
    spread: float          # (p90 - p10) / median
    noisy: bool

    def to_dict(self, scale: float = 1.0) -> dict:
        """Values multiplied by ``scale`` (e.g. 1e3 for milliseconds);
        ``n``, ``spread`` and ``noisy`` unscaled."""
        d = asdict(self)
        for k in ("median", "mean", "std", "min", "max", "p10", "p90"):
            d[k] = d[k] * scale
        return d


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    if not sorted_values:
        raise ValueError("percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q}")
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def summarize(samples: Sequence[float], noise_threshold: float = NOISE_THRESHOLD) -> Stats:
    """Summary statistics of ``samples`` (seconds or any unit)."""
    xs = sorted(float(x) for x in samples)
    if not xs:
        raise ValueError("summarize() needs at least one sample")
    n = len(xs)
    mean = sum(xs) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    med = percentile(xs, 50)
    p10, p90 = percentile(xs, 10), percentile(xs, 90)
    spread = (p90 - p10) / med if med > 0 else 0.0
    return Stats(n=n, median=med, mean=mean, std=std, min=xs[0], max=xs[-1],
                 p10=p10, p90=p90, spread=spread, noisy=spread > noise_threshold)


def _no_sync() -> None:
    return None


def device_sync(device: str) -> Callable[[], None]:
    """``paddle.device.synchronize`` for ``gpu``/``gpu:N`` devices, else a no-op."""
    if str(device).startswith("gpu"):
        import paddle
        return paddle.device.synchronize
    return _no_sync


def time_callable(fn: Callable[[], object], *, warmup: int = 3, repeats: int = 10,
                  sync: Callable[[], None] | None = None,
                  clock: Callable[[], float] = time.perf_counter,
                  noise_threshold: float = NOISE_THRESHOLD) -> tuple[list[float], Stats]:
    """Seconds per call of ``fn`` over ``repeats`` timed calls after ``warmup``
    untimed ones. Returns ``(samples, stats)``."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    sync = sync or _no_sync
    for _ in range(warmup):
        fn()
    sync()
    samples = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        sync()
        samples.append(clock() - t0)
    return samples, summarize(samples, noise_threshold)


# -- threads ----------------------------------------------------------------

def available_cores() -> int:
    """Cores this process may run on (affinity mask), else ``os.cpu_count()``."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def set_threads(n: int | None) -> dict:
    """Fix the CPU math-library thread count for eager and to_static runs.

    Paddle has no public ``paddle.set_num_threads``; the framework's
    ``paddle.base.core.set_num_threads`` sets the thread count of the math
    library (MKL/OpenBLAS) and OpenMP it was built with. The Paddle Inference
    predictor gets the same number through
    ``Config.set_cpu_math_library_num_threads`` (see :mod:`.modes`).
    Returns what was applied, for the report.

    Call it again after creating or running a predictor: in Paddle 3.3.1 a
    predictor resets the eager math library to one thread (measured here:
    an eager 2048^2 matmul drops from ~70 to ~37 GFLOP/s on 2 cores until
    ``set_num_threads`` is called again). The runner does so before every
    eager / to_static timing.
    """
    n = int(n) if n else available_cores()
    applied = []
    try:
        from paddle.base import core
        if hasattr(core, "set_num_threads"):
            core.set_num_threads(n)
            applied.append("paddle.base.core.set_num_threads")
    except Exception as e:  # pragma: no cover - depends on the Paddle build
        applied.append(f"paddle.base.core.set_num_threads failed: {e}")
    applied.append("inference Config.set_cpu_math_library_num_threads")
    return {"threads": n, "applied_via": applied, "cpu_count": os.cpu_count(),
            "available_cores": available_cores(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}
