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

import argparse
import json
import os
import platform
import statistics
import sys
import time

from .report import publish_markdown

SIZES = {   # the zoo LLaMA at small sizes
    "small": dict(vocab_size=32000, dim=512, n_layers=8, n_heads=8, n_kv_heads=4, ffn_dim=1408, max_seq_len=1024),
    "medium": dict(vocab_size=32000, dim=1024, n_layers=12, n_heads=16, n_kv_heads=4, ffn_dim=2816,
                   max_seq_len=1024),
}


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


MODELS = ("llama_small", "llama_medium", "paddlenlp_llama")


def build(name):
    """(model, config dict) for a generation model name."""
    if name == "paddlenlp_llama":
        try:
            from paddlenlp.transformers import LlamaConfig as NLPConfig, LlamaForCausalLM
        except Exception as exc:  # noqa: BLE001 - not installed here
            raise ValueError(f"paddlenlp_llama needs PaddleNLP ({type(exc).__name__}: {exc})") from None
        cfg = dict(vocab_size=32000, hidden_size=512, num_hidden_layers=8, num_attention_heads=8,
                   num_key_value_heads=4, intermediate_size=1408, max_position_embeddings=1024)
        return LlamaForCausalLM(NLPConfig(**cfg)), cfg
    from ..models.llama import Llama, LlamaConfig
    size = name.split("_", 1)[1] if name.startswith("llama_") else "small"
    if size not in SIZES:
        raise ValueError(f"unknown generation model {name!r}; one of {', '.join(MODELS)}")
    return Llama(LlamaConfig(**SIZES[size])), SIZES[size]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=MODELS, default="llama_small")
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    return run(args.model, args.prompt, args.new, args.batch, args.repeats, args.out,
               command="paddle-flops bench --generate " + " ".join(argv or []))


def run(name, prompt, new, batch, repeats, out, command="") -> int:
    """Measure and estimate; writes ``out``.json/.md; exit status."""
    from types import SimpleNamespace
    if min(prompt, new, batch, repeats) < 1:
        print("paddle-flops bench: error: --generate P,T, the batch and --repeats must be >= 1", file=sys.stderr)
        return 2
    args = SimpleNamespace(size=name, prompt=prompt, new=new, batch=batch, repeats=repeats, out=out)
    from paddle_flops_ext.quiet import import_paddle_quietly
    paddle = import_paddle_quietly()
    import paddle_flops_ext as pfe
    from paddle_flops_ext.bench.peak import measure_peak
    from paddle_flops_ext.bench.timing import available_cores, set_threads

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
    est = pfe.profile_generation(model, args.prompt, args.new, args.batch, peaks=peak)
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
    with open(args.out + ".json", "w") as f:
        json.dump(doc, f, indent=2)
    lines = ["# Generation: measured next to the roofline estimate", "",
             f"`{command or 'paddle-flops bench --generate'}` on {machine['platform']}, {threads} threads, "
             f"Paddle {machine['paddle']}, eager float32. Model {name}: {json.dumps(cfg)} "
             f"({est.params:,} params). Measured: median of {args.repeats} generations after a warm-up. "
             f"Peaks measured in the same run: {peak['matmul_gflops_peak']:.1f} GFLOP/s fp32 matmul "
             f"({peak['matmul_backend']}), {peak['copy_gbps_peak']:.1f} GB/s DRAM copy.", "",
             "| phase | measured ms | estimate ms (roofline) | measured / estimate | estimated bound |",
             "|---|---:|---:|---:|---|"]
    for name, m, e, bound in rows:
        lines.append(f"| {name} | {m * 1e3:.3f} | {e * 1e3:.3f} | {m / e:.1f} x | {bound} |")
    lines += ["", f"Tokens per second (decode, batch {args.batch}): measured {got['tokens_per_s']:.1f}, "
                  f"estimate {est.tokens_per_s:.1f}.", "",
              "Exact counts (pfe.profile_generation):", "", "```", est.table(), "```"]
    publish_markdown(lines, args.out + ".md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
