"""Timing one callable, or several interleaved, the way a reviewer expects.

One timed call (:class:`WallTimer`): ``t0 = clock(); fn(); sync(); t1 =
clock()``. The clock is read after the device has finished the work that
call queued; since the previous call ended with a ``sync()`` the device is
idle at ``t0``. ``sync`` is :func:`device_sync`: ``paddle.device.synchronize``
on a GPU, a no-op on the CPU where Paddle runs kernels synchronously. On a GPU
:class:`EventTimer` records a CUDA event before and after the call and reads
their elapsed time once the second has completed (no host clock involved).
Both take their clock / sync / event factory as parameters, so the tests run
them with fakes.

:func:`time_callable` (fixed count): ``warmup`` untimed calls (kernel
selection, oneDNN primitive creation, allocator growth, to_static tracing),
one ``sync()``, then ``repeats`` timed calls -- ``repeats + 1`` syncs in all.

:func:`time_interleaved` (adaptive, what the runner uses): several modes of
one model are warmed up, then timed in rounds -- in each round every mode
gets a turn of ``rewarm`` (1) untimed call and ``per_round`` (3) timed calls,
the order rotated every round -- so that drift (another process starting, the
clock slowing) hits every mode alike. The untimed call refills the caches
the other modes' turns evicted: with one timed call per turn, a Paddle
Inference call timed right after an eager pass read 6 % (resnet18) to 40 %
(mobilenet_v2) slower than in a block of its own calls. A mode stops when the
95 % confidence interval of its median is within ``target`` (2 %) of the
median after at least ``min_repeats`` samples (**converged**), or when its
timed calls have used ``budget_s`` seconds or ``max_repeats`` calls (**not
converged**; the interval is still reported).

Statistics (:func:`summarize`): median, mean, sample standard deviation
(``ddof=1``; 0 for one sample), min, max, the 10th/90th percentiles with
linear interpolation between order statistics (numpy's default), and the
distribution-free confidence interval of the median (:func:`median_ci`):
order statistics ``x_(k)`` and ``x_(n+1-k)`` with the largest ``k`` for which
``P(k <= B < n+1-k) >= 0.95``, ``B ~ Binomial(n, 1/2)`` (exact binomial sums;
it needs n >= 6). ``ci_rel = max(median - lo, hi - median) / median``. The run
is flagged ``noisy`` when ``(p90 - p10) / median`` exceeds ``noise_threshold``
(0.10 by default).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

NOISE_THRESHOLD = 0.10
CI_TARGET = 0.02
CONFIDENCE = 0.95


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
    ci_low: float | None = None     # confidence interval of the median
    ci_high: float | None = None
    ci_rel: float | None = None     # max(median - lo, hi - median) / median
    confidence: float = CONFIDENCE
    converged: bool | None = None   # adaptive timing: ci_rel <= target reached
    stop: str = ""                  # why adaptive timing stopped

    def to_dict(self, scale: float = 1.0) -> dict:
        """Values multiplied by ``scale`` (e.g. 1e3 for milliseconds);
        counts, ratios and flags unscaled."""
        d = asdict(self)
        for k in ("median", "mean", "std", "min", "max", "p10", "p90", "ci_low", "ci_high"):
            if d[k] is not None:
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


def median_ci_ranks(n: int, confidence: float = CONFIDENCE) -> tuple[int, int] | None:
    """1-based ranks ``(k, n + 1 - k)`` of the order statistics bounding the
    median with at least ``confidence`` coverage; ``None`` when even
    ``(1, n)`` falls short (n < 6 at 95 %)."""
    if n < 1:
        return None
    total = 2 ** n
    best = None
    # coverage of [x_(k), x_(n+1-k)] is P(k <= B <= n-k)
    cdf = [0] * (n + 2)
    acc = 0
    for i in range(n + 1):
        acc += math.comb(n, i)
        cdf[i + 1] = acc             # cdf[j] = sum_{i < j} C(n, i)
    for k in range(1, (n + 1) // 2 + 1):
        if n + 1 - k < k:
            break
        covered = cdf[n - k + 1] - cdf[k]
        if covered * 1.0 / total >= confidence:
            best = k
        else:
            break
    return None if best is None else (best, n + 1 - best)


def median_ci(sorted_values: Sequence[float], confidence: float = CONFIDENCE):
    """``(low, high)`` confidence interval of the median of sorted samples,
    or ``None`` with too few samples."""
    ranks = median_ci_ranks(len(sorted_values), confidence)
    if ranks is None:
        return None
    return sorted_values[ranks[0] - 1], sorted_values[ranks[1] - 1]


def summarize(samples: Sequence[float], noise_threshold: float = NOISE_THRESHOLD,
              confidence: float = CONFIDENCE, converged: bool | None = None, stop: str = "") -> Stats:
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
    ci = median_ci(xs, confidence)
    ci_rel = (max(med - ci[0], ci[1] - med) / med if med > 0 else 0.0) if ci else None
    return Stats(n=n, median=med, mean=mean, std=std, min=xs[0], max=xs[-1],
                 p10=p10, p90=p90, spread=spread, noisy=spread > noise_threshold,
                 ci_low=ci[0] if ci else None, ci_high=ci[1] if ci else None, ci_rel=ci_rel,
                 confidence=confidence, converged=converged, stop=stop)


def _no_sync() -> None:
    return None


def device_sync(device: str) -> Callable[[], None]:
    """``paddle.device.synchronize`` for ``gpu``/``gpu:N`` devices, else a no-op."""
    if str(device).startswith("gpu"):
        import paddle
        return paddle.device.synchronize
    return _no_sync


class WallTimer:
    """Host clock around ``fn(); sync()``."""

    kind = "wall clock + device sync"

    def __init__(self, sync: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.perf_counter):
        self.sync = sync or _no_sync
        self.clock = clock

    def __call__(self, fn: Callable[[], object]) -> float:
        t0 = self.clock()
        fn()
        self.sync()
        return self.clock() - t0


class EventTimer:
    """CUDA events around ``fn()``: ``start.record(); fn(); end.record();
    end.synchronize(); start.elapsed_time(end)`` (milliseconds, returned in
    seconds). ``event_factory`` makes one timing-enabled event
    (``paddle.device.cuda.Event(enable_timing=True)`` by default)."""

    kind = "CUDA events"

    def __init__(self, event_factory: Callable[[], object] | None = None):
        if event_factory is None:
            import paddle

            def event_factory():
                return paddle.device.cuda.Event(enable_timing=True)
        self.event_factory = event_factory
        self.sync = _no_sync

    def __call__(self, fn: Callable[[], object]) -> float:
        start, end = self.event_factory(), self.event_factory()
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3


def make_timer(device: str, prefer_events: bool = True):
    """The timer for ``device``: CUDA events on a GPU when Paddle has them
    (else wall clock with ``paddle.device.synchronize``), wall clock on CPU."""
    if str(device).startswith("gpu") and prefer_events:
        try:
            import paddle
            if paddle.device.is_compiled_with_cuda() and hasattr(paddle.device.cuda, "Event"):
                return EventTimer()
        except Exception:  # pragma: no cover - depends on the build
            pass
    return WallTimer(device_sync(device))


def time_callable(fn: Callable[[], object], *, warmup: int = 3, repeats: int = 10,
                  sync: Callable[[], None] | None = None,
                  clock: Callable[[], float] = time.perf_counter,
                  noise_threshold: float = NOISE_THRESHOLD,
                  timer: Callable | None = None) -> tuple[list[float], Stats]:
    """Seconds per call of ``fn`` over ``repeats`` timed calls after ``warmup``
    untimed ones. Returns ``(samples, stats)``."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    timer = timer or WallTimer(sync, clock)
    for _ in range(warmup):
        fn()
    timer.sync()
    samples = [timer(fn) for _ in range(repeats)]
    return samples, summarize(samples, noise_threshold)


@dataclass
class Adaptive:
    """Stopping rule of :func:`time_interleaved`."""
    target: float = CI_TARGET          # stop when ci_rel <= target ...
    min_repeats: int = 10              # ... after at least this many samples
    max_repeats: int = 1000
    budget_s: float = 10.0             # timed seconds per mode
    confidence: float = CONFIDENCE
    per_round: int = 3                 # timed calls of a mode per turn in a round ...
    rewarm: int = 1                    # ... after this many untimed ones (caches refilled)

    def __post_init__(self):
        if self.per_round < 1 or self.rewarm < 0:
            raise ValueError("per_round must be >= 1 and rewarm >= 0")
        if self.min_repeats < 1:
            raise ValueError("min_repeats must be >= 1")
        if self.max_repeats < self.min_repeats:
            raise ValueError("max_repeats must be >= min_repeats")
        if self.target < 0 or not self.budget_s > 0:
            raise ValueError("target must be >= 0 and budget_s > 0")

    @classmethod
    def fixed(cls, repeats: int, target: float = CI_TARGET) -> "Adaptive":
        """Exactly ``repeats`` samples (``converged`` still says whether the
        interval met ``target``)."""
        return cls(target=target, min_repeats=repeats, max_repeats=repeats, budget_s=float("inf"))


@dataclass
class Measurement:
    samples: list = field(default_factory=list)
    spent: float = 0.0                 # wall seconds of the timed calls
    cpu: float = 0.0                   # process CPU seconds (all threads) during them
    stats: Stats | None = None
    error: str = ""

    @property
    def parallelism(self) -> float | None:
        """Process CPU seconds per wall second over the timed calls: about the
        thread count when every thread ran all the time; lower when the work
        is serial or when other processes kept some threads off the CPUs
        (an OpenMP region then waits for its descheduled thread)."""
        return self.cpu / self.spent if self.spent > 0 else None


def time_interleaved(fns: dict, *, warmup: int = 3, rule: Adaptive | None = None,
                     timer: Callable | None = None, before: dict | None = None,
                     noise_threshold: float = NOISE_THRESHOLD,
                     cpu_clock: Callable[[], float] = time.process_time) -> dict:
    """Time several callables (``{name: fn}``) in interleaved rounds until
    each one's median is known to ``rule.target`` (see the module docstring).
    ``before[name]()`` runs untimed before each call of ``name`` (the runner
    restores the eager thread count there). A callable that raises is
    dropped with its error; the others go on. Returns ``{name: Measurement}``
    with ``stats`` set (``None`` when it failed before its first sample) and
    ``cpu`` the process CPU time read with ``cpu_clock`` around each timed
    call (see :attr:`Measurement.parallelism`)."""
    rule = rule or Adaptive()
    timer = timer or WallTimer()
    before = before or {}
    out = {name: Measurement() for name in fns}
    active = list(fns)

    def call(name, timed):
        hook = before.get(name)
        if hook is not None:
            hook()
        if timed:
            return timer(fns[name])
        fns[name]()
        return None

    for name in list(active):
        try:
            for _ in range(warmup):
                call(name, False)
            timer.sync()
        except Exception as e:
            out[name].error = f"{type(e).__name__}: {e}"[:300]
            active.remove(name)
    stop = {}
    rnd = 0
    while active:
        k = rnd % len(active)
        for name in active[k:] + active[:k]:
            m = out[name]
            try:
                for _ in range(rule.rewarm):
                    call(name, False)
                for _ in range(min(rule.per_round, rule.max_repeats - len(m.samples))):
                    c0 = cpu_clock()
                    t = call(name, True)
                    m.cpu += cpu_clock() - c0
                    m.samples.append(t)
                    m.spent += t
            except Exception as e:
                m.error = f"{type(e).__name__}: {e}"[:300]
                stop[name] = "failed"
        rnd += 1
        for name in list(active):
            m = out[name]
            if name in stop:
                active.remove(name)
                continue
            n = len(m.samples)
            if n >= rule.min_repeats:
                st = summarize(m.samples, noise_threshold, rule.confidence)
                if st.ci_rel is not None and st.ci_rel <= rule.target:
                    stop[name] = "converged"
                elif m.spent >= rule.budget_s:
                    stop[name] = "time budget"
                elif n >= rule.max_repeats:
                    stop[name] = "max repeats"
            if name in stop:
                active.remove(name)
    for name, m in out.items():
        if m.samples:
            why = stop.get(name, "")
            m.stats = summarize(m.samples, noise_threshold, rule.confidence,
                                converged=why == "converged", stop=why)
    return out


# -- threads ----------------------------------------------------------------

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3     # glibc mallopt parameters


def pin_malloc(mmap_threshold: int = 32 << 20, trim_threshold: int = 1 << 30, libc=None) -> dict:
    """Make glibc's allocator behave the same whatever ran before.

    glibc serves blocks above ``M_MMAP_THRESHOLD`` with ``mmap`` and unmaps
    them on free, so every eager pass page-faults its large activations in
    again; and it *raises* that threshold to the size of the largest
    mmapped block freed so far. An eager forward pass therefore runs at a
    speed set by the process's history (measured here: resnet18 eager
    120.5 ms with 1708 page faults per pass in a fresh process, 60.7 ms with
    2 after one 2048x2048 matmul had been freed). Setting both thresholds
    with ``mallopt`` turns the adjustment off: blocks below 32 MiB come from
    the heap, which is kept (trim threshold 1 GiB). No-op where glibc's
    ``mallopt`` is missing; the result says what happened."""
    try:
        if libc is None:
            import ctypes
            import ctypes.util
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = (libc.mallopt(M_MMAP_THRESHOLD, int(mmap_threshold)) == 1
              and libc.mallopt(M_TRIM_THRESHOLD, int(trim_threshold)) == 1)
    except (OSError, AttributeError, TypeError) as e:
        return {"applied": False, "reason": f"no glibc mallopt ({e})"}
    return {"applied": ok, "mmap_threshold": mmap_threshold, "trim_threshold": trim_threshold,
            **({} if ok else {"reason": "mallopt refused the values"})}


def thread_restorer(n: int) -> Callable[[], None]:
    """A cheap callable that sets the math library's thread count back to
    ``n`` (run untimed before each eager / to_static call: creating or running
    a Paddle Inference predictor can change it)."""
    try:
        from paddle.base import core
        setter = core.set_num_threads
    except Exception:  # pragma: no cover - depends on the Paddle build
        return _no_sync
    return lambda: setter(int(n))


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


# --------------------------------------------------------------------------- between processes

_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def t975(dof: int) -> float:
    """The 97.5 % quantile of Student's t with ``dof`` degrees of freedom."""
    if dof < 1:
        raise ValueError("a t quantile needs at least one degree of freedom")
    return _T975[dof - 1] if dof <= len(_T975) else 1.960


@dataclass(frozen=True)
class BetweenProcess:
    """Per-process medians (seconds) and what they say about the next one."""
    medians: tuple
    median: float
    spread: float                  # (max - min) / median
    low: float | None              # prediction interval for the next process median
    high: float | None

    def to_dict(self, scale: float = 1e3) -> dict:
        return {"medians": [m * scale for m in self.medians], "median": self.median * scale,
                "spread": self.spread, "low": None if self.low is None else self.low * scale,
                "high": None if self.high is None else self.high * scale,
                "interval": "95 % prediction interval of the next process median (log scale, Student t)"}


def between_process(medians: list[float]) -> BetweenProcess:
    """Spread and prediction interval of per-process medians (see the module docstring)."""
    xs = sorted(float(m) for m in medians)
    if not xs or xs[0] <= 0:
        raise ValueError("between_process needs positive per-process medians")
    n = len(xs)
    mid = xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
    spread = (xs[-1] - xs[0]) / mid
    if n < 2:
        return BetweenProcess(tuple(medians), mid, spread, None, None)
    logs = [math.log(x) for x in xs]
    mean = sum(logs) / n
    s = math.sqrt(sum((v - mean) ** 2 for v in logs) / (n - 1))
    half = t975(n - 1) * s * math.sqrt(1 + 1 / n)
    return BetweenProcess(tuple(medians), mid, spread, math.exp(mean - half), math.exp(mean + half))
