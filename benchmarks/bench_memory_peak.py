"""The training-step memory estimate next to Paddle's own allocator.

For every case of a committed corpus (an MLP, CNNs at several batch sizes, a
transformer encoder, a LLaMA-style decoder; SGD, Momentum and AdamW; with and
without ``paddle.distributed.fleet.utils.recompute``) this script

1. runs real training steps (``loss.backward(); opt.step(); opt.clear_grad()``)
   and reads the CPU allocator's peak of the second step
   (``paddle.base.core.host_memory_stat_peak_value("Allocated", 0)`` after a
   ``host_memory_stat_reset_peak_value``), less what was allocated before the
   model was built. The second step is the steady state: gradients kept from
   the first step (``clear_grad`` zeroes them in place) and optimizer states
   allocated;
2. then profiles the model with ``profile(training=True, optimizer=...)`` and
   reads ``r.memory["peak"]``.

Every case runs in a fresh Python process, so its process peak RSS (VmHWM) is
its own. RSS is reported separately as the allocator's peak plus the measured
runtime baseline: the process's RSS right before the model is built (the
interpreter, Paddle, oneDNN), which is memory outside the allocator; next to
it the process's measured peak RSS (VmHWM) after the real steps, before the
profile runs.

    python benchmarks/bench_memory_peak.py [--cases NAME,...] [--out benchmarks/results/memory_peak]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass

import paddle
from paddle import nn
from paddle.distributed.fleet.utils import recompute

import paddle_flops_ext as pfe
from paddle_flops_ext.bench.machine import allocator_bytes, process_memory_bytes, reset_allocator_peak
from paddle_flops_ext.models.llama import Llama, LlamaConfig

HERE = os.path.dirname(os.path.abspath(__file__))
TOLERANCE = 0.10


@dataclass(frozen=True)
class Case:
    """One corpus entry: a model (built by :func:`build`), a batch, an optimizer."""
    name: str
    model: str
    batch: int
    optimizer: str          # sgd | momentum | adamw
    recompute: bool = False


def _corpus() -> list[Case]:
    cases = []
    for opt in ("sgd", "momentum", "adamw"):
        cases.append(Case(f"mlp-{opt}", "mlp", 64, opt))
    for batch in (8, 16, 32):
        for opt in ("sgd", "adamw"):
            cases.append(Case(f"resnet18-b{batch}-{opt}", "resnet18", batch, opt))
    cases.append(Case("resnet18-b16-momentum", "resnet18", 16, "momentum"))
    for batch in (4, 16):
        cases.append(Case(f"smallcnn-b{batch}-adamw", "smallcnn", batch, "adamw"))
    for opt in ("sgd", "adamw"):
        cases.append(Case(f"transformer-{opt}", "transformer", 8, opt))
        cases.append(Case(f"transformer-{opt}-recompute", "transformer", 8, opt, True))
    for opt in ("momentum", "adamw"):
        cases.append(Case(f"llama-{opt}", "llama", 4, opt))
        cases.append(Case(f"llama-{opt}-recompute", "llama", 4, opt, True))
    return cases


CORPUS = _corpus()


# --------------------------------------------------------------------------- the models

def build(case: Case):
    """``(model, input)``: the model returns its scalar loss, so the profiled
    forward is the whole step's forward."""
    paddle.seed(0)
    if case.model == "mlp":
        body = nn.Sequential(nn.Linear(1024, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
                             nn.Linear(4096, 1000))
        x = paddle.randn([case.batch, 1024])
    elif case.model == "resnet18":
        body = paddle.vision.models.resnet18(num_classes=100)
        x = paddle.randn([case.batch, 3, 112, 112])
    elif case.model == "smallcnn":
        body = nn.Sequential(nn.Conv2D(3, 32, 3, padding=1), nn.BatchNorm2D(32), nn.ReLU(), nn.MaxPool2D(2),
                             nn.Conv2D(32, 64, 3, padding=1), nn.BatchNorm2D(64), nn.ReLU(), nn.MaxPool2D(2),
                             nn.Flatten(), nn.Linear(64 * 16 * 16, 10))
        x = paddle.randn([case.batch, 3, 64, 64])
    elif case.model == "transformer":
        body = Encoder(case.recompute)
        x = paddle.randn([case.batch, 128, 256])
    elif case.model == "llama":
        body = Decoder(case.recompute)
        x = paddle.randint(0, 2000, [case.batch, 128])
    else:
        raise ValueError(f"unknown model {case.model!r}")
    return Loss(body), x


class Loss(nn.Layer):
    """The model followed by the mean of its output: one scalar to call backward on."""

    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return self.body(x).mean()


class Encoder(nn.Layer):
    """An input projection, then four post-norm encoder layers of width 256 (4 heads, FFN 1024).
    (The projection makes the blocks' input need a gradient: a recompute block whose inputs
    need none is run without gradients by Paddle.)"""

    def __init__(self, use_recompute):
        super().__init__()
        self.use_recompute = use_recompute
        self.project = nn.Linear(256, 256)
        self.blocks = nn.LayerList([nn.TransformerEncoderLayer(256, 4, 1024, dropout=0.0) for _ in range(4)])

    def forward(self, x):
        x = self.project(x)
        for block in self.blocks:
            x = recompute(block, x) if self.use_recompute else block(x)
        return x


class Decoder(nn.Layer):
    """The zoo's LLaMA-style decoder: 4 blocks of width 256, vocabulary 2000."""

    def __init__(self, use_recompute):
        super().__init__()
        self.use_recompute = use_recompute
        self.llama = Llama(LlamaConfig(vocab_size=2000, dim=256, n_layers=4, n_heads=4, ffn_dim=688,
                                       max_seq_len=128))

    def forward(self, tokens):
        m = self.llama
        h = m.tok_embeddings(tokens)
        s = tokens.shape[1]
        cos, sin = m.rope_cos[:s], m.rope_sin[:s]
        for layer in m.layers:
            h = recompute(layer, h, cos, sin) if self.use_recompute else layer(h, cos, sin)
        return m.lm_head(m.norm(h))


def make_optimizer(name: str, model):
    params = model.parameters()
    if name == "sgd":
        return paddle.optimizer.SGD(learning_rate=1e-3, parameters=params)
    if name == "momentum":
        return paddle.optimizer.Momentum(learning_rate=1e-3, momentum=0.9, parameters=params)
    if name == "adamw":
        return paddle.optimizer.AdamW(learning_rate=1e-3, parameters=params)
    raise ValueError(f"unknown optimizer {name!r}")


# --------------------------------------------------------------------------- one case (child process)

def measure_step_peak(model, x, optimizer, steps: int = 2) -> int:
    """Allocator peak (bytes) of the last of ``steps`` training steps, less
    what was allocated before ``model`` and ``x`` existed is the caller's
    business: this returns the absolute peak of that step."""
    for i in range(steps):
        if i == steps - 1:
            reset_allocator_peak()
        loss = model(x)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        del loss
    return allocator_bytes()[1]


def run_case(case: Case) -> dict:
    import gc


    paddle.set_device("cpu")
    baseline_rss = process_memory_bytes("VmRSS")
    before = allocator_bytes()[0]
    model, x = build(case)
    opt = make_optimizer(case.optimizer, model)
    peak = measure_step_peak(model, x, opt) - before
    peak_rss = process_memory_bytes("VmHWM")        # the real steps only: profiling comes after
    estimate = pfe.profile(model, inputs=(x,), training=True, optimizer=case.optimizer).memory
    return {"case": asdict(case), "estimate": estimate["peak"], "allocator_peak": peak,
            "ratio": estimate["peak"] / peak, "parameters": estimate["parameters"],
            "gradients": estimate["gradients"], "optimizer_states": estimate["optimizer_states"],
            "activations": estimate["activations"], "runtime_baseline_rss": baseline_rss,
            "peak_rss": peak_rss}


# --------------------------------------------------------------------------- the table

def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f}"


def markdown(rows: list[dict]) -> str:
    worst = max(abs(r["ratio"] - 1) for r in rows)
    lines = [
        "# Training-step memory: estimate vs Paddle's allocator peak", "",
        "`python benchmarks/bench_memory_peak.py`: for each case, `r.memory[\"peak\"]` of "
        "`profile(training=True, optimizer=...)` next to the CPU allocator's peak of the second real "
        "training step (`host_memory_stat_peak_value(\"Allocated\", 0)` less what was allocated before the "
        "model was built). Process RSS is reported separately: the allocator peak plus the runtime "
        "baseline (RSS before the model was built: interpreter, Paddle, oneDNN), next to the measured "
        "peak RSS (VmHWM) of the case's own process after the real steps (the profile runs after "
        "them). Corpus: an MLP 1024-4096-4096-1000 (batch 64); ResNet-18 at 112x112, batch 8/16/32; "
        "a two-conv CNN with batch norm at 64x64; a 4-layer post-norm encoder (width 256, sequence 128, "
        "batch 8) behind an input projection; the zoo's LLaMA-style decoder (4 blocks, width 256, "
        "vocabulary 2000, sequence 128, batch 4); each model's output reduced by its mean.", "",
        f"Worst error: {worst:.1%} (target {TOLERANCE:.0%}).", "",
        "| case | estimate MB | allocator MB | est/alloc | baseline MB | alloc+baseline MB | VmHWM MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['case']['name']} | {_mb(r['estimate'])} | {_mb(r['allocator_peak'])} | "
                     f"{r['ratio']:.3f} | {_mb(r['runtime_baseline_rss'])} | "
                     f"{_mb(r['allocator_peak'] + r['runtime_baseline_rss'])} | {_mb(r['peak_rss'])} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", help="comma-separated case names (default: the whole corpus)")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "memory_peak"),
                        help="output stem: STEM.md and STEM.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    by_name = {c.name: c for c in CORPUS}
    if args.child:
        print(json.dumps(run_case(by_name[args.child])))
        return 0
    names = args.cases.split(",") if args.cases else list(by_name)
    unknown = [n for n in names if n not in by_name]
    if unknown:
        parser.error(f"--cases: unknown case(s) {', '.join(unknown)}; known: {', '.join(by_name)}")
    rows = []
    for name in names:
        done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", name],
                              capture_output=True, text=True, check=False)
        if done.returncode:
            print(done.stderr[-2000:], file=sys.stderr)
            return done.returncode
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{name:32s} estimate {_mb(row['estimate']):>9} MB  allocator {_mb(row['allocator_peak']):>9} MB"
              f"  ratio {row['ratio']:.3f}", flush=True)
    text = markdown(rows)
    with open(args.out + ".md", "w") as f:
        f.write(text)
    with open(args.out + ".json", "w") as f:
        json.dump(rows, f, indent=1)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
