"""Benchmark harness: measured inference latency next to the static counts.

- :mod:`.timing`   warm-up, device sync / CUDA events, interleaved adaptive
                   repeats, the median's confidence interval, thread and
                   allocator settings
- :mod:`.modes`    eager, ``paddle.jit.to_static``, Paddle Inference predictor
                   (fp32, bf16, int8 reported unavailable, TensorRT)
- :mod:`.peak`     measured matmul GFLOP/s per precision and copy GB/s per
                   cache level and DRAM
- :mod:`.layers`   per-layer wall time with forward hooks, the hooks' own
                   overhead measured and subtracted
- :mod:`.roofline` bytes moved, arithmetic intensity, the roof for each
                   layer's working set, compute- or memory-bound
- :mod:`.machine`  machine description, caches, the load check
- :mod:`.merge`    sharding the grid across ranks, merging ranks / processes
- :mod:`.zoo`      the sweep's models (from ``paddle_flops_ext.models.zoo``) and
                   ``module:callable`` models
- :mod:`.runner`   the sweep (models x batch sizes x input sizes x modes)
- :mod:`.report`   JSON / CSV / Markdown writers; :mod:`.plots` PNG plots
- :mod:`.session`  what ``paddle-flops bench`` runs (its parser: ``paddle_flops_ext.cli``)
- :mod:`.compare`  ``pfe.compare``: several models in one table, optionally timed

Python use::

    from paddle_flops_ext.bench import BenchConfig, run_benchmark
    results = run_benchmark(BenchConfig(models=["resnet18"], repeats=10))
"""
from .runner import BenchConfig, run_benchmark
from .timing import Stats, summarize, time_callable

__all__ = ["BenchConfig", "run_benchmark", "Stats", "summarize", "time_callable"]
