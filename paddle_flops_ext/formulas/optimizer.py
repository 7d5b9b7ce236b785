"""Optimizer update steps (``adam_``, ``sgd_``, ``momentum_``, ...).

Convention: one update costs a constant number of FLOPs per parameter element
(each arithmetic step or transcendental 1, as everywhere), counted on the
parameter (the sum over the list for merged / fused multi-tensor kernels).
Per-tensor scalars (bias corrections, ``beta^t``, trust ratios' final divide)
are not counted; the norms a step needs (LAMB, LARS, DGC) are (2 per element
each). Sparse / lazy gradients are priced dense (an upper bound).

=================  ===  ===========================================================
sgd                2    lr * g, subtract
momentum           4    v = mu v + g (2), p -= lr v (2); Nesterov +1; L2 decay +2
lars_momentum      9    |p|, |g| norms (4), v = mu v + lr_l (g + wd p) (4), p -= v
dgc_momentum       4    as momentum
dgc                3    u = m u + g (2), v += u (1); top-k selection free
adam               12   m (3), v (4), p -= lr m / (sqrt(v) + eps) (5); amsgrad max free
adamw              13   adam + decoupled weight decay p *= (1 - lr coeff)
adamax             9    m (3), u = max(b2 u, |g| + eps) (3), p -= lr m / u (3)
adagrad            7    G += g^2 (2), p -= lr g / (sqrt(G) + eps) (5)
decayed_adagrad    9    G = d G + (1 - d) g^2 (4), update (5)
adadelta           16   E[g^2] (4), update -sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) g (6), E[dx^2] (4), p += lr u (2)
rmsprop            11   ms (4), mom = rho mom + lr g / sqrt(ms + eps) (6), p -= mom; centered +5
lamb               18   m (3), v (4), r = m / (sqrt(v) + eps) + wd p (5), |p|, |r| norms (4), p -= lr ratio r (2)
nadam              16   m (3), v (4), m_hat (3), v_hat (1), p -= lr m_hat / (sqrt(v_hat) + eps) (5)
radam              15   m (3), v (4), rectified update m_hat, v_hat, sqrt, add, divide, 2 multiplies, subtract (8)
asgd               4    d = d - y + g (2), p -= lr / n d (2)
rprop              4    g * prev sign test (1), step-size scale (1), p -= sign(g) step (2)
ftrl               15   accumulator (2), linear term (7), l1 / l2 shrink (5), divide (1)
dpsgd              6    clip by the L2 norm (3), noise add (1), p -= lr g (2)
=================  ===  ===========================================================
"""
from __future__ import annotations

from .registry import numel, op_formula, pointwise

PER_ELEMENT = {
    "sgd": 2, "momentum": 4, "lars_momentum": 9, "dgc_momentum": 4, "dgc": 3,
    "adam": 12, "adamw": 13, "adamax": 9, "adagrad": 7, "decayed_adagrad": 9, "adadelta": 16,
    "rmsprop": 11, "lamb": 18, "nadam": 16, "radam": 15, "asgd": 4, "rprop": 4, "ftrl": 15, "dpsgd": 6,
}
NESTEROV, L2_DECAY, RMSPROP_CENTERED = 1, 2, 5


def _elements(ins, key="param") -> int:
    v = ins.get(key)
    if isinstance(v, list):
        return sum(numel(s) for s in v)
    return numel(v)


def _momentum_extra(attrs) -> int:
    extra = NESTEROV if attrs.get("use_nesterov") else 0
    return extra + (L2_DECAY if attrs.get("regularization_method") == "l2_decay" else 0)


_MOMENTUM_NOTE = " (+1 Nesterov, +2 L2 decay)"


def _register(name, args, key="param", extra=None, note="", aliases=()):
    per = PER_ELEMENT[name]

    def formula(ins, outs, attrs):
        return pointwise(_elements(ins, key), per + (extra(attrs) if extra else 0))

    formula.__name__ = f"{name}_op"
    op_formula(name, *aliases, args=args,
               convention=f"{per} per parameter element{note} (optimizer module table)")(formula)


_register("sgd", "param, learning_rate, grad, master_param, multi_precision")
_register("momentum", "param, grad, velocity, learning_rate, master_param, mu, use_nesterov, regularization_method, "
                      "regularization_coeff, multi_precision, rescale_grad",
          extra=_momentum_extra, note=_MOMENTUM_NOTE, aliases=("merged_momentum",))
_register("lars_momentum", "param, grad, velocity, learning_rate, master_param, mu, lars_coeff, lars_weight_decay, "
                           "epsilon, multi_precision, rescale_grad")
_register("dgc_momentum", "param, grad, velocity, learning_rate, master_param, current_step_tensor, nranks_tensor, mu, "
                          "use_nesterov, regularization_method, regularization_coeff, multi_precision, rescale_grad, "
                          "rampup_begin_step", extra=_momentum_extra, note=_MOMENTUM_NOTE)
_register("dgc", "u, v, grad, param, current_step, nranks, m, use_nesterov, sparsity, rampup_begin_step, rampup_step, "
                 "regular_coeff, regular_type", key="grad")
_register("adam", "param, grad, learning_rate, moment1, moment2, moment2_max, beta1_pow, beta2_pow, master_param, "
                  "skip_update, beta1, beta2, epsilon, lazy_mode, min_row_size_to_use_multithread, multi_precision, "
                  "use_global_beta_pow, amsgrad", aliases=("merged_adam",))
_register("adamw", "param, grad, learning_rate, moment1, moment2, moment2_max, beta1_pow, beta2_pow, master_param, "
                   "skip_update, beta1, beta2, epsilon, lr_ratio, coeff, with_decay, lazy_mode, "
                   "min_row_size_to_use_multithread, multi_precision, use_global_beta_pow, amsgrad")
_register("adamax", "param, grad, learning_rate, moment, inf_norm, beta1_pow, master_param, beta1, beta2, epsilon, "
                    "multi_precision")
_register("adagrad", "param, grad, moment, learning_rate, master_param, epsilon, multi_precision")
_register("decayed_adagrad", "param, grad, moment, learning_rate, decay, epsilon")
_register("adadelta", "param, grad, avg_squared_grad, avg_squared_update, learning_rate, master_param, rho, epsilon, "
                      "multi_precision")
_register("rmsprop", "param, mean_square, grad, moment, learning_rate, mean_grad, master_param, epsilon, decay, "
                     "momentum, centered, multi_precision",
          extra=lambda attrs: RMSPROP_CENTERED if attrs.get("centered") else 0, note=" (+5 centered)")
_register("lamb", "param, grad, learning_rate, moment1, moment2, beta1_pow, beta2_pow, master_param, skip_update, "
                  "weight_decay, beta1, beta2, epsilon, always_adapt, multi_precision")
_register("nadam", "param, grad, learning_rate, momentum_decay_pow, beta2_pow, mu_product, moment1, moment2, "
                   "master_param, beta1, beta2, epsilon, momentum_decay, multi_precision")
_register("radam", "param, grad, learning_rate, beta1_pow, beta2_pow, rho, moment1, moment2, master_param, beta1, "
                   "beta2, epsilon, multi_precision")
_register("asgd", "param, grad, learning_rate, d, y, n, master_param, multi_precision")
_register("rprop", "param, grad, prev, learning_rate, master_param, learning_rate_range, etas, multi_precision")
_register("ftrl", "param, squared_accumulator, linear_accumulator, grad, learning_rate, l1, l2, lr_power")
_register("dpsgd", "param, grad, learning_rate, clip, batch_size, sigma, seed")


@op_formula("fused_adam", args="params, grads, learning_rate, moments1, moments2, moments2_max, beta1_pows, "
                                "beta2_pows, master_params, skip_update, beta1, beta2, epsilon, chunk_size, "
                                "weight_decay, use_adamw, multi_precision, use_global_beta_pow, amsgrad",
            convention="adam (12) or adamw (13) per element of every parameter in the list")
def fused_adam_op(ins, outs, attrs):
    per = PER_ELEMENT["adamw" if attrs.get("use_adamw") else "adam"]
    return pointwise(_elements(ins, "params"), per)


@op_formula("average_accumulates", args="param, in_sum_1, in_sum_2, in_sum_3, in_num_accumulates, "
                                        "in_old_num_accumulates, in_num_updates, average_window, max_average_window, "
                                        "min_average_window",
            convention="1 add per parameter element (the running sum; window roll-overs not counted)")
def average_accumulates_op(ins, outs, attrs):
    return pointwise(_elements(ins), 1)


@op_formula("check_finite_and_unscale", args="x, scale",
            convention="1 multiply per element of every gradient (by 1/scale); the finiteness test is free")
def check_finite_and_unscale_op(ins, outs, attrs):
    return pointwise(_elements(ins, "x"), 1)
