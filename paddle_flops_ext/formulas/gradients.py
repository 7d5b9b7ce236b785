"""Gradient formulas: what the backward of one forward operation costs.

A separate table, keyed by the *forward* operation's name (as in
:mod:`.registry`; a trace's ``matmul_grad`` is looked up as ``matmul``).
Every formula has the signature::

    fn(ins, outs, attrs, grads, forward) -> Cost

``ins``/``outs``/``attrs`` are the forward op's (as the forward formula sees
them), ``grads`` the names of the inputs that need a gradient (a list input
``x`` appears as ``x[0]``, ``x[1]``, ...), ``forward`` the forward op's own
:class:`Cost`. Only the work for inputs in ``grads`` is counted: a frozen
weight costs no weight gradient, an input that needs no gradient no data
gradient. Conventions follow the forward ones: a MAC is a multiply-accumulate
of a contraction, every other arithmetic step 1 FLOP per element, selections
and data movement 0.

``saves`` says which forward tensors the backward keeps (for the memory
estimate): input names, ``"out"`` for the outputs, and a count of extra
elements the kernel saves besides (the softmax matrix of unfused attention).

Forward operations declared free (reshape, transpose, concat, slicing, ...)
have a free gradient (data movement back) unless this table says otherwise
(gathers scatter-add, expands reduce). A forward op with a formula and no
gradient formula is reported as uncounted backward work, never silently 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from .contraction import conv_macs
from .deformable import BILINEAR_SAMPLE, MASK_MULTIPLY, sampled_points
from .registry import ZERO, Cost, DuplicateFormula, canonical_op_name, contraction, numel, pointwise, zero_cost_reason

GradFn = Callable[[dict, list, dict, frozenset, Cost], Cost]


@dataclass
class GradSpec:
    name: str
    fn: GradFn
    convention: str
    saves: Callable[[dict, list, dict, frozenset, Cost], tuple]   # -> (names, extra elements)
    contraction: bool = False
    args: tuple = ()           # argument names for forward ops that have no forward formula (free ops)

    def cost(self, ins, outs, attrs, grads, forward: Cost) -> Cost:
        if not grads:
            return ZERO
        cost = self.fn(ins, outs, attrs, frozenset(grads), forward)
        return Cost(cost.macs, cost.flops, 0, cost.comm_bytes)   # paddle.flops has no backward convention


_GRADS: dict[str, GradSpec] = {}


def _all_inputs(ins, outs, attrs, grads, forward):
    return tuple(k for k, v in ins.items() if v is not None), 0


def grad_formula(*names: str, convention: str, saves=None, contraction: bool = False, args: str = ""):
    """Register ``fn`` as the gradient formula of the forward ops ``names``."""

    def deco(fn: GradFn) -> GradFn:
        for name in names:
            if name in _GRADS:
                raise DuplicateFormula(f"operation {name!r} already has a gradient formula "
                                       f"({_GRADS[name].convention!r})")
            _GRADS[name] = GradSpec(name, fn, convention, saves or _all_inputs, contraction,
                                    tuple(a.strip() for a in args.split(",") if a.strip()))
        return fn

    return deco


def lookup_grad(name: str) -> GradSpec | None:
    name = canonical_op_name(name)
    if name.endswith("_grad"):
        name = name[: -len("_grad")]
    return _GRADS.get(name)


def grad_specs() -> dict[str, GradSpec]:
    return dict(_GRADS)


def _saves(*pairs):
    """``saves`` from (input that needs a gradient, what it needs kept) pairs."""
    def saves(ins, outs, attrs, grads, forward):
        keep = []
        for needs, kept in pairs:
            if needs in grads or needs == "*":
                keep.extend(k for k in kept if k not in keep)
        return tuple(keep), 0
    return saves


def _both_operands(ins, outs, attrs, grads, forward):
    """Paddle's backward node of a product keeps both operands whenever
    either needs a gradient (measured: a matmul, linear or multiply whose
    other operand needs none still holds it); a product by a Python number
    runs as ``scale`` and keeps nothing."""
    if ins.get("x") is None or ins.get("y") is None:
        return (), 0
    return ("x", "y"), 0


_BOTH_OPERANDS = _both_operands


def _saves_nothing(ins, outs, attrs, grads, forward):
    return (), 0


def _reduce_adds(in_shape, out_shape) -> int:
    """Summing a broadcast gradient back to the input's shape."""
    n_out, n_in = numel(out_shape), numel(in_shape)
    return max(n_out - n_in, 0)


def _out(outs):
    return outs[0] if outs else None


# --------------------------------------------------------------------------- contractions

@grad_formula("matmul", "mm", "bmm", "mv", "dot", "matmul_v2", "mul",
              convention="one product of the forward's MACs per input that needs a gradient "
                         "(dX = dO Y^T, dY = X^T dO; a broadcast batch is summed inside the product)",
              saves=_BOTH_OPERANDS, contraction=True)
def matmul_grad(ins, outs, attrs, grads, forward):
    return contraction(forward.macs * len(grads & {"x", "y"}))


@grad_formula("linear", "fc",
              convention="x and weight: the forward's MACs each (dX = dO W^T, dW = X^T dO); "
                         "bias: numel(out) - numel(bias) adds (dO summed over rows, as a broadcast add)",
              saves=_saves(("*", ("x", "weight"))), contraction=True)
def linear_grad(ins, outs, attrs, grads, forward):
    macs = forward.macs * len(grads & {"x", "weight"})
    bias = _reduce_adds(ins.get("bias"), _out(outs)) if "bias" in grads and ins.get("bias") is not None else 0
    return contraction(macs, bias)


@grad_formula("addmm", "baddbmm",
              convention="x and y as matmul; input: 1 multiply (beta) per output element + the sum "
                         "of a broadcast", saves=_BOTH_OPERANDS, contraction=True)
def addmm_grad(ins, outs, attrs, grads, forward):
    extra = numel(_out(outs)) + _reduce_adds(ins.get("input"), _out(outs)) if "input" in grads else 0
    return contraction(forward.macs * len(grads & {"x", "y"}), extra)


@grad_formula("conv2d", "conv3d", "depthwise_conv2d", "conv1d", "conv2d_transpose", "conv3d_transpose",
              "depthwise_conv2d_transpose", "conv2d_transpose_bias",
              convention="data gradient (input): the forward's MACs (a transposed convolution of dO "
                         "with the filter); filter gradient: the forward's MACs (dO correlated with the "
                         "input); each only if needed",
              saves=_saves(("input", ("filter",)), ("filter", ("input",)), ("x", ("weight",)),
                           ("weight", ("x",))), contraction=True)
def conv_grad(ins, outs, attrs, grads, forward):
    n = len(grads & {"input", "filter", "x", "weight"})
    bias = _reduce_adds(ins.get("bias"), _out(outs)) if "bias" in grads and ins.get("bias") is not None else 0
    return contraction(forward.macs * n, bias)


@grad_formula("einsum",
              convention="one product of the forward's MACs per operand that needs a gradient",
              saves=_saves(("*", ("x",))), contraction=True)
def einsum_grad(ins, outs, attrs, grads, forward):
    return contraction(forward.macs * len([g for g in grads if g.startswith("x")]))


# --------------------------------------------------------------------------- attention

def _attention_parts(ins, forward, names):
    q, k, v = (ins.get(n) for n in names)
    if q is None and "qkv" in ins:  # packed: [..., 3, H, D]
        d = dv = ins["qkv"][-1]
    else:
        d, dv = q[-1], (v if v is not None else q)[-1]
    entries = forward.macs // (d + dv) if d + dv else 0   # score entries x batch x heads
    return entries, d, dv


def _attention_grad(names, *, unfused: bool):
    def fn(ins, outs, attrs, grads, forward):
        entries, d, dv = _attention_parts(ins, forward, names)
        q, k, v = (n in grads or "qkv" in grads for n in names)
        macs = entries * (dv * v + dv * (q or k) + d * q + d * k)
        per_entry = 5 if (q or k) else 0     # softmax gradient 4 + scale 1
        return contraction(macs, per_entry * entries)

    def saves(ins, outs, attrs, grads, forward):
        kept = tuple(n for n in (*names, "qkv") if n in ins) + ("out",)
        # the unfused (math) kernel keeps the softmax matrix: one value per entry
        return kept, (_attention_parts(ins, forward, names)[0] if unfused else 0)

    return fn, saves


_sdpa_fn, _sdpa_saves = _attention_grad(("query", "key", "value"), unfused=True)
grad_formula("scaled_dot_product_attention", "flash_attention",
             convention="over the E counted score entries: dV = P^T dO (E x Dv MACs), dP = dO V^T "
                        "(E x Dv), dQ = dS K (E x D), dK = dS^T Q (E x D), each only if needed (so 2 x "
                        "the forward MACs with all three); softmax gradient 4 + scale 1 per entry",
             saves=_sdpa_saves, contraction=True)(_sdpa_fn)
_flash_fn, _flash_saves = _attention_grad(("q", "k", "v"), unfused=False)
grad_formula("flash_attn", "flash_attn_v3", "flash_attn_qkvpacked", "flash_attn_qkvpacked_api",
             "flash_attn_unpadded", "flash_attn_varlen_qkvpacked", "flashmask_attention",
             "memory_efficient_attention",
             convention="as scaled_dot_product_attention (the recomputation of the scores a flash "
                        "kernel does is hardware work, not counted)",
             saves=_flash_saves, contraction=True)(_flash_fn)


# --------------------------------------------------------------------------- elementwise

@grad_formula("add", "subtract", "elementwise_add", "elementwise_sub",
              convention="0 per input of the output's shape (dO passes through); a broadcast input "
                         "sums dO back: numel(out) - numel(in) adds", saves=_saves_nothing)
def add_grad(ins, outs, attrs, grads, forward):
    out = _out(outs)
    return pointwise(sum(_reduce_adds(ins.get(n), out) for n in ("x", "y") if n in grads), 1)


@grad_formula("multiply", "elementwise_mul",
              convention="1 multiply per output element per input that needs a gradient (dX = dO Y) "
                         "+ the sum of a broadcast", saves=_BOTH_OPERANDS)
def multiply_grad(ins, outs, attrs, grads, forward):
    out = _out(outs)
    return pointwise(sum(numel(out) + _reduce_adds(ins.get(n), out) for n in ("x", "y") if n in grads), 1)


@grad_formula("divide", "elementwise_div",
              convention="x: 1 per output element (dO / y); y: 3 (-dO out / y) + the sum of a broadcast",
              saves=_saves(("x", ("y",)), ("y", ("y", "out"))))
def divide_grad(ins, outs, attrs, grads, forward):
    out = _out(outs)
    per = {"x": 1, "y": 3}
    return pointwise(sum(per[n] * numel(out) + _reduce_adds(ins.get(n), out) for n in ("x", "y") if n in grads), 1)


@grad_formula("swiglu", "fused_swiglu",
              convention="per output element: x: 9 (sigmoid(x) 3, dO y 1, times s (1 + x (1 - s)) 5); "
                         "y: 5 (silu(x) recomputed 4, dO silu 1); both 11; with no y, x holds both "
                         "halves: 11",
              saves=_saves(("*", ("x", "y"))))
def swiglu_grad(ins, outs, attrs, grads, forward):
    if ins.get("y") is None:                      # x = [gate | up]: both halves need their gradient
        per = 11 if "x" in grads else 0
    else:
        per = {frozenset({"x"}): 9, frozenset({"y"}): 5, frozenset({"x", "y"}): 11}.get(frozenset(grads & {"x", "y"}), 0)
    return pointwise(numel(_out(outs)) * per, 1)


# interpolation: each output's gradient goes back to its taps, weighted (1 multiply) and
# accumulated (1 add) per tap; the weights depend only on coordinates (not counted, as forward)
_INTERP_TAPS = {"linear_interp": 2, "bilinear_interp": 4, "trilinear_interp": 8, "bicubic_interp": 16}


def _interp_grad(taps):
    def fn(ins, outs, attrs, grads, forward):
        return pointwise(2 * taps * numel(_out(outs)) if "x" in grads else 0, 1)
    return fn


for _name, _taps in _INTERP_TAPS.items():
    grad_formula(_name, args="x", convention=f"{2 * _taps} per output element ({_taps} taps: weight x dO, "
                                             f"accumulated)", saves=_saves_nothing)(_interp_grad(_taps))


@grad_formula("nearest_interp", args="x", convention="1 add per output element (dO accumulated into its source)",
              saves=_saves_nothing)
def nearest_interp_grad(ins, outs, attrs, grads, forward):
    return pointwise(numel(_out(outs)) if "x" in grads else 0, 1)


@grad_formula("elementwise_pow", args="x, y",
              convention="x: 3 per output element (dO y x^(y-1), reusing out / x); y: 3 (dO out ln x) + "
                         "the sum of a broadcast", saves=_saves(("x", ("x", "y", "out")), ("y", ("x", "out"))))
def elementwise_pow_grad(ins, outs, attrs, grads, forward):
    out = _out(outs)
    return pointwise(sum(3 * numel(out) + _reduce_adds(ins.get(n), out) for n in ("x", "y") if n in grads), 1)


@grad_formula("deformable_conv", "deformable_conv_v1", args="x, offset, filter, mask",
              convention="filter or mask: the columns sampled again (17 per sample, +1 masked); filter: the "
                         "forward's MACs (dW = dO col^T); x, offset or mask: the forward's MACs for the column "
                         "gradient (W^T dO); x: 16 per sample (4 corner weights 8, 4 weighted scatters 8), +1 "
                         "masked; offset: 16 per sample (the bilinear weights' derivative in h and w, 7 each, "
                         "times the column gradient); mask: 1 per sample (sample x column gradient)",
              saves=_saves(("*", ("x", "offset", "filter", "mask"))), contraction=True)
def deformable_conv_grad(ins, outs, attrs, grads, forward):
    x, weight, out = ins.get("x"), ins.get("filter"), _out(outs)
    macs = conv_macs(x, weight, out)
    points = sampled_points(x, weight, out)
    masked = ins.get("mask") is not None
    needed = grads & {"x", "offset", "filter", "mask"}
    flops = points * (BILINEAR_SAMPLE + (MASK_MULTIPLY if masked else 0)) if needed & {"filter", "mask"} else 0
    products = (macs if "filter" in needed else 0) + (macs if needed & {"x", "offset", "mask"} else 0)
    flops += points * ((16 + (1 if masked else 0)) * ("x" in needed) + 16 * ("offset" in needed)
                       + 1 * ("mask" in needed))
    return contraction(products, flops)


@grad_formula("add_n", convention="0: each input receives dO", saves=_saves_nothing)
def add_n_grad(ins, outs, attrs, grads, forward):
    return ZERO


# unary: derivative from what the forward saved, times dO (1 multiply)
_UNARY = {
    "scale": (1, "dO x scale", ()),
    "exp": (1, "dO out", ("out",)),
    "expm1": (2, "dO (out + 1)", ("out",)),
    "log": (1, "dO / x", ("x",)),
    "log1p": (2, "dO / (1 + x)", ("x",)),
    "log2": (2, "dO / (x ln 2)", ("x",)),
    "log10": (2, "dO / (x ln 10)", ("x",)),
    "sqrt": (2, "dO 0.5 / out", ("out",)),
    "rsqrt": (3, "-0.5 dO out^3", ("out",)),
    "square": (2, "2 x dO", ("x",)),
    "abs": (1, "dO sign(x)", ("x",)),
    "reciprocal": (3, "-dO out^2", ("out",)),
    "sin": (2, "dO cos(x)", ("x",)),
    "cos": (3, "-dO sin(x)", ("x",)),
    "pow": (3, "dO a x^(a-1)", ("x",)),
    "erf": (5, "dO 2/sqrt(pi) exp(-x^2)", ("x",)),
    "sigmoid": (3, "dO out (1 - out)", ("out",)),
    "tanh": (3, "dO (1 - out^2)", ("out",)),
    "silu": (8, "sigmoid(x) (3) then dO s (1 + x (1 - s)) (5)", ("x",)),
    "swish": (8, "as silu", ("x",)),
    "relu": (0, "a selection by the mask out > 0", ("out",)),
    "relu6": (0, "a selection", ("out",)),
    "leaky_relu": (1, "dO or alpha dO", ("x",)),
    "elu": (2, "dO (out + alpha) on the negative side", ("out",)),
    "celu": (2, "as elu", ("out",)),
    "selu": (2, "as elu, scaled", ("out",)),
    "softplus": (4, "dO sigmoid(beta x)", ("x",)),
    "logsigmoid": (4, "dO sigmoid(-x)", ("x",)),
    "hardsigmoid": (1, "dO slope inside the linear range", ("out",)),
    "hardswish": (3, "dO (2x + 3) / 6 inside the range", ("x",)),
    "mish": (12, "tanh(softplus(x)) recomputed (7) + derivative (4) + dO (1)", ("x",)),
}


def _unary(per, what):
    def fn(ins, outs, attrs, grads, forward):
        return pointwise(numel(_out(outs)) * per, 1)
    return fn


for _name, (_per, _what, _kept) in _UNARY.items():
    grad_formula(_name, convention=f"{_per} per element: {_what}",
                 saves=_saves(("*", _kept)) if _kept else _saves_nothing)(_unary(_per, _what))


@grad_formula("gelu", convention="11 per element (Phi(x) + x phi(x): erf 4, exp 4, 3 combine) x dO; "
                                 "tanh approximation 15", saves=_saves(("*", ("x",))))
def gelu_grad(ins, outs, attrs, grads, forward):
    return pointwise(numel(_out(outs)), 15 if attrs.get("approximate") else 11)


@grad_formula("softmax", convention="4 per element: dX = out (dO - sum(dO out))",
              saves=_saves(("*", ("out",))))
def softmax_grad(ins, outs, attrs, grads, forward):
    return pointwise(numel(_out(outs)), 4)


@grad_formula("log_softmax", convention="4 per element: dX = dO - exp(out) sum(dO)",
              saves=_saves(("*", ("out",))))
def log_softmax_grad(ins, outs, attrs, grads, forward):
    return pointwise(numel(_out(outs)), 4)


@grad_formula("cross_entropy_with_softmax", "softmax_with_cross_entropy",
              convention="2 per logit: (softmax - one_hot(label)) x dLoss", saves=_saves(("*", ("label", "out"))))
def softmax_ce_grad(ins, outs, attrs, grads, forward):
    return pointwise(numel(ins.get("input") or ins.get("logits")), 2)


@grad_formula("mean", "mean_all", "reduce_mean",
              convention="1 per input element: dO / N broadcast", saves=_saves_nothing)
def mean_grad(ins, outs, attrs, grads, forward):
    return pointwise(numel(ins.get("x")), 1)


@grad_formula("sum", "reduce_sum", convention="0: dO broadcast to the input", saves=_saves_nothing)
def sum_grad(ins, outs, attrs, grads, forward):
    return ZERO


# --------------------------------------------------------------------------- normalisation

def _norm_grad(x_per, scale_per, bias_per):
    def fn(ins, outs, attrs, grads, forward):
        n = numel(ins.get("x"))
        per = (x_per if "x" in grads else 0) + (scale_per if "scale" in grads else 0) \
            + (bias_per if "bias" in grads else 0)
        return pointwise(n, per)
    return fn


grad_formula("layer_norm", "group_norm", "instance_norm", "batch_norm", "sync_batch_norm",
             convention="per element: x 8 (dO gamma, x_hat, two row means, combine), scale 2 "
                        "(dO x_hat summed), bias 1 (dO summed); each only if needed",
             saves=_saves(("*", ("x", "scale"))))(_norm_grad(8, 2, 1))
grad_formula("rms_norm",
             convention="per element: x 7 (dO gamma, dot with x, combine, / rms), scale 3 "
                        "(x / rms times dO, summed)", saves=_saves(("*", ("x", "scale", "norm_weight"))))(
    _norm_grad(7, 3, 1))


# --------------------------------------------------------------------------- lookups, gathers, pooling

@grad_formula("embedding", args="x, weight, padding_idx, sparse", convention="weight: 1 add per output element (dO rows scatter-added into "
                                      "the table); ids: none", saves=_saves(("*", ("x",))))
def embedding_grad(ins, outs, attrs, grads, forward):
    return pointwise(numel(_out(outs)), 1) if grads & {"weight", "w"} else ZERO


@grad_formula("gather", "gather_nd", "index_select", "take_along_axis", "index_sample", args="x, index",
              convention="1 add per output element (dO scatter-added back)", saves=_saves(("*", ("index",))))
def gather_grad(ins, outs, attrs, grads, forward):
    return pointwise(numel(_out(outs)), 1)


@grad_formula("expand", "expand_as", "tile", "broadcast_to", args="x",
              convention="numel(out) - numel(x) adds (dO summed back to the input's shape)",
              saves=_saves_nothing)
def expand_grad(ins, outs, attrs, grads, forward):
    return pointwise(_reduce_adds(ins.get("x"), _out(outs)), 1)


@grad_formula("pool2d", "pool3d",
              convention="max: 0 (dO routed to the arg-max); avg: the forward's FLOPs (dO / window "
                         "size added into each window)", saves=_saves(("*", ("x", "out"))))
def pool_grad(ins, outs, attrs, grads, forward):
    return ZERO if attrs.get("pooling_type", "max") == "max" else Cost(0, forward.flops, 0)


def argument_names(name: str) -> tuple:
    """Names to bind a forward op's arguments by when it has no forward formula."""
    spec = lookup_grad(name)
    return spec.args if spec is not None else ()


# Operations Paddle defines no gradient for: their outputs stop the gradient, so
# a backward never runs through them (detection post-processing, anchors).
NO_GRADIENT = {name: "Paddle defines no gradient: its outputs stop the gradient" for name in (
    "multiclass_nms", "multiclass_nms2", "multiclass_nms3", "matrix_nms", "nms", "locality_aware_nms",
    "yolo_box", "yolo_box_head", "yolo_box_post", "prior_box", "density_prior_box", "anchor_generator",
    "generate_proposals", "generate_proposals_v2", "distribute_fpn_proposals", "collect_fpn_proposals")}


def free_gradient_reason(name: str) -> str | None:
    """Forward ops declared free have a free gradient unless listed here;
    so do the operations Paddle defines no gradient for."""
    if lookup_grad(name) is not None:
        return None
    canonical = canonical_op_name(name)
    return NO_GRADIENT.get(canonical) or zero_cost_reason(name)


def grad_saves(spec: GradSpec, ins, outs, attrs, grads, forward: Cost) -> tuple[Iterable[str], int]:
    """(names of the forward tensors the backward keeps, extra elements it saves)."""
    return spec.saves(ins, outs, attrs, frozenset(grads), forward)


@grad_formula("dropout", convention="1 per element (dO x mask) in training; 0 in eval (the identity)",
              saves=_saves_nothing)
def dropout_grad(ins, outs, attrs, grads, forward):
    return pointwise(numel(_out(outs)), 0 if attrs.get("is_test", True) else 1)
