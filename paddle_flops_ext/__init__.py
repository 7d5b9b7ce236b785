"""paddle_flops_ext: parameters, MACs and FLOPs of PaddlePaddle models, per
layer and in total, and measured latency next to them.

The public names are imported on first use (PEP 562), so that importing the
package - and ``paddle-flops --help`` - does not import Paddle."""
from importlib import import_module

from .quiet import import_paddle_quietly

_PUBLIC = {
    "profile": ".api", "flops": ".api", "register": ".api", "unregister": ".api",
    "Cost": ".formulas.registry",
    "ProfileResult": ".report.result", "LayerNode": ".report.result",
    "PaddleFlopsError": ".errors", "HandlerError": ".errors", "ForwardError": ".errors",
    "ModelChanged": ".errors", "ProfilingBusy": ".errors", "TraceError": ".errors", "StrictError": ".errors",
    "profile_generation": ".llm.generation", "GenerationResult": ".llm.generation",
    "lazy_init": ".lazy", "build_lazily": ".lazy",
    "compare": ".bench.compare",
    "predict_latency": ".bench.calibrate", "Calibration": ".bench.calibrate",
    "plan": ".estimates.parallel", "ParallelLayout": ".estimates.parallel", "PlanRequest": ".estimates.parallel",
    "shape_from_result": ".estimates.parallel", "plan_config": ".llm.plan",
}

__all__ = list(_PUBLIC)
__version__ = "0.1.0"


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import_paddle_quietly()
    value = getattr(import_module(_PUBLIC[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
