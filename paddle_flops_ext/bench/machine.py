"""A description of the machine a benchmark ran on."""
from __future__ import annotations

import os
import platform
import sys


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
    }
    if str(device).startswith("gpu"):
        try:
            d["gpu_name"] = paddle.device.cuda.get_device_name()
            d["cuda"] = paddle.version.cuda()
            d["cudnn"] = paddle.version.cudnn()
        except Exception as e:  # pragma: no cover - GPU only
            d["gpu_name"] = f"unknown ({e})"
    return d
