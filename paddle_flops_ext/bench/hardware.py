"""The hardware's theoretical peak, and utilisation against it.

Model FLOPs utilisation (MFU) is, by convention, the model's FLOPs per
second over the hardware's *theoretical* peak; hardware FLOPs utilisation
(HFU) counts the recomputed forward too. A measured matmul is not that peak
(an eager 1024 x 1024 product reaches a fraction of it); it is reported
beside it as the achieved matmul efficiency.

CPU: ``cores x clock x FLOPs per cycle per core``, with the FLOPs per cycle
read off the instruction-set flags in ``/proc/cpuinfo`` (vector width, FMA)
and the clock from ``lscpu``'s "CPU max MHz" (else the current "cpu MHz",
said so). Counted cores are physical cores (distinct ``physical id`` /
``core id`` pairs). Assumed, and stated in every result: two vector FMA
units per core (server Skylake-SP Gold/Platinum and later, Zen 4/5 at 256
bits per unit); a part with one AVX-512 FMA unit reaches half of the AVX-512
figure.

GPU: a table of common cards' dense (no structured sparsity) peaks by
precision, chosen by the device name Paddle reports
(``paddle.device.cuda.get_device_name()``).
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field

# --------------------------------------------------------------------------- CPU


@dataclass(frozen=True)
class HardwarePeak:
    """A device's theoretical peak FLOP/s by precision, and how it was derived."""
    device: str
    flops_per_s: dict                 # precision ("fp32", "bf16", ...) -> FLOP/s
    derivation: str                   # how the figure follows (cores x clock x width, or the table's source)
    notes: list = field(default_factory=list)   # assumptions and fallbacks, said in every result

    def peak(self, precision: str = "fp32") -> float:
        """The peak at ``precision``; ValueError naming the known ones."""
        if precision not in self.flops_per_s:
            raise ValueError(f"no {precision} peak for {self.device}; known: {', '.join(self.flops_per_s)}")
        return self.flops_per_s[precision]


# fp32 lanes per vector register and FLOPs per lane per cycle (2 with FMA)
_FMA_UNITS = 2


def cpu_flags(cpuinfo: str) -> set:
    """The instruction-set flags of the first processor in ``/proc/cpuinfo`` text."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def fp32_flops_per_cycle(flags: set) -> tuple[int, str]:
    """FP32 FLOPs per cycle per core from the vector width and FMA:
    ``lanes x 2 (multiply-add) x FMA units``; without FMA a multiply and an
    add issue separately (also 2 FLOPs per lane per cycle, one unit each)."""
    if "avx512f" in flags:
        return 16 * 2 * _FMA_UNITS, f"AVX-512: 16 fp32 lanes x FMA (2) x {_FMA_UNITS} units"
    if "avx2" in flags and "fma" in flags:
        return 8 * 2 * _FMA_UNITS, f"AVX2+FMA: 8 fp32 lanes x FMA (2) x {_FMA_UNITS} units"
    if "avx" in flags:
        return 8 * 2, "AVX without FMA: 8 fp32 lanes x (1 multiply + 1 add)"
    if "sse2" in flags or "sse" in flags:
        return 4 * 2, "SSE: 4 fp32 lanes x (1 multiply + 1 add)"
    if "asimd" in flags:   # Arm NEON: 4 fp32 lanes, FMA, 2 units on the common server cores
        return 4 * 2 * _FMA_UNITS, f"NEON: 4 fp32 lanes x FMA (2) x {_FMA_UNITS} units"
    return 2, "no vector flags: 1 scalar FMA per cycle"


def bf16_flops_per_cycle(flags: set, fp32_per_cycle: int) -> tuple[int, str] | None:
    """BF16 FLOPs per cycle per core: AMX (``amx_bf16``: 1,024 per cycle,
    Intel's figure for Sapphire Rapids' TMUL), else ``avx512_bf16``
    (VDPBF16PS: a pair of bf16 products per fp32 lane, twice fp32), else none."""
    if "amx_bf16" in flags:
        return 1024, "AMX-BF16 tile unit: 1024 bf16 FLOPs per cycle"
    if "avx512_bf16" in flags:
        return 2 * fp32_per_cycle, "AVX512_BF16 (VDPBF16PS): twice the fp32 rate"
    return None


def _physical_cores(cpuinfo: str) -> int:
    pairs, processors = set(), 0
    physical = core = None
    for line in cpuinfo.splitlines() + [""]:
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "processor":
            processors += 1
        elif key == "physical id":
            physical = value.strip()
        elif key == "core id":
            core = value.strip()
        elif not line.strip():
            if core is not None:
                pairs.add((physical, core))
            physical = core = None
    return len(pairs) or processors


def _lscpu_field(lscpu: str, name: str) -> str | None:
    for line in lscpu.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


def cpu_peak(cpuinfo: str, lscpu: str = "", cores: int | None = None) -> HardwarePeak:
    """The CPU's theoretical peak from ``/proc/cpuinfo`` text and ``lscpu``
    text (either may come from another machine). ``cores``: count these
    instead of every physical core (the cores a run may use)."""
    flags = cpu_flags(cpuinfo)
    notes = []
    n = cores if cores is not None else _physical_cores(cpuinfo)
    if n <= 0:
        raise ValueError("no processor in the cpuinfo text")
    mhz = _lscpu_field(lscpu, "CPU max MHz")
    if mhz is None:
        found = re.search(r"^cpu MHz\s*:\s*([\d.]+)", cpuinfo, re.M)
        if found is None:
            raise ValueError("no clock: neither lscpu's 'CPU max MHz' nor cpuinfo's 'cpu MHz'")
        mhz = found.group(1)
        notes.append("clock: cpuinfo's current 'cpu MHz' (lscpu gives no max MHz; turbo not counted)")
    hz = float(mhz) * 1e6
    per_cycle, how = fp32_flops_per_cycle(flags)
    if _FMA_UNITS == 2 and ("avx512f" in flags or "fma" in flags):
        notes.append(f"assumes {_FMA_UNITS} FMA units per core; a one-unit part reaches half")
    flops = {"fp32": n * hz * per_cycle}
    derivation = f"{n} cores x {hz / 1e9:.2f} GHz x {per_cycle} fp32 FLOPs/cycle ({how})"
    bf16 = bf16_flops_per_cycle(flags, per_cycle)
    if bf16 is not None:
        flops["bf16"] = n * hz * bf16[0]
        derivation += f"; bf16 {bf16[0]} FLOPs/cycle ({bf16[1]})"
    name = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    return HardwarePeak(name.group(1).strip() if name else "CPU", flops, derivation, notes)


def this_cpu_peak(cores: int | None = None) -> HardwarePeak:
    """:func:`cpu_peak` of this machine (``/proc/cpuinfo`` and ``lscpu``)."""
    with open("/proc/cpuinfo") as f:
        cpuinfo = f.read()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        lscpu = ""
    return cpu_peak(cpuinfo, lscpu, cores)


# --------------------------------------------------------------------------- GPU

_T = 1e12
# Dense tensor-core peaks (no 2:4 sparsity), FLOP/s; fp32 is the non-tensor-core rate.
# Keys are matched against the device name, most specific first (see gpu_peak).
GPU_PEAKS = {
    # NVIDIA H200 datasheet (SXM): the H100 SXM's compute
    "H200": {"fp64": 34 * _T, "fp32": 67 * _T, "tf32": 494.5 * _T, "bf16": 989.5 * _T, "fp16": 989.5 * _T,
             "fp8": 1979 * _T},
    # NVIDIA H100 datasheet, PCIe column (sparse figures halved)
    "H100 PCIe": {"fp64": 26 * _T, "fp32": 51 * _T, "tf32": 378 * _T, "bf16": 756 * _T, "fp16": 756 * _T,
                  "fp8": 1513 * _T},
    # NVIDIA H100 datasheet, SXM column (sparse figures halved)
    "H100": {"fp64": 34 * _T, "fp32": 67 * _T, "tf32": 494.5 * _T, "bf16": 989.5 * _T, "fp16": 989.5 * _T,
             "fp8": 1979 * _T},
    # NVIDIA A100 datasheet (SXM and PCIe alike)
    "A100": {"fp64": 9.7 * _T, "fp32": 19.5 * _T, "tf32": 156 * _T, "bf16": 312 * _T, "fp16": 312 * _T,
             "int8": 624 * _T},
    # NVIDIA L40S datasheet (sparse figures halved)
    "L40S": {"fp32": 91.6 * _T, "tf32": 183 * _T, "bf16": 362 * _T, "fp16": 362 * _T, "fp8": 733 * _T},
    # NVIDIA L4 datasheet (sparse figures halved)
    "L4": {"fp32": 30.3 * _T, "tf32": 60 * _T, "bf16": 121 * _T, "fp16": 121 * _T, "fp8": 242.5 * _T},
    # NVIDIA A10 datasheet (sparse figures halved)
    "A10": {"fp32": 31.2 * _T, "tf32": 62.5 * _T, "bf16": 125 * _T, "fp16": 125 * _T, "int8": 250 * _T},
    # NVIDIA V100 datasheet, SXM2 column
    "V100": {"fp64": 7.8 * _T, "fp32": 15.7 * _T, "fp16": 125 * _T},
    # NVIDIA T4 datasheet
    "T4": {"fp32": 8.1 * _T, "fp16": 65 * _T, "int8": 130 * _T},
    # NVIDIA Ada Lovelace architecture whitepaper, GeForce RTX 4090: tensor figures with fp32 accumulate
    "RTX 4090": {"fp32": 82.6 * _T, "tf32": 82.6 * _T, "bf16": 165.2 * _T, "fp16": 165.2 * _T,
                 "fp8": 330.3 * _T},
    # NVIDIA Ampere GA102 whitepaper, GeForce RTX 3090: tensor figures with fp32 accumulate
    "RTX 3090": {"fp32": 35.6 * _T, "tf32": 35.6 * _T, "bf16": 71 * _T, "fp16": 71 * _T},
}


def _normalise(name: str) -> str:
    return re.sub(r"[\s_-]+", " ", name).upper()


def gpu_peak(device_name: str) -> HardwarePeak:
    """The table's entry whose key the device name contains, the longest key
    first ("NVIDIA H100 PCIe" is the PCIe card, "NVIDIA H100 80GB HBM3" the
    SXM one); ValueError naming the known cards when none matches."""
    name = _normalise(device_name)
    for key in sorted(GPU_PEAKS, key=len, reverse=True):
        if re.search(r"(^|[^A-Z0-9])" + re.escape(_normalise(key)) + r"($|[^A-Z0-9])", name):
            notes = ["dense tensor-core peaks (no 2:4 sparsity); fp32 without tensor cores"]
            return HardwarePeak(device_name, dict(GPU_PEAKS[key]), f"table entry {key!r}", notes)
    raise ValueError(f"no peak known for GPU {device_name!r}; known: {', '.join(GPU_PEAKS)} "
                     f"(pass the peak yourself)")


# --------------------------------------------------------------------------- utilisation


@dataclass(frozen=True)
class Utilisation:
    """A step's FLOP rates against the hardware's theoretical peak."""
    achieved_flops_per_s: float       # model FLOPs / step time
    peak_flops_per_s: float
    mfu: float                        # model FLOPs utilisation
    hfu: float                        # hardware FLOPs utilisation (recomputation included)
    matmul_efficiency: float | None   # a measured matmul's FLOP/s over the same peak


def utilisation(model_flops: float, hardware_flops: float, step_seconds: float, peak_flops_per_s: float,
                matmul_flops_per_s: float | None = None) -> Utilisation:
    """MFU = model FLOPs / (step time x peak); HFU the same with the
    hardware FLOPs (the recomputed forward included); the achieved matmul
    efficiency beside them when a measured matmul rate is given."""
    if step_seconds <= 0 or peak_flops_per_s <= 0:
        raise ValueError("step time and peak must be positive")
    achieved = model_flops / step_seconds
    return Utilisation(achieved, peak_flops_per_s, achieved / peak_flops_per_s,
                       hardware_flops / step_seconds / peak_flops_per_s,
                       None if matmul_flops_per_s is None else matmul_flops_per_s / peak_flops_per_s)
