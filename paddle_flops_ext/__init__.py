"""paddle_flops_ext: parameters, MACs and FLOPs of PaddlePaddle models, per
layer and in total, and measured latency next to them."""
from .api import flops, profile, register, unregister
from .formulas.registry import Cost, HandlerError
from .report.result import LayerNode, ProfileResult
from .collect.core import ForwardError, ModelChanged
from .collect.patch import ProfilingBusy
from .collect.program import TraceError

__all__ = ["profile", "flops", "register", "unregister", "Cost", "ProfileResult", "LayerNode", "ForwardError",
           "TraceError", "HandlerError", "ModelChanged", "ProfilingBusy"]
__version__ = "0.1.0"
