"""Theoretical peaks: the CPU's from injected /proc/cpuinfo and lscpu text
(cores x clock x FLOPs per cycle, written out here), the GPU table by
device name, MFU and HFU."""
import pytest

from paddle_flops_ext.bench.hardware import cpu_flags, cpu_peak, gpu_peak, this_cpu_peak, utilisation


def _cpuinfo(flags: str, cores: int = 2, threads_per_core: int = 1, mhz: float = 2600.0,
             name: str = "Test CPU") -> str:
    blocks, processor = [], 0
    for core in range(cores):
        for _ in range(threads_per_core):
            blocks.append(f"processor\t: {processor}\nmodel name\t: {name}\ncpu MHz\t\t: {mhz}\n"
                          f"physical id\t: 0\ncore id\t\t: {core}\nflags\t\t: {flags}\n")
            processor += 1
    return "\n".join(blocks) + "\n"


LSCPU = "Architecture:            x86_64\nCPU max MHz:             3500.0000\nCPU min MHz:             800.0000\n"


def test_avx512_peak_is_cores_by_max_clock_by_64_flops_per_cycle():
    p = cpu_peak(_cpuinfo("fpu sse sse2 avx avx2 fma avx512f", cores=4, threads_per_core=2), LSCPU)
    assert p.peak("fp32") == 4 * 3.5e9 * (16 * 2 * 2)          # hyper-threads are not cores
    assert "bf16" not in p.flops_per_s
    assert any("FMA units" in n for n in p.notes)


def test_avx2_fma_peak_and_current_clock_fallback_said():
    p = cpu_peak(_cpuinfo("sse sse2 avx avx2 fma", cores=2, mhz=2599.998))
    assert p.peak("fp32") == pytest.approx(2 * 2.599998e9 * (8 * 2 * 2))
    assert any("current" in n for n in p.notes)


def test_avx_without_fma_and_sse():
    assert cpu_peak(_cpuinfo("sse sse2 avx", cores=1), LSCPU).peak() == 3.5e9 * 8 * 2
    assert cpu_peak(_cpuinfo("sse sse2", cores=1), LSCPU).peak() == 3.5e9 * 4 * 2


def test_amx_and_avx512_bf16():
    amx = cpu_peak(_cpuinfo("avx2 fma avx512f avx512_bf16 amx_bf16 amx_tile", cores=8), LSCPU)
    assert amx.peak("bf16") == 8 * 3.5e9 * 1024
    vnni = cpu_peak(_cpuinfo("avx2 fma avx512f avx512_bf16", cores=8), LSCPU)
    assert vnni.peak("bf16") == 2 * vnni.peak("fp32")
    with pytest.raises(ValueError, match="no int8 peak"):
        vnni.peak("int8")


def test_cores_override_and_flags():
    assert cpu_peak(_cpuinfo("avx2 fma", cores=8), LSCPU, cores=2).peak() == 2 * 3.5e9 * 32
    assert cpu_flags(_cpuinfo("a b c")) == {"a", "b", "c"}


def test_this_machine_has_a_peak():
    p = this_cpu_peak()
    assert p.peak("fp32") > 0 and "cores" in p.derivation


@pytest.mark.parametrize("name,bf16,fp32", [
    ("NVIDIA H100 80GB HBM3", 989.5e12, 67e12), ("NVIDIA H100 PCIe", 756e12, 51e12),
    ("NVIDIA H200", 989.5e12, 67e12), ("NVIDIA A100-SXM4-80GB", 312e12, 19.5e12),
    ("NVIDIA A100-PCIE-40GB", 312e12, 19.5e12), ("NVIDIA L40S", 362e12, 91.6e12),
    ("NVIDIA A10", 125e12, 31.2e12), ("NVIDIA GeForce RTX 4090", 165.2e12, 82.6e12),
])
def test_gpu_table_by_device_name(name, bf16, fp32):
    p = gpu_peak(name)
    assert p.peak("bf16") == pytest.approx(bf16) and p.peak("fp32") == pytest.approx(fp32)


def test_gpu_names_are_not_confused():
    assert gpu_peak("Tesla T4").peak("fp16") == pytest.approx(65e12)
    assert gpu_peak("Tesla V100-SXM2-32GB").peak("fp16") == pytest.approx(125e12)
    assert gpu_peak("NVIDIA L4").peak("bf16") == pytest.approx(121e12)       # not L40S
    with pytest.raises(ValueError, match="no peak known"):
        gpu_peak("Some Accelerator 9000")


def test_mfu_hfu_and_matmul_efficiency():
    u = utilisation(model_flops=6e12, hardware_flops=8e12, step_seconds=2.0, peak_flops_per_s=10e12,
                    matmul_flops_per_s=7e12)
    assert (u.achieved_flops_per_s, u.mfu, u.hfu, u.matmul_efficiency) == (3e12, 0.3, 0.4, 0.7)
    with pytest.raises(ValueError):
        utilisation(1, 1, 0, 1)
