"""Helpers shared by the formula tests."""
from paddle_flops_ext.formulas import registry


def through_ops(layer):
    """The same layer, re-classed so that it has no formula: a subclass whose
    forward only calls the parent's forward counts as "rewrote forward", so the
    profiler counts it through the operations Paddle runs."""
    base = type(layer)

    class ViaOps(base):
        def forward(self, *args, **kwargs):
            return base.forward(self, *args, **kwargs)

    layer.__class__ = ViaOps
    assert registry.lookup_layer(ViaOps) is None
    return layer
