"""Benchmark scripts and the model zoo used by ``paddle-flops bench``.

Importable from the repository root (``import benchmarks.models``).
"""
