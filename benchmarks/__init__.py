"""Benchmark scripts (overhead, scale) run from the repository root; their
results are committed under ``benchmarks/results/``."""
