"""Generation on this machine: a real prefill + decode loop on the zoo LLaMA
(a small configuration, float32, eager, KV cache) next to
``pfe.profile_generation``'s roofline estimate on the peaks measured in the
same run (``paddle_flops_ext.bench.peak``).

Measured (median of ``--repeats`` full generations after one warm-up):

* TTFT: the prefill forward of ``P`` prompt tokens (``use_cache=True``)
  until its logits are on the host;
* TPOT: the mean decode step (one token per sequence, the cache growing
  from ``P + 1`` to ``P + T`` keys), greedy argmax between steps included;
* tokens per second: ``batch / TPOT``.

The estimate is the roofline of the exact counts: each phase
``max(FLOPs / peak FLOP/s, bytes / peak bandwidth)``, bytes = weights + KV
cache (activations not counted); it ignores framework overhead, which
dominates small decode steps in eager Paddle on a CPU, so the measured time
is expected to be above it and the ratio says by how much.

    paddle-flops bench --generate 128,32 [--batch-sizes 1] [--repeats 5] [--models llama_small|paddlenlp_llama]
    python benchmarks/bench_generation.py      # the committed results

``paddlenlp_llama`` (when PaddleNLP is installed): a small PaddleNLP
``LlamaForCausalLM`` driven through its own cache protocol
(``use_cache=True``, ``past_key_values``).
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from types import SimpleNamespace

from ..report.content import Column, Content
from ..report.render import number, render_markdown
from ..models.zoo import GENERATION_MODELS as MODELS, ZOO
from ..files import write_text
from ..quiet import import_paddle_quietly
from .report import publish_markdown
from .timing import available_cores, set_threads


def _step(model, ids, cache):
    """One forward with the cache, for the zoo LLaMA (returns ``(logits,
    cache)``) and PaddleNLP models (a ModelOutput with ``logits`` and
    ``past_key_values``)."""
    out = model(ids, past_key_values=cache, use_cache=True) if cache is not None else model(ids, use_cache=True)
    if isinstance(out, tuple) and len(out) == 2 and not hasattr(out, "logits"):
        return out
    return out.logits, out.past_key_values


def _vocab(model) -> int:
    cfg = getattr(model, "cfg", None) or getattr(model, "config", None)
    return int(cfg.vocab_size)


def measure(model, prompt, new, batch, repeats):
    import paddle
    ids = paddle.randint(0, _vocab(model), [batch, prompt])
    runs = []
    with paddle.no_grad():
        for rep in range(repeats + 1):
            t0 = time.perf_counter()
            logits, cache = _step(model, ids, None)
            nxt = paddle.argmax(logits[:, -1:], axis=-1)
            nxt.numpy()
            t1 = time.perf_counter()
            steps = []
            for _ in range(new):
                s0 = time.perf_counter()
                logits, cache = _step(model, nxt, cache)
                nxt = paddle.argmax(logits[:, -1:], axis=-1)
                nxt.numpy()
                steps.append(time.perf_counter() - s0)
            if rep:   # the first is a warm-up
                runs.append({"ttft_s": t1 - t0, "tpot_s": sum(steps) / new, "first_step_s": steps[0],
                             "last_step_s": steps[-1]})
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    med["tokens_per_s"] = batch / med["tpot_s"]
    med["runs"] = runs
    return med


def build(name):
    """(model, config dict) for a generation model name: the zoo model at its context."""
    if name not in MODELS:
        raise ValueError(f"unknown generation model {name!r}; one of {', '.join(MODELS)}")
    entry = ZOO[name]
    return entry.build(entry.size), entry.config


COLUMNS = [Column("phase", "phase"), Column("measured_s", "measured ms", "seconds"),
           Column("estimate_s", "estimate ms (roofline)", "seconds"),
           Column("ratio", "measured / estimate", "number"), Column("bound", "estimated bound")]


def _measured_table(rows) -> str:
    """``rows``: (phase, measured s, estimated s, estimated bound)."""
    return render_markdown(Content(columns=COLUMNS, rows=[
        {"phase": name, "measured_s": m, "estimate_s": e, "ratio": f"{number(m / e, 1)} x", "bound": bound}
        for name, m, e, bound in rows]))


def run(name, prompt, new, batch, repeats, out, command="") -> int:
    """Measure and estimate; writes ``out``.json/.md; exit status."""
    if min(prompt, new, batch, repeats) < 1:
        print("paddle-flops bench: error: --generate P,T, the batch and --repeats must be >= 1", file=sys.stderr)
        return 2
    args = SimpleNamespace(size=name, prompt=prompt, new=new, batch=batch, repeats=repeats, out=out)
    paddle = import_paddle_quietly()
    # local: Paddle is imported quietly first (these import it)
    from ..llm.generation import profile_generation
    from .peak import measure_peak  # local: as above

    threads = available_cores()
    set_threads(threads)
    paddle.seed(0)
    try:
        model, cfg = build(name)
    except ValueError as exc:
        print(f"paddle-flops bench: error: --models: {exc}", file=sys.stderr)
        return 2
    model.eval()
    peak = measure_peak("cpu", quick=False, repeats=10, threads=threads)
    set_threads(threads)
    est = profile_generation(model, args.prompt, args.new, args.batch, peaks=peak)
    set_threads(threads)
    got = measure(model, args.prompt, args.new, args.batch, args.repeats)
    rows = [("TTFT (prefill)", got["ttft_s"], est.ttft_s, est.prefill.bound),
            ("TPOT (mean decode step)", got["tpot_s"], est.tpot_s, est.decode.bound),
            ("decode step 1", got["first_step_s"], est.step(1).time_s, est.step(1).bound),
            (f"decode step {args.new}", got["last_step_s"], est.step(args.new).time_s, est.step(args.new).bound)]
    machine = {"python": platform.python_version(), "platform": platform.platform(), "threads": threads,
               "paddle": paddle.__version__}
    doc = {"machine": machine, "args": vars(args), "config": cfg, "measured": got,
           "estimate": est.to_dict(), "peaks": {k: peak[k] for k in ("matmul_gflops_peak", "matmul_backend",
                                                                      "copy_gbps_peak")}}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_text(args.out + ".json", json.dumps(doc, indent=2))
    lines = ["# Generation: measured next to the roofline estimate", "",
             f"`{command or 'paddle-flops bench --generate'}` on {machine['platform']}, {threads} threads, "
             f"Paddle {machine['paddle']}, eager float32. Model {name}: {json.dumps(cfg)} "
             f"({est.params:,} params). Measured: median of {args.repeats} generations after a warm-up. "
             f"Peaks measured in the same run: {peak['matmul_gflops_peak']:.1f} GFLOP/s fp32 matmul "
             f"({peak['matmul_backend']}), {peak['copy_gbps_peak']:.1f} GB/s DRAM copy.", "",
             _measured_table(rows)]
    lines += ["", f"Tokens per second (decode, batch {args.batch}): measured {got['tokens_per_s']:.1f}, "
                  f"estimate {est.tokens_per_s:.1f}.", "",
              "Exact counts (pfe.profile_generation):", "", "```", est.table(), "```"]
    publish_markdown(lines, args.out + ".md")
    return 0
