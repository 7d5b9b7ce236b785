"""Cost of profiling relative to running the model.

For each model: the wall time of ``paddle_flops_ext.profile(model, size)``
divided by the wall time of a plain ``paddle.no_grad()`` forward of the same
model and input, measured in one process, interleaved, median of N runs after
one warm-up of each. Ratios within one run are what we compare (the machine
is shared and noisy); absolute times are printed for context only.

Targets: ResNet-50 and MobileNetV2 <= 1.25x, ViT-Base/16 with hand-written
attention <= 1.5x (paddle.flops, measured under numpy<2: 1.57x and 2.40x),
and a stack of 1000 ``Linear(16, 16)`` on [4, 16] <= 1.5x: nearly all of its
forward is per-layer fixed cost, so it measures ours (guards that snapshot and
restore every layer's state, the per-call bracket, building the result).

    python benchmarks/bench_overhead.py [--repeats 7] [--out benchmarks/results/overhead.md]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import paddle  # noqa: E402

import paddle_flops_ext as pfe  # noqa: E402
from paddle_flops_ext.bench.report import publish_markdown  # noqa: E402
from paddle_flops_ext.report.content import Column, Content  # noqa: E402
from paddle_flops_ext.report.render import render_markdown  # noqa: E402

TARGETS = {"resnet50": 1.25, "mobilenet_v2": 1.25, "vit_base_patch16": 1.5, "linear_stack_1000": 1.5}
INPUT_SIZES = {"linear_stack_1000": [4, 16]}


def linear_stack():
    return paddle.nn.Sequential(*[paddle.nn.Linear(16, 16) for _ in range(1000)])


def models():
    from paddle.vision import models as vm
    out = [("resnet50", vm.resnet50), ("mobilenet_v2", vm.mobilenet_v2)]
    try:
        from paddle_flops_ext.models.vit import vit_base_patch16
        out.append(("vit_base_patch16", vit_base_patch16))
    except ImportError as e:  # the zoo is part of this repo; say so if it's missing
        print(f"skipping ViT: {e}", file=sys.stderr)
    out.append(("linear_stack_1000", linear_stack))
    return out


def paddle_flops_works(model, size) -> str:
    import contextlib
    import io
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            paddle.flops(model, size)
        return "ok"
    except Exception as e:  # numpy 2 makes paddle.flops raise; report, don't hide
        return f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"


def measure(name, ctor, size, repeats):
    model = ctor()
    model.eval()
    x = paddle.randn(size)

    def forward():
        with paddle.no_grad():
            model(x)

    def prof():
        pfe.profile(model, size)

    forward(), prof()  # warm-up: first-call allocations and op caches
    fwd, pro = [], []
    for _ in range(repeats):
        t = time.perf_counter(); forward(); fwd.append(time.perf_counter() - t)
        t = time.perf_counter(); prof(); pro.append(time.perf_counter() - t)
    ratios = [p / f for p, f in zip(pro, fwd)]
    return {
        "model": name, "forward_ms": 1e3 * statistics.median(fwd), "profile_ms": 1e3 * statistics.median(pro),
        "ratio": statistics.median(pro) / statistics.median(fwd),
        "ratio_spread": (min(ratios), max(ratios)), "target": TARGETS.get(name),
        "paddle_flops": paddle_flops_works(model, size) if name in ("resnet50", "mobilenet_v2") else "n/a",
    }


COLUMNS = [Column("model", "model"), Column("forward_ms", "forward (ms)", "number", 1),
           Column("profile_ms", "profile (ms)", "number", 1), Column("ratio", "ratio", "number"),
           Column("range", "per-run ratio range"), Column("target", "target", "number"), Column("met", "met"),
           Column("paddle_flops", "paddle.flops here")]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    size = [1, 3, 224, 224]
    rows = [measure(n, c, INPUT_SIZES.get(n, size), args.repeats) for n, c in models()]
    import numpy
    lines = [
        "# profile() overhead vs a plain no_grad forward",
        "",
        f"Command: `python benchmarks/bench_overhead.py --repeats {args.repeats}`  ",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"paddle {paddle.__version__}, numpy {numpy.__version__}, Python {platform.python_version()}  ",
        f"Input 1x3x224x224 float32 (the Linear stack: 4x16), CPU; median of {args.repeats} interleaved "
        f"runs after one warm-up each. Load average at the start: {os.getloadavg()[0]:.2f}.",
        "",
        render_markdown(Content(columns=COLUMNS, rows=[
            {**r, "ratio": f"{r['ratio']:.2f}x", "range": "{:.2f}-{:.2f}".format(*r["ratio_spread"]),
             "target": f"<= {r['target']}x", "met": bool(r["target"] and r["ratio"] <= r["target"])}
            for r in rows])),
    ]
    publish_markdown(lines, args.out)


if __name__ == "__main__":
    main()
