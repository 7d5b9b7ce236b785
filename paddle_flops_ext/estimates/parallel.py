"""What one rank holds, computes and moves in a parallel training step.

Pure functions of plain data. A :class:`ModelShape` says what the plan needs
of a model: its repeated blocks (the layers a pipeline splits), each with
the parameters tensor parallelism splits and those it replicates, the
forward and backward FLOPs of one sequence and the activations its backward
keeps (:class:`ActivationTerm`); and the parts before and after the blocks
(embedding; final norm, head and loss). :func:`shape_from_result` reads one
from a training profile (``profile(..., training=True)``, trace mode is
enough); :func:`transformer_activations` gives a decoder block's kept
activations from its widths, term by term, after Korthikanti et al.,
"Reducing Activation Recomputation in Large Transformer Models" (2022).

A :class:`ParallelLayout` (data, tensor, pipeline degrees, ZeRO stage,
micro- and global batch, recomputation, sequence parallelism) and a
:class:`PlanRequest` give :func:`plan`, a :class:`ParallelPlan`: per
pipeline stage the parameters, gradients and optimizer states of one rank
(ZeRO stages as in Rajbhandari et al., "ZeRO: Memory Optimizations Toward
Training Trillion Parameter Models"), its activations with the micro-batches
1F1B keeps in flight, its peak; the collectives one rank takes part in per
step with their bytes; FLOPs per rank; the pipeline bubble and, from a
stated peak and utilisation, a step time.

Conventions, said once: mixed precision keeps 16-bit parameters, gradients
and activations and an fp32 master copy with fp32 optimizer states; dropout
masks are one byte; the loss's logits are fp32. Per-tensor optimizer
scalars (Adam's beta powers) are left out (bytes per tensor, not per
element). Ring algorithms: an all-reduce sends ``2 (n-1)/n`` of its buffer
per rank, a reduce-scatter or an all-gather ``(n-1)/n``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace


def _optimizer_states() -> dict:
    """optimizer -> fp32 state values per parameter element (and per tensor)."""
    from .memory import OPTIMIZER_STATES  # local: memory reads dtypes through Paddle; keeps it out of --help
    return OPTIMIZER_STATES

RECOMPUTE = ("none", "selective", "full")
# precision -> (parameter bytes, gradient bytes, fp32 master-copy bytes, activation bytes) per element
PRECISIONS = {"mixed": (2, 2, 4, 2), "fp32": (4, 4, 0, 4)}
_STATE_BYTES = 4          # optimizer states are fp32


@dataclass(frozen=True)
class ParallelLayout:
    """How the ranks are arranged and what each step does. ``global_batch``
    (sequences per step, default ``micro_batch * dp``) is a multiple of
    ``micro_batch * dp``; the quotient is the micro-batches (gradient
    accumulation steps) each pipeline runs per step."""
    dp: int = 1
    tp: int = 1
    pp: int = 1
    zero: int = 0
    micro_batch: int = 1
    global_batch: int | None = None
    recompute: str = "none"          # none | selective (attention scores) | full (block inputs only)
    sequence_parallel: bool = False

    def __post_init__(self):
        for name in ("dp", "tp", "pp", "micro_batch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.zero not in (0, 1, 2, 3):
            raise ValueError(f"zero (the ZeRO stage) must be 0, 1, 2 or 3, got {self.zero!r}")
        if self.recompute not in RECOMPUTE:
            raise ValueError(f"recompute must be one of {', '.join(RECOMPUTE)}, got {self.recompute!r}")
        if self.sequence_parallel and self.tp == 1:
            raise ValueError("sequence parallelism splits along the tensor-parallel group: it needs tp > 1")
        per_step = self.micro_batch * self.dp
        if self.global_batch is not None and (self.global_batch < 1 or self.global_batch % per_step):
            raise ValueError(f"global batch {self.global_batch} must be a positive multiple of micro batch x dp "
                             f"= {per_step}")

    @property
    def ranks(self) -> int:
        return self.dp * self.tp * self.pp

    @property
    def sequences(self) -> int:
        """Sequences per step, all ranks together."""
        return self.global_batch if self.global_batch is not None else self.micro_batch * self.dp

    @property
    def micro_batches(self) -> int:
        """Micro-batches each pipeline runs per step."""
        return self.sequences // (self.micro_batch * self.dp)

    def to_dict(self) -> dict:
        return {"dp": self.dp, "tp": self.tp, "pp": self.pp, "zero": self.zero, "micro_batch": self.micro_batch,
                "global_batch": self.sequences, "micro_batches": self.micro_batches,
                "recompute": self.recompute, "sequence_parallel": self.sequence_parallel, "ranks": self.ranks}


@dataclass(frozen=True)
class ActivationTerm:
    """One tensor the backward keeps, for one sequence. ``element_bytes``:
    ``None`` for the activation width of the precision (2 mixed, 4 fp32), or
    a fixed width (1 for a dropout mask, 4 for fp32 logits).
    ``split_by_tp``: tensor parallelism splits it (else each rank keeps it
    whole, unless sequence parallelism splits it). ``attention_scores``:
    what selective recomputation drops (it grows with the sequence squared)."""
    what: str
    elements: int
    element_bytes: int | None = None
    split_by_tp: bool = False
    attention_scores: bool = False

    def bytes(self, activation_bytes: int) -> int:
        return self.elements * (self.element_bytes or activation_bytes)


@dataclass(frozen=True)
class BlockShape:
    """One part of the model for one sequence: parameters split by tensor
    parallelism and replicated, FLOPs of the forward and the backward,
    FLOPs selective recomputation re-runs, kept activations and the input
    (what full recomputation keeps; elements at the activation width)."""
    name: str
    params_split: int
    params_replicated: int
    forward_flops: int
    backward_flops: int
    activations: tuple = ()
    input_elements: int = 0
    score_flops: int = 0

    @property
    def params(self) -> int:
        return self.params_split + self.params_replicated


@dataclass(frozen=True)
class ModelShape:
    """What a plan needs of a model, for sequences of ``seq_len`` tokens:
    the repeated ``blocks`` a pipeline splits, ``first`` (before them, on
    the first stage) and ``last`` (after them, on the last stage).
    ``tensor_parallel``: whether the blocks' structure is known well enough
    to split them across a tensor-parallel group (a transformer's: two
    all-reduces per block each way)."""
    name: str
    seq_len: int
    hidden: int
    blocks: tuple
    first: BlockShape
    last: BlockShape
    tensor_parallel: bool = True
    notes: tuple = ()

    @property
    def params(self) -> int:
        return sum(b.params for b in (self.first, *self.blocks, self.last))


@dataclass(frozen=True)
class PlanRequest:
    """One plan: the model, the layout, the optimizer (``"sgd"``,
    ``"momentum"``, ``"adam"``, ``"adamw"`` ...), the precision
    (``"mixed"`` or ``"fp32"``), and optionally the peak FLOP/s of one
    device (TFLOP/s) and the fraction of it reached, for a step time."""
    shape: ModelShape
    layout: ParallelLayout
    optimizer: str = "adamw"
    precision: str = "mixed"
    peak_tflops: float | None = None
    utilisation: float | None = None

    def __post_init__(self):
        if self.optimizer not in _optimizer_states():
            raise ValueError(f"optimizer must be one of {', '.join(_optimizer_states())}, got {self.optimizer!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if (self.peak_tflops is None) != (self.utilisation is None):
            raise ValueError("a step time needs both the peak TFLOP/s and the utilisation")
        if self.peak_tflops is not None and self.peak_tflops <= 0:
            raise ValueError(f"peak TFLOP/s must be positive, got {self.peak_tflops}")
        if self.utilisation is not None and not 0 < self.utilisation <= 1:
            raise ValueError(f"utilisation is a fraction in (0, 1], got {self.utilisation}")
        lay, shape = self.layout, self.shape
        if lay.pp > len(shape.blocks):
            raise ValueError(f"pp {lay.pp} is more pipeline stages than the model's {len(shape.blocks)} blocks")
        if lay.tp > 1 and not shape.tensor_parallel:
            raise ValueError(f"tp {lay.tp}: {shape.name} has no known tensor-parallel structure; plan it from a "
                             f"configuration, or trace the model built from fleet layers on each rank")
        if lay.recompute == "selective" and not any(t.attention_scores for b in shape.blocks for t in b.activations):
            raise ValueError(f"selective recomputation drops attention scores; {shape.name} keeps none (flash "
                             f"attention) or its kept activations are not known term by term: use recompute "
                             f"none or full")


@dataclass(frozen=True)
class Collective:
    """One kind of collective a rank takes part in per step: its group
    (tensor, data, pipeline), how many calls, the buffer of each call and
    the bytes this rank sends in the step (ring algorithms)."""
    group: str
    collective: str          # all-reduce | reduce-scatter | all-gather | send
    what: str
    calls: int
    buffer_bytes: int
    sent_bytes: int

    def to_dict(self) -> dict:
        return {"group": self.group, "collective": self.collective, "what": self.what, "calls": self.calls,
                "buffer_bytes": self.buffer_bytes, "sent_bytes": self.sent_bytes}


@dataclass(frozen=True)
class StagePlan:
    """One rank of one pipeline stage (every rank of a stage holds the same)."""
    stage: int
    blocks: int
    params: int               # parameters this rank's tensor-parallel shard has (before ZeRO)
    parameter_bytes: int
    gradient_bytes: int
    optimizer_bytes: int
    activation_bytes: int     # kept activations of the micro-batches in flight
    in_flight: int            # micro-batches whose activations are held at once (1F1B)
    working_bytes: int        # transient: a recomputed block, ZeRO-3's gathered block
    model_flops: int          # per step: forward + backward
    hardware_flops: int       # per step: plus recomputation
    collectives: tuple = ()

    @property
    def model_state_bytes(self) -> int:
        return self.parameter_bytes + self.gradient_bytes + self.optimizer_bytes

    @property
    def peak_bytes(self) -> int:
        return self.model_state_bytes + self.activation_bytes + self.working_bytes

    @property
    def sent_bytes(self) -> int:
        return sum(c.sent_bytes for c in self.collectives)

    def to_dict(self) -> dict:
        return {"stage": self.stage, "blocks": self.blocks, "params": self.params,
                "parameter_bytes": self.parameter_bytes, "gradient_bytes": self.gradient_bytes,
                "optimizer_bytes": self.optimizer_bytes, "model_state_bytes": self.model_state_bytes,
                "activation_bytes": self.activation_bytes, "in_flight": self.in_flight,
                "working_bytes": self.working_bytes, "peak_bytes": self.peak_bytes,
                "model_flops": self.model_flops, "hardware_flops": self.hardware_flops,
                "sent_bytes": self.sent_bytes, "collectives": [c.to_dict() for c in self.collectives]}


@dataclass(frozen=True)
class ParallelPlan:
    """The plan: one :class:`StagePlan` per pipeline stage, the bubble
    (fraction of a step a stage idles), and the step time when a peak and a
    utilisation were given (compute only: communication is given in bytes,
    not timed). ``to_dict()`` for machines; ``cli.plan.plan_content`` draws
    it with the report renderers."""
    request: PlanRequest
    stages: tuple
    bubble: float
    step_seconds: float | None
    notes: tuple = ()

    @property
    def peak_stage(self) -> StagePlan:
        return max(self.stages, key=lambda s: s.peak_bytes)

    @property
    def peak_bytes(self) -> int:
        return self.peak_stage.peak_bytes

    @property
    def tokens_per_step(self) -> int:
        return self.request.layout.sequences * self.request.shape.seq_len

    def to_dict(self) -> dict:
        req = self.request
        return {"model": req.shape.name, "seq_len": req.shape.seq_len, "params": req.shape.params,
                "layout": req.layout.to_dict(), "optimizer": req.optimizer, "precision": req.precision,
                "peak_tflops": req.peak_tflops, "utilisation": req.utilisation,
                "tokens_per_step": self.tokens_per_step, "peak_bytes": self.peak_bytes,
                "bubble": self.bubble, "step_seconds": self.step_seconds,
                "stages": [s.to_dict() for s in self.stages], "notes": list(self.notes)}


# --------------------------------------------------------------------------
# what a model looks like to the plan
# --------------------------------------------------------------------------

def transformer_activations(hidden: int, heads: int, seq_len: int, ffn: int, kv_heads: int | None = None,
                            head_dim: int | None = None, gated: bool = True, dropout: bool = False,
                            flash_attention: bool = False) -> tuple:
    """The tensors one transformer block's backward keeps for one sequence,
    after Korthikanti et al. (their GPT block: ``gated=False, dropout=True``,
    ``ffn = 4 hidden`` gives ``s h (34 + 5 a s / h)`` bytes at 16 bits).
    Norm inputs and the inputs of the first projections are replicated
    across a tensor-parallel group; q, k, v, the scores, the attention
    output and the MLP's inner tensors are split. A gated MLP (SwiGLU)
    keeps the gate and up projections, the activation's output and the
    product; flash attention keeps its output's log-sum-exp instead of the
    scores."""
    s, h, a = seq_len, hidden, heads
    d = head_dim or h // a
    kv = kv_heads or a
    terms = [ActivationTerm("attention norm input", s * h), ActivationTerm("qkv input", s * h),
             ActivationTerm("q", s * a * d, split_by_tp=True), ActivationTerm("k", s * kv * d, split_by_tp=True),
             ActivationTerm("v", s * kv * d, split_by_tp=True)]
    if flash_attention:
        terms.append(ActivationTerm("attention log-sum-exp", s * a, 4, split_by_tp=True))
    else:
        terms.append(ActivationTerm("softmax output", a * s * s, split_by_tp=True, attention_scores=True))
        if dropout:
            terms += [ActivationTerm("attention dropout mask", a * s * s, 1, True, True),
                      ActivationTerm("attention dropout output", a * s * s, None, True, True)]
    terms.append(ActivationTerm("output projection input", s * a * d, split_by_tp=True))
    if dropout:
        terms.append(ActivationTerm("attention residual dropout mask", s * h, 1))
    terms += [ActivationTerm("mlp norm input", s * h), ActivationTerm("mlp input", s * h)]
    if gated:
        terms += [ActivationTerm("gate projection output", s * ffn, split_by_tp=True),
                  ActivationTerm("up projection output", s * ffn, split_by_tp=True),
                  ActivationTerm("activation output", s * ffn, split_by_tp=True),
                  ActivationTerm("down projection input", s * ffn, split_by_tp=True)]
    else:
        terms += [ActivationTerm("activation input", s * ffn, split_by_tp=True),
                  ActivationTerm("down projection input", s * ffn, split_by_tp=True)]
    if dropout:
        terms.append(ActivationTerm("mlp residual dropout mask", s * h, 1))
    return tuple(terms)


def _is_split(type_name: str) -> bool:
    """Layers tensor parallelism shards (Megatron: every linear of a block,
    the vocabulary of the embedding and the head)."""
    return "Linear" in type_name or "Embedding" in type_name


def _blocks_node(root):
    """The container of the repeated blocks: the node with two or more
    children of one type holding the most parameters."""
    best = None
    for node in root.walk():
        kids = node.children
        if len(kids) >= 2 and len({k.type for k in kids}) == 1:
            if best is None or node.total_params > best.total_params:
                best = node
    if best is None:
        raise ValueError("the model has no repeated blocks (a layer list of one layer type) to split across "
                         "pipeline stages")
    return best


def _split_params(node) -> tuple[int, int]:
    split = sum(n.params for n in node.walk() if _is_split(n.type))
    return split, node.total_params - split


def shape_from_result(result, name: str = "model", block_activations: tuple | None = None,
                      last_activations: tuple = (), score_flops: int = 0) -> ModelShape:
    """A :class:`ModelShape` from a training profile of the model on a
    batch of sequences (``profile(..., training=True)``, trace mode is
    enough): each repeated block's parameters (its linears split by tensor
    parallelism, the rest replicated), forward and backward FLOPs per
    sequence; the layers before the blocks (in the tree's order) are
    ``first``, the layers after them and the model's own work (the loss)
    ``last``. ``block_activations``: each block's kept activations per
    sequence term by term (:func:`transformer_activations`), with
    ``score_flops`` the forward FLOPs of one block's attention scores per
    sequence (what selective recomputation re-runs); without them the
    profile's kept activations are shared evenly by the blocks as one term,
    and tensor parallelism and selective recomputation are refused (their
    effect on a lump is unknown)."""
    if not getattr(result, "training", False) or result.memory is None:
        raise ValueError("a plan needs a training profile: profile(model, ..., training=True)")
    root = result.root
    shape0 = list(result.inputs[0]) if result.inputs else [1, 1]
    batch, seq = int(shape0[0]), int(shape0[1]) if len(shape0) > 1 else 1
    container = _blocks_node(root)
    kids = container.children
    notes = []
    if block_activations is None:
        acts = result.memory["by_dtype"]["activations"]
        elements = sum(n // 4 if dtype == "float32" else n // 2 for dtype, n in acts.items()) // batch
        block_activations = (ActivationTerm("kept activations (profiled, shared evenly by the blocks)",
                                            elements // len(kids)),)
        notes.append("activations per block: the profile's kept activations shared evenly by the blocks")
    in_elements = math.prod(kids[0].input_shape[0]) // batch if kids[0].input_shape else 0
    blocks = tuple(BlockShape(kid.name, *_split_params(kid), kid.total_cost.flops // batch,
                              kid.subtree("backward").flops // batch, tuple(block_activations), in_elements,
                              score_flops) for kid in kids)
    # outside the blocks: each layer's own parameters and work, before or after the block container
    inside = {id(n) for n in container.walk()}
    order = list(root.walk())
    lineage = {id(n) for n in order if not n.name or container.name.startswith(n.name + ".")}
    where = {id(n): i for i, n in enumerate(order)}
    sides = {"first": [0, 0, 0, 0], "last": [0, 0, 0, 0]}
    for n in order:
        if id(n) in inside:
            continue
        side = "last" if id(n) in lineage or where[id(n)] > where[id(container)] else "first"
        split = n.params if _is_split(n.type) else 0
        acc = sides[side]
        acc[0] += split
        acc[1] += n.params - split
        acc[2] += n.cost.flops
        acc[3] += n.backward.flops
    first, last = ([BlockShape(label, acc[0], acc[1], acc[2] // batch, acc[3] // batch)
                    for label, acc in (("before the blocks", sides["first"]), ("after the blocks", sides["last"]))])
    last = replace(last, activations=tuple(last_activations))
    hidden = kids[0].output_shape[0][-1] if kids[0].output_shape else 0
    known = any(t.split_by_tp for t in block_activations)
    return ModelShape(name, seq, int(hidden), blocks, first, last, tensor_parallel=known, notes=tuple(notes))


# --------------------------------------------------------------------------
# the plan
# --------------------------------------------------------------------------

def stage_blocks(blocks: int, stages: int) -> list[int]:
    """Blocks per pipeline stage, as even as possible, the first stages
    taking the remainder."""
    base, extra = divmod(blocks, stages)
    return [base + (1 if i < extra else 0) for i in range(stages)]


def _ring(collective: str, ranks: int, buffer: int) -> int:
    """Bytes one rank sends for one call of a ring collective."""
    if ranks == 1:
        return 0
    if collective == "all-reduce":
        return 2 * (ranks - 1) * buffer // ranks
    if collective == "send":
        return buffer
    return (ranks - 1) * buffer // ranks


def _traffic(group: str, collective: str, what: str, calls: int, buffer: int, ranks: int) -> Collective:
    return Collective(group, collective, what, calls, buffer, calls * _ring(collective, ranks, buffer))


class _Sizer:
    """Bytes of activation terms for one micro-batch on one rank."""

    def __init__(self, request: PlanRequest):
        self.lay = request.layout
        self.width = PRECISIONS[request.precision][3]

    def term(self, t: ActivationTerm) -> int:
        n = t.bytes(self.width) * self.lay.micro_batch
        return -(-n // self.lay.tp) if t.split_by_tp or self.lay.sequence_parallel else n

    def kept(self, block: BlockShape, recompute: str) -> int:
        if recompute == "full" and block.input_elements:
            n = block.input_elements * self.width * self.lay.micro_batch
            return -(-n // self.lay.tp) if self.lay.sequence_parallel else n
        return sum(self.term(t) for t in block.activations
                   if not (recompute == "selective" and t.attention_scores))


def plan(request: PlanRequest) -> ParallelPlan:
    """Per pipeline stage, what one rank holds, computes and sends in one
    step (see the module's conventions)."""
    lay, shape = request.layout, request.shape
    p_bytes, g_bytes, master, act_bytes = PRECISIONS[request.precision]
    state_elems = _optimizer_states()[request.optimizer][0]
    sizer = _Sizer(request)
    m, t, d = lay.micro_batches, lay.tp, lay.dp
    mb_tokens = lay.micro_batch * shape.seq_len
    hidden_buffer = mb_tokens * shape.hidden * act_bytes
    stages, start = [], 0
    for index, count in enumerate(stage_blocks(len(shape.blocks), lay.pp)):
        own_blocks = list(shape.blocks[start:start + count])
        start += count
        edges = ([shape.first] if index == 0 else []) + ([shape.last] if index == lay.pp - 1 else [])
        parts = own_blocks + edges
        split = sum(b.params_split for b in parts)
        params = -(-split // t) + sum(b.params_replicated for b in parts)
        weights = params * p_bytes // (d if lay.zero >= 3 else 1)
        grads = params * g_bytes // (d if lay.zero >= 2 else 1)
        states = params * (master + state_elems * _STATE_BYTES) // (d if lay.zero >= 1 else 1)
        per_micro = sum(sizer.kept(b, lay.recompute) for b in own_blocks) + sum(sizer.kept(b, "none") for b in edges)
        in_flight = min(lay.pp - index, m)
        working = 0
        if lay.recompute != "none" and own_blocks:
            working = max(sizer.kept(b, "none") - sizer.kept(b, lay.recompute) for b in own_blocks)
        if lay.zero >= 3 and own_blocks:
            biggest = max(-(-b.params_split // t) + b.params_replicated for b in own_blocks)
            working += biggest * (p_bytes + g_bytes)      # one block's gathered weights and full gradients
        fwd = sum(b.forward_flops for b in parts)
        bwd = sum(b.backward_flops for b in parts)
        again = 0
        if lay.recompute == "full":
            again = sum(b.forward_flops for b in own_blocks)
        elif lay.recompute == "selective":
            again = sum(b.score_flops for b in own_blocks)
        per_rank = lay.micro_batch * m
        model_flops = -(-(fwd + bwd) * per_rank // t)
        hardware_flops = model_flops + -(-again * per_rank // t)
        coll = []
        if t > 1:
            layers = len(own_blocks)
            forward_calls = 2 * layers * (2 if lay.recompute == "full" else 1)
            backward_calls = 2 * layers
            if index == 0:
                forward_calls += 1          # the vocabulary-parallel embedding's sum
            if index == lay.pp - 1:
                backward_calls += 1         # the head's input gradient
            calls = (forward_calls + backward_calls) * m
            if lay.sequence_parallel:
                coll += [_traffic("tensor", "all-gather", "per block each way; head",
                                  calls, hidden_buffer, t),
                         _traffic("tensor", "reduce-scatter", "per block each way; embedding",
                                  calls, hidden_buffer, t)]
            else:
                coll.append(_traffic("tensor", "all-reduce", "2 per block each way; embedding, head", calls,
                                     hidden_buffer, t))
            if index == lay.pp - 1:
                coll.append(_traffic("tensor", "all-reduce", "parallel loss: max, sum, target",
                                     3 * m, mb_tokens * 4, t))
        if d > 1:
            grad_buffer, param_buffer = params * g_bytes, params * p_bytes
            if lay.zero == 0:
                coll.append(_traffic("data", "all-reduce", "gradients, once per step", 1, grad_buffer, d))
            elif lay.zero == 1:
                coll += [_traffic("data", "reduce-scatter", "gradients, once per step", 1, grad_buffer, d),
                         _traffic("data", "all-gather", "updated weights", 1, param_buffer, d)]
            elif lay.zero == 2:
                coll += [_traffic("data", "reduce-scatter", "gradients, every micro-batch", m, grad_buffer, d),
                         _traffic("data", "all-gather", "updated weights", 1, param_buffer, d)]
            else:
                coll += [_traffic("data", "all-gather", "weights, fwd and bwd, every micro-batch",
                                  2 * m, param_buffer, d),
                         _traffic("data", "reduce-scatter", "gradients, every micro-batch", m, grad_buffer, d)]
        if lay.pp > 1:
            boundary = hidden_buffer // t if lay.sequence_parallel else hidden_buffer
            if index < lay.pp - 1:
                coll.append(_traffic("pipeline", "send", "activations to the next stage", m, boundary, 2))
            if index > 0:
                coll.append(_traffic("pipeline", "send", "gradients to the previous stage", m, boundary, 2))
        stages.append(StagePlan(index, len(own_blocks), params, weights, grads, states, per_micro * in_flight,
                                in_flight, working, model_flops, hardware_flops, tuple(coll)))
    bubble = (lay.pp - 1) / (m + lay.pp - 1)
    seconds = None
    if request.peak_tflops is not None:
        slowest = max(s.hardware_flops for s in stages)
        seconds = slowest / (request.peak_tflops * 1e12 * request.utilisation) / (1 - bubble)
    notes = list(shape.notes)
    if t > 1:
        notes.append("FLOPs per rank: all of the model's work divided by tp (norms and element-wise work are "
                     "replicated in practice, a few percent of a transformer's)")
    if lay.pp > 1 and m < lay.pp:
        notes.append(f"{m} micro-batches for {lay.pp} stages: the pipeline never fills (bubble {bubble:.0%})")
    return ParallelPlan(request, tuple(stages), bubble, seconds, tuple(notes))
