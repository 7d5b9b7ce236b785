"""Where profile()'s own time goes on a small model: each phase of an eager
profile timed on its own (median of --repeats), next to a plain no_grad
forward of the same model, and each restore step. Explains the ratios of
``bench_overhead.py``.

    python benchmarks/bench_overhead_phases.py [--model mobilenet_v2|linear_stack_1000|...] [--repeats 9]
        [--out benchmarks/results/overhead_phases.md]
"""
from __future__ import annotations

import argparse
import statistics
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="mobilenet_v2")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    from paddle_flops_ext.quiet import import_paddle_quietly
    paddle = import_paddle_quietly()
    from paddle_flops_ext.bench.report import publish_markdown
    from paddle_flops_ext.report.content import Column, Content
    from paddle_flops_ext.report.render import render_markdown
    from paddle_flops_ext.collect import core, guards, inputs, instrument, intercept, patch, records
    from paddle_flops_ext.report.assemble import assemble

    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_overhead import INPUT_SIZES, models   # the same models and sizes as the ratios

    constructors = dict(models())
    if args.model not in constructors:
        ap.error(f"--model must be one of {', '.join(constructors)}")
    net = constructors[args.model]()
    net.eval()
    size = INPUT_SIZES.get(args.model, [1, 3, 224, 224])
    x = paddle.randn(size)
    phases: dict = {}
    undo: dict = {}

    def timed(name, fn):
        t = time.perf_counter()
        out = fn()
        phases.setdefault(name, []).append(time.perf_counter() - t)
        return out

    def profile_once():
        with patch.gc_paused(), patch.session() as p:   # as profile(): gc off, this thread observed
            observed_once(p)

    def observed_once(p):
        session_entries = len(p)       # the lock and owner: left for the session to release
        args_, _ = timed("synthesize the input", lambda: inputs.build_call_args(net, size))
        a = timed("layer records", lambda: core.Attribution(net, core.EagerShapes()))
        layers = [r.layer for r in a.order]
        timed("process guards (RNG, to_static)", lambda: guards.guard_process(p))
        timed("model guards (snapshot of layers, buffers, statistics)", lambda: guards.guard_model(p, layers))
        timed("Layer.__call__ bracket", lambda: core.bracket_layer_calls(p, a))
        timed("install op wrappers", lambda: intercept.observe_ops(p, a, instrument.model_modules(layers)))

        def forward():
            with paddle.no_grad():
                net(*args_)
        timed("bracketed forward", forward)
        times = {}
        t0 = time.perf_counter()
        while len(p._undo) > session_entries:   # restore step by step, to see each one
            fn = p._undo[-1]
            t = time.perf_counter()
            fn()
            key = getattr(fn, "__qualname__", repr(fn)).split(".<locals>")[0]
            times[key] = times.get(key, 0.0) + time.perf_counter() - t
            p._undo.pop()
        phases.setdefault("restore (all)", []).append(time.perf_counter() - t0)
        for k, v in times.items():
            undo.setdefault(k, []).append(v)
        timed("build the result", lambda: assemble(records.Collection(net, a.order, [], "eager")))

    def plain():
        with paddle.no_grad():
            net(x)

    for _ in range(2):
        profile_once()
        plain()
    phases.clear()
    undo.clear()
    fwd = []
    for _ in range(args.repeats):
        profile_once()
        t = time.perf_counter()
        plain()
        fwd.append(time.perf_counter() - t)
    med = {k: statistics.median(v) * 1e3 for k, v in phases.items()}
    lines = [f"# profile() phases on {args.model}", "",
             f"`python benchmarks/bench_overhead_phases.py --model {args.model} --repeats {args.repeats}`; "
             f"median ms of {args.repeats} runs; plain no_grad forward {statistics.median(fwd) * 1e3:.2f} ms.", "",
             render_markdown(Content(columns=[Column("phase", "phase"), Column("ms", "ms", "number", 2)],
                                     rows=[{"phase": k, "ms": v} for k, v in med.items()],
                                     total={"phase": "all but the forward",
                                            "ms": sum(v for k, v in med.items() if k != "bracketed forward")})),
             "",
             render_markdown(Content(columns=[Column("step", "restore step"), Column("ms", "ms", "number", 2)],
                                     rows=[{"step": k, "ms": statistics.median(v) * 1e3} for k, v in
                                           sorted(undo.items(), key=lambda kv: -statistics.median(kv[1]))]))]
    publish_markdown(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
