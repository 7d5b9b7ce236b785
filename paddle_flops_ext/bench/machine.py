"""A description of the machine a benchmark ran on, its caches, and the
load check the runner does before each model.

Load check (:func:`load_check`): the share of the machine's CPU time that
*other* processes used over a short window (``/proc/stat`` busy jiffies
while this process sleeps), not the load average, which is a one-minute
moving average and counts this process's own threads. Above ``threshold``
the check waits (re-measuring) up to ``max_wait_s``; the result says how busy
the machine was, how long it waited, and whether it was still busy, and the
runner records it with the model's rows.
"""
from __future__ import annotations

import os
import platform
import sys
import time


def _cpuinfo() -> dict:
    info = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if ":" not in line:
                    continue
                k, v = (s.strip() for s in line.split(":", 1))
                if k == "model name" and "cpu_model" not in info:
                    info["cpu_model"] = v
                elif k == "flags" and "flags" not in info:
                    flags = set(v.split())
                    info["simd"] = [f for f in ("avx", "avx2", "fma", "avx512f", "avx512_bf16",
                                                "amx_tile", "neon") if f in flags]
    except OSError:
        pass
    if "cpu_model" not in info:
        info["cpu_model"] = platform.processor() or platform.machine()
    return info


def _mem_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2 ** 20, 1)
    except OSError:
        pass
    return None


def load_average() -> list | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _size_bytes(text: str) -> int | None:
    text = text.strip().upper()
    mult = {"K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30}
    try:
        if text and text[-1] in mult:
            return int(float(text[:-1]) * mult[text[-1]])
        return int(text)
    except ValueError:
        return None


def cache_levels(root: str = "/sys/devices/system/cpu/cpu0/cache") -> list[dict]:
    """Data/unified caches of cpu0: ``[{level, size_bytes, shared_by}]``,
    innermost first ("shared_by": how many logical CPUs share one instance)."""
    out = []
    try:
        names = sorted(n for n in os.listdir(root) if n.startswith("index"))
    except OSError:
        return out
    for n in names:
        d = os.path.join(root, n)
        try:
            with open(os.path.join(d, "type")) as f:
                kind = f.read().strip()
            if kind == "Instruction":
                continue
            with open(os.path.join(d, "level")) as f:
                level = int(f.read())
            with open(os.path.join(d, "size")) as f:
                size = _size_bytes(f.read())
            shared = 1
            try:
                with open(os.path.join(d, "shared_cpu_list")) as f:
                    shared = _count_cpus(f.read())
            except OSError:
                pass
        except (OSError, ValueError):
            continue
        if size:
            out.append({"level": f"L{level}", "size_bytes": size, "shared_by": shared})
    return sorted(out, key=lambda c: c["level"])


def _count_cpus(text: str) -> int:
    n = 0
    for part in text.strip().split(","):
        if "-" in part:
            a, b = part.split("-")
            n += int(b) - int(a) + 1
        elif part:
            n += 1
    return max(n, 1)


def _read_stat() -> tuple[int, int] | None:
    """(busy, total) jiffies over all CPUs from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def busy_fraction(window_s: float = 0.5, read_stat=_read_stat, sleep=time.sleep) -> float | None:
    """Share of all CPUs busy during ``window_s`` while this thread sleeps."""
    a = read_stat()
    sleep(window_s)
    b = read_stat()
    if a is None or b is None or b[1] <= a[1]:
        return None
    return (b[0] - a[0]) / (b[1] - a[1])


def load_check(threshold: float = 0.15, max_wait_s: float = 10.0, window_s: float = 0.5,
               measure=None, clock=time.monotonic) -> dict:
    """Wait (up to ``max_wait_s``) until other processes use at most
    ``threshold`` of the CPUs. ``{busy_fraction, waited_s, busy, load_1min}``;
    ``busy`` is True when the machine was still busy when the check gave up."""
    measure = measure or (lambda: busy_fraction(window_s))
    t0 = clock()
    frac = measure()
    while frac is not None and frac > threshold and clock() - t0 < max_wait_s:
        frac = measure()
    la = load_average()
    return {"busy_fraction": None if frac is None else round(frac, 3),
            "waited_s": round(clock() - t0, 2),
            "busy": bool(frac is not None and frac > threshold),
            "load_1min": la[0] if la else None,
            "cpu_pressure_avg10": cpu_pressure()}


def cpu_pressure(path: str = "/proc/pressure/cpu") -> float | None:
    """Linux PSI: % of the last 10 s in which some runnable task waited for a CPU."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("some"):
                    return float(dict(kv.split("=") for kv in line.split()[1:])["avg10"])
    except (OSError, KeyError, ValueError):
        pass
    return None


def describe_machine(device: str, threads: dict) -> dict:
    import paddle
    from paddle.base import core
    d = {
        **_cpuinfo(),
        "cpu_count": os.cpu_count(),
        "memory_gib": _mem_gib(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "paddle": paddle.__version__,
        "paddle_commit": getattr(paddle.version, "commit", None),
        "compiled_with_cuda": bool(paddle.device.is_compiled_with_cuda()),
        "compiled_with_onednn": bool(core.is_compiled_with_onednn()),
        "device": device,
        "threads": threads,
        "load_average_start": load_average(),
        "caches": cache_levels(),
    }
    if str(device).startswith("gpu"):
        try:
            d["gpu_name"] = paddle.device.cuda.get_device_name()
            d["cuda"] = paddle.version.cuda()
            d["cudnn"] = paddle.version.cudnn()
        except Exception as e:  # pragma: no cover - GPU only
            d["gpu_name"] = f"unknown ({e})"
    return d


def cpu_has_bf16(simd=None) -> bool:
    if simd is None:
        simd = _cpuinfo().get("simd", [])
    return "avx512_bf16" in simd or "amx_bf16" in simd


# --------------------------------------------------------------------------- this process's memory

def process_memory_bytes(field: str) -> int:
    """A memory figure of this process from ``/proc/self/status``, in bytes:
    ``"VmRSS"`` now, ``"VmHWM"`` its own peak (``ru_maxrss`` would carry the
    parent's high-water mark across fork and exec); 0 where absent."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def allocator_bytes() -> tuple[int, int] | None:
    """``(current, peak)`` bytes Paddle's CPU allocator has handed out (the
    peak since :func:`reset_allocator_peak`); None where Paddle lacks the
    counters."""
    from paddle.base import core  # local: Paddle is imported only where memory is measured
    try:
        return (int(core.host_memory_stat_current_value("Allocated", 0)),
                int(core.host_memory_stat_peak_value("Allocated", 0)))
    except (AttributeError, RuntimeError):
        return None


def reset_allocator_peak() -> None:
    """Start the allocator's peak afresh (a no-op where Paddle lacks the counters)."""
    from paddle.base import core  # local: as above
    try:
        core.host_memory_stat_reset_peak_value("Allocated", 0)
    except (AttributeError, RuntimeError):
        pass

