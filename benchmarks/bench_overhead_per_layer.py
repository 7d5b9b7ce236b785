"""What each per-layer piece of profile() costs, on the stack of 1000
``Linear(16, 16)`` of ``bench_overhead.py``, each piece timed on its own in a
warm loop (best of --repeats), in microseconds per layer and as a fraction
of the plain forward's time per layer. Explains why that model's 1.5x target
is out of reach while every guarantee holds: the pieces add up to most of a
forward.

    python benchmarks/bench_overhead_per_layer.py [--repeats 7] [--out benchmarks/results/overhead_per_layer.md]
"""
from __future__ import annotations

import argparse
import os
import sys
import timeit


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    from paddle_flops_ext.quiet import import_paddle_quietly
    paddle = import_paddle_quietly()
    from paddle_flops_ext.bench.report import publish_markdown
    from paddle_flops_ext.report.content import Column, Content
    from paddle_flops_ext.report.render import render_markdown
    from paddle_flops_ext.collect import core, guards, instrument, intercept, patch, records
    from paddle_flops_ext.collect.params import parameter_counts
    from paddle_flops_ext.report.assemble import assemble

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_overhead import INPUT_SIZES, linear_stack

    net = linear_stack()
    net.eval()
    size = INPUT_SIZES["linear_stack_1000"]
    x = paddle.randn(size)
    layers = [r.layer for r in records.layer_records(net)]
    n = len(layers) - 1   # the Linear layers (the Sequential itself is one more record)

    def best(fn, number=10) -> float:
        """Seconds per call, best of ``repeats`` (the least disturbed run)."""
        return min(timeit.repeat(fn, number=number, repeat=args.repeats)) / number

    def forward():
        with paddle.no_grad():
            net(x)

    def guarded(install):
        """The forward with ``install(patches, attribution)`` in place."""
        with patch.session() as p:
            a = core.Attribution(net, core.EagerShapes())
            install(p, a)
            return best(forward)

    def snapshot_layers():
        p = patch.Patches()
        guards._snapshot_layers(p, layers)
        p.restore()

    def snapshot_values():
        p = patch.Patches()
        guards._snapshot_values(p, layers)
        p.restore()

    def no_formula(p, a):   # every layer counted through its ops, which are not observed
        a._specs[paddle.nn.Linear] = None
        a.count_functional = False
        core.bracket_layer_calls(p, a)

    def pass_through(p, a):   # the least any bracket can be: a Python wrapper that only calls through
        original = paddle.nn.Layer.__dict__["__call__"]

        def __call__(layer, *args, **kwargs):
            return original(layer, *args, **kwargs)
        p.setattr(paddle.nn.Layer, "__call__", __call__)

    def with_formula(p, a):
        core.bracket_layer_calls(p, a)

    def with_ops(p, a):
        core.bracket_layer_calls(p, a)
        intercept.observe_ops(p, a, instrument.model_modules(layers))

    filled = core.Attribution(net, core.EagerShapes())
    plain = best(forward)
    bare = guarded(lambda p, a: None)
    least = guarded(pass_through)
    bracket = guarded(no_formula)
    formula = guarded(with_formula)
    ops = guarded(with_ops)
    params = best(lambda: parameter_counts(layers))
    # Paid once per layer whatever the formulas and shapes cost: the
    # guarantees' snapshots and the result. With the cheapest possible
    # bracket on top, they are the floor of this design.
    per_layer_rows = [
        ("model-state snapshot and its check (every layer's attributes and tables)", best(snapshot_layers)),
        ("buffer / statistic copies and trainable-parameter version check", best(snapshot_values)),
        ("layer records", best(lambda: records.layer_records(net))),
        ("parameter counts", params),
        ("result nodes and totals (building the result, less parameter counts)",
         best(lambda: assemble(records.Collection(net, filled.order, [], "eager"))) - params),
    ]
    per_call_rows = [
        ("Layer.__call__ bracket with input/output shapes", bracket - bare),
        ("the layer formula and the paddle.flops reproduction", formula - bracket),
        ("the op wrapper around the layer's linear op", ops - formula),
    ]
    rows = per_layer_rows + per_call_rows
    per_layer = plain / n
    total = sum(seconds for _, seconds in rows)
    floor = sum(seconds for _, seconds in per_layer_rows) + (least - bare)
    import platform
    lines = [
        "# profile() cost per layer on linear_stack_1000", "",
        f"`python benchmarks/bench_overhead_per_layer.py --repeats {args.repeats}`; each piece timed alone in a "
        f"warm loop, best of {args.repeats}; paddle {paddle.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores. Plain no_grad forward: {per_layer * 1e6:.2f} us per Linear(16, 16). The forward "
        f"pieces are differences of bracketed forwards, so they carry that forward's noise.", "",
    ]
    columns = [Column("piece", "piece"), Column("per_layer", "us per layer", "number", 2, 1e6 / n),
               Column("forward", "x forward per layer", "number", 2, 1 / plain)]
    lines += [render_markdown(Content(
        columns=columns, rows=[{"piece": name, "per_layer": seconds, "forward": seconds} for name, seconds in rows],
        total={"piece": "all of it", "per_layer": total, "forward": total})), "",
              f"A 1.5x target leaves {0.5 * per_layer * 1e6:.2f} us per layer (0.50 x forward) for all of it.", "",
              f"Floor: the first five rows (snapshots, records, parameter counts, result) plus a bare pass-through "
              f"`Layer.__call__` wrapper ({(least - bare) / n * 1e6:.2f} us) cost {floor / n * 1e6:.2f} us per layer "
              f"({floor / plain:.2f} x forward) with formulas, shapes and op wrappers free."]
    publish_markdown(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
