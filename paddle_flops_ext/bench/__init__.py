"""Benchmark harness: measured inference latency next to the static counts.

- :mod:`.timing`   warm-up, device synchronisation, repeats, statistics
- :mod:`.modes`    eager, ``paddle.jit.to_static``, Paddle Inference predictor
- :mod:`.peak`     the machine's measured matmul GFLOP/s and copy GB/s
- :mod:`.layers`   per-layer wall time with forward hooks
- :mod:`.roofline` bytes moved, arithmetic intensity, compute- or memory-bound
- :mod:`.zoo`      the embedded model zoo and ``module:callable`` models
- :mod:`.runner`   the sweep (models x batch sizes x input sizes x modes)
- :mod:`.report`   JSON / CSV / Markdown writers; :mod:`.plots` PNG plots
- :mod:`.cli`      ``paddle-flops bench``

Python use::

    from paddle_flops_ext.bench import BenchConfig, run_benchmark
    results = run_benchmark(BenchConfig(models=["resnet18"], repeats=10))
"""
from .runner import BenchConfig, run_benchmark
from .timing import Stats, summarize, time_callable

__all__ = ["BenchConfig", "run_benchmark", "Stats", "summarize", "time_callable"]
