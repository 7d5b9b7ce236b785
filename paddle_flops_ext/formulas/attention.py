"""Attention kernels: scaled dot-product attention and Paddle's flash /
memory-efficient attention entry points.

Convention for one attention of ``B x H`` heads (``H`` = query heads, so
grouped-query attention costs what the expanded attention costs), ``Sq``
queries, ``Sk`` keys, key/query width ``D`` and value width ``Dv``, over
``E`` counted score entries per head:

* MACs: ``B x H x E x (D + Dv)`` - the ``Q K^T`` product and the product of
  the probabilities with ``V``. They enter ``paddle_flops`` (MACs only).
* FLOPs: ``2 x MACs`` + per counted score entry: 1 (scale) + 3 (softmax)
  + 1 when a mask is added (an ``attn_mask``, or a causal mask counted in
  full). Dropout is off in eval.
* ``E = Sq x Sk`` without a causal mask. With ``is_causal`` the counting
  option ``causal`` decides (``profile(..., causal=...)``, read here from
  ``attrs["causal"]``):

  - ``"full"`` (default): the whole ``Sq x Sk`` matrix, what a dense kernel
    computes before masking;
  - ``"half"``: only the unmasked entries, what a block-skipping flash kernel
    computes. For ``Sq == Sk`` that is ``S (S + 1) / 2``. For ``Sq != Sk`` the
    diagonal follows each kernel's own alignment: ``scaled_dot_product_attention``
    and ``memory_efficient_attention`` align it top-left (query ``i`` sees keys
    ``0..i``, Paddle's math path masks ``triu(diagonal=1)``); the ``flash_attn``
    kernels align it bottom-right (query ``i`` sees keys ``0..i + Sk - Sq``).

* variable-length (``*_unpadded`` / ``*_varlen``) kernels only see the packed
  token totals ``Tq``, ``Tk`` and the number ``n`` of sequences (the shape of
  ``cu_seqlens``), not the lengths themselves: they are counted as ``n``
  sequences of equal length ``Tq/n`` x ``Tk/n`` (exact for equal lengths, a
  lower bound otherwise). ``flashmask_attention``'s data-dependent masks and
  sliding windows are not read: counted as dense (or causal), an upper bound.
  ``sparse_attention`` counts exactly its ``nnz`` stored score entries.

The Python functions (``F.scaled_dot_product_attention``, ``flash_attention``,
``flash_attn_qkvpacked``) are counted as one operation each (on CPU Paddle runs
them as a transpose/matmul/softmax decomposition, which is then not counted
again); the ``_C_ops`` kernels (``flash_attn``, ...) are counted directly when
called elsewhere and by the program walker (``pd_op.flash_attn``).
"""
from __future__ import annotations

import importlib

from .registry import Cost, composite_function, op_formula

TOP_LEFT = "top_left"
BOTTOM_RIGHT = "bottom_right"


def causal_entries(sq: int, sk: int, align: str = TOP_LEFT) -> int:
    """Unmasked (query, key) pairs of a causal ``sq x sk`` score matrix.

    Row ``i`` sees ``clamp(i + 1 + offset, 0, sk)`` keys with ``offset = 0``
    (top-left) or ``sk - sq`` (bottom-right); summed in closed form."""
    sq, sk = int(sq), int(sk)
    if sq <= 0 or sk <= 0:
        return 0
    a = 1 + (sk - sq if align == BOTTOM_RIGHT else 0)
    lo = min(max(1 - a, 0), sq)      # first row that sees at least one key
    hi = min(max(sk - a, lo), sq)    # first row that sees every key
    partial = (hi - lo) * ((lo + a) + (hi - 1 + a)) // 2
    return partial + (sq - hi) * sk


def causal_mode(options) -> str:
    """The counting option ``profile(..., causal=...)``: ``"full"``
    (default) or ``"half"``."""
    mode = (options or {}).get("causal")
    return mode if mode in ("full", "half") else "full"


def causal_flag(attrs, key: str = "is_causal") -> bool:
    """The op's own causal switch (bound as ``is_causal``; a bool ``causal``
    attribute from a program is read too)."""
    v = attrs.get(key)
    if v is None:
        v = attrs.get("causal")
    return bool(v) if v is not None else False


def attention_cost(batch_heads: int, sq: int, sk: int, d_qk: int, d_v: int, *, causal: bool,
                   mode: str, align: str = TOP_LEFT, mask: bool = False, sequences: int = 1) -> Cost:
    """Cost of ``batch_heads`` attentions (of ``sequences`` equal sequences
    each) with the convention of this module."""
    if causal and mode == "half":
        entries = sequences * causal_entries(sq, sk, align)
    else:
        entries = sequences * int(sq) * int(sk)
    pairs = int(batch_heads) * entries
    macs = pairs * (int(d_qk) + int(d_v))
    per_entry = 4 + (1 if mask or (causal and mode != "half") else 0)
    return Cost(macs, 2 * macs + pairs * per_entry, macs)


def _bshd(q, k, v):
    """(batch x heads, Sq, Sk, D, Dv) for [B, S, H, D] tensors (or [S, H, D])."""
    if len(q) == 3:
        q, k = (1,) + tuple(q), (1,) + tuple(k)
    b, sq, h, d = q
    return int(b) * int(h), int(sq), int(k[1]), int(d), int(v[-1] if v is not None else d)


def _bhsd(q, k, v):
    """Same for [B, H, S, D] tensors (or [H, S, D])."""
    if len(q) == 3:
        q, k = (1,) + tuple(q), (1,) + tuple(k)
    b, h, sq, d = q
    return int(b) * int(h), int(sq), int(k[2]), int(d), int(v[-1] if v is not None else d)


def _qkv(ins, names=("q", "k", "v")):
    return [ins.get(n) for n in names]


# ------------------------------------------------------------------ Python APIs

@op_formula("scaled_dot_product_attention",
            args="query, key, value, attn_mask, dropout_p, is_causal, training, backend, scale, enable_gqa, name",
            convention="B*H*E*(D+Dv) MACs, E = Sq*Sk (causal 'half': top-left unmasked entries); "
                       "+5 FLOPs per entry (scale, softmax 3, mask add)", contraction=True)
def sdpa_op(ins, outs, attrs, options):
    q, k, v = _qkv(ins, ("query", "key", "value"))
    bh, sq, sk, d, dv = _bshd(q, k, v)
    causal = causal_flag(attrs)
    mask = ins.get("attn_mask") is not None and not causal  # Paddle ignores the mask when causal
    return attention_cost(bh, sq, sk, d, dv, causal=causal, mode=causal_mode(options), align=TOP_LEFT, mask=mask)


@op_formula("flash_attention", args="query, key, value, dropout, is_causal, return_softmax",
            convention="as flash_attn: B*H*E*(D+Dv) MACs, causal 'half' bottom-right aligned", contraction=True)
def flash_attention_api(ins, outs, attrs, options):
    q, k, v = _qkv(ins, ("query", "key", "value"))
    bh, sq, sk, d, dv = _bshd(q, k, v)
    return attention_cost(bh, sq, sk, d, dv, causal=causal_flag(attrs), mode=causal_mode(options), align=BOTTOM_RIGHT)


def _packed(qkv):
    """[B, S, G+2, Hk, D] (or [T, G+2, Hk, D]) -> (B, S, query heads, D)."""
    if len(qkv) == 4:
        qkv = (1,) + tuple(qkv)
    b, s, g2, hk, d = (int(x) for x in qkv)
    return b, s, (g2 - 2) * hk, d


@op_formula("flash_attn_qkvpacked_api", args="qkv, dropout, is_causal, return_softmax",
            convention="as flash_attn on the packed q, k, v", contraction=True)
def flash_attn_qkvpacked_api(ins, outs, attrs, options):
    b, s, h, d = _packed(ins.get("qkv"))
    return attention_cost(b * h, s, s, d, d, causal=causal_flag(attrs), mode=causal_mode(options), align=BOTTOM_RIGHT)


def _resolver(module: str, attr: str):
    def resolve():
        return getattr(importlib.import_module(module), attr, None)
    return resolve


composite_function("scaled_dot_product_attention",
                   _resolver("paddle.nn.functional", "scaled_dot_product_attention"))
composite_function("flash_attention", _resolver("paddle.nn.functional.flash_attention", "flash_attention"))
composite_function("flash_attn_qkvpacked_api",
                   _resolver("paddle.nn.functional.flash_attention", "flash_attn_qkvpacked"))


# ------------------------------------------------------------------ kernels (_C_ops / pd_op)

@op_formula("flash_attn", args="q, k, v, fixed_seed_offset, attn_mask, dropout, is_causal, return_softmax, is_test, rng_name",
            convention="B*H*E*(D+Dv) MACs, E = Sq*Sk (causal 'half': bottom-right unmasked entries); "
                       "+5 FLOPs per entry", contraction=True)
def flash_attn_op(ins, outs, attrs, options):
    bh, sq, sk, d, dv = _bshd(*_qkv(ins))
    causal = causal_flag(attrs)
    return attention_cost(bh, sq, sk, d, dv, causal=causal, mode=causal_mode(options), align=BOTTOM_RIGHT,
                          mask=ins.get("attn_mask") is not None)


@op_formula("flash_attn_v3", args="q, k, v, q_v, q_descale, k_descale, v_descale, softmax_scale, is_causal, "
                                  "window_size_left, window_size_right, softcap, num_splits, "
                                  "manual_set_pack_gqa, pack_gqa, sm_margin",
            convention="as flash_attn (sliding windows not read: counted dense/causal)", contraction=True)
def flash_attn_v3_op(ins, outs, attrs, options):
    bh, sq, sk, d, dv = _bshd(*_qkv(ins))
    return attention_cost(bh, sq, sk, d, dv, causal=causal_flag(attrs), mode=causal_mode(options), align=BOTTOM_RIGHT)


@op_formula("flash_attn_qkvpacked", args="qkv, fixed_seed_offset, attn_mask, dropout, is_causal, return_softmax, "
                                         "is_test, rng_name",
            convention="as flash_attn on the packed q, k, v", contraction=True)
def flash_attn_qkvpacked_op(ins, outs, attrs, options):
    b, s, h, d = _packed(ins.get("qkv"))
    return attention_cost(b * h, s, s, d, d, causal=causal_flag(attrs), mode=causal_mode(options), align=BOTTOM_RIGHT,
                          mask=ins.get("attn_mask") is not None)


def _sequences(ins, key="cu_seqlens_q") -> int:
    cu = ins.get(key)
    return max(int(cu[0]) - 1, 1) if cu else 1


def _varlen(ins, q, k, v, attrs, options, mask=False):
    n = _sequences(ins)
    tq, h, d = (int(x) for x in q)
    tk = int(k[0])
    dv = int(v[-1]) if v is not None else d
    return attention_cost(h, tq // n, tk // n, d, dv, causal=causal_flag(attrs), mode=causal_mode(options),
                          align=BOTTOM_RIGHT, mask=mask, sequences=n)


_VARLEN_NOTE = "n equal sequences of Tq/n x Tk/n (n = len(cu_seqlens) - 1), flash_attn per sequence"


@op_formula("flash_attn_unpadded", args="q, k, v, cu_seqlens_q, cu_seqlens_k, fixed_seed_offset, attn_mask, "
                                        "max_seqlen_q, max_seqlen_k, scale, dropout, is_causal, return_softmax, "
                                        "is_test, rng_name",
            convention=_VARLEN_NOTE, contraction=True)
def flash_attn_unpadded_op(ins, outs, attrs, options):
    return _varlen(ins, *_qkv(ins), attrs, options, mask=ins.get("attn_mask") is not None)


@op_formula("flash_attn_v3_varlen", args="q, k, v, cu_seqlens_q, cu_seqlens_k, seqused_q, seqused_k, qv, q_descale, "
                                         "k_descale, v_descale, max_seqlen_q, max_seqlen_k, softmax_scale, is_causal, "
                                         "window_size_left, window_size_right, softcap, num_splits, "
                                         "manual_set_pack_gqa, pack_gqa, sm_margin",
            convention=_VARLEN_NOTE, contraction=True)
def flash_attn_v3_varlen_op(ins, outs, attrs, options):
    return _varlen(ins, *_qkv(ins), attrs, options)


@op_formula("flash_attn_varlen_qkvpacked", args="qkv, cu_seqlens_q, cu_seqlens_k, fixed_seed_offset, attn_mask, "
                                                "max_seqlen_q, max_seqlen_k, scale, dropout, is_causal, "
                                                "return_softmax, is_test, rng_name, varlen_padded",
            convention=_VARLEN_NOTE + " on the packed q, k, v", contraction=True)
def flash_attn_varlen_qkvpacked_op(ins, outs, attrs, options):
    _, t, h, d = _packed(ins.get("qkv"))
    n = _sequences(ins)
    return attention_cost(h, t // n, t // n, d, d, causal=causal_flag(attrs), mode=causal_mode(options),
                          align=BOTTOM_RIGHT, mask=ins.get("attn_mask") is not None, sequences=n)


@op_formula("flashmask_attention", args="q, k, v, startend_row_indices, fixed_seed_offset, dropout, is_causal, "
                                        "return_softmax, is_test, rng_name",
            convention="as flash_attn; the data-dependent row masks are not read (dense/causal: an upper bound)",
            contraction=True)
def flashmask_attention_op(ins, outs, attrs, options):
    bh, sq, sk, d, dv = _bshd(*_qkv(ins))
    return attention_cost(bh, sq, sk, d, dv, causal=causal_flag(attrs), mode=causal_mode(options), align=BOTTOM_RIGHT,
                          mask=ins.get("startend_row_indices") is not None)


@op_formula("flashmask_attention_v2", args="q, k, v, startend_row_indices, block_mask, softmax_scale, is_causal",
            convention="as flashmask_attention", contraction=True)
def flashmask_attention_v2_op(ins, outs, attrs):
    return flashmask_attention_op(ins, outs, attrs)


@op_formula("memory_efficient_attention", args="query, key, value, bias, cu_seqlens_q, cu_seqlens_k, causal_diagonal, "
                                               "seqlen_k, max_seqlen_q, max_seqlen_k, is_causal, dropout_p, scale, is_test",
            convention="as scaled_dot_product_attention ([B, S, H, D], causal top-left)", contraction=True)
def memory_efficient_attention_op(ins, outs, attrs, options):
    bh, sq, sk, d, dv = _bshd(*_qkv(ins, ("query", "key", "value")))
    return attention_cost(bh, sq, sk, d, dv, causal=causal_flag(attrs), mode=causal_mode(options), align=TOP_LEFT,
                          mask=ins.get("bias") is not None)


@op_formula("variable_length_memory_efficient_attention",
            args="query, key, value, seq_lens, kv_seq_lens, mask, scale, is_causal, pre_cache_length",
            convention="as scaled_dot_product_attention on the padded [B, H, S, D] (lengths not read: upper bound)",
            contraction=True)
def variable_length_mea_op(ins, outs, attrs, options):
    bh, sq, sk, d, dv = _bhsd(*_qkv(ins, ("query", "key", "value")))
    return attention_cost(bh, sq, sk, d, dv, causal=causal_flag(attrs), mode=causal_mode(options), align=TOP_LEFT,
                          mask=ins.get("mask") is not None)


@op_formula("fused_dot_product_attention", args="q, k, v, bias, cu_seqlen_q, cu_seqlen_k, scaling_factor, "
                                                "dropout_prob, is_training, mask_type, bias_type",
            convention="as scaled_dot_product_attention (cuDNN; mask_type 'causal' is causal)", contraction=True)
def fused_dot_product_attention_op(ins, outs, attrs, options):
    bh, sq, sk, d, dv = _bshd(*_qkv(ins))
    mask_type = str(attrs.get("mask_type") or "none")
    causal = "causal" in mask_type
    return attention_cost(bh, sq, sk, d, dv, causal=causal, mode=causal_mode(options), align=TOP_LEFT,
                          mask=ins.get("bias") is not None or mask_type == "padding")


@op_formula("sparse_attention", args="q, k, v, offset, columns, key_padding_mask, attn_mask",
            convention="B*H*nnz*(D+Dv) MACs over the nnz stored score entries; +4 FLOPs per entry",
            contraction=True)
def sparse_attention_op(ins, outs, attrs):
    q, _, v = _qkv(ins)
    cols = ins.get("columns")
    b, h, _, d = (int(x) for x in q)
    nnz = int(cols[-1]) if cols else 0
    pairs = b * h * nnz
    macs = pairs * (d + int(v[-1]))
    masks = sum(1 for key in ("key_padding_mask", "attn_mask") if ins.get(key) is not None)
    return Cost(macs, 2 * macs + pairs * (4 + masks), macs)


@op_formula("calc_reduced_attn_scores", args="q, k, softmax_lse",
            convention="B*H*Sq*Sk*D MACs (Q K^T) + 3 FLOPs per score (subtract lse, exp, sum over queries)",
            contraction=True)
def calc_reduced_attn_scores_op(ins, outs, attrs):
    q, k = ins.get("q"), ins.get("k")
    bh, sq, sk, d, _ = _bshd(q, k, None)
    pairs = bh * sq * sk
    macs = pairs * d
    return Cost(macs, 2 * macs + 3 * pairs, macs)
