"""Fourier transforms and framing.

Convention: a complex transform of ``N`` points costs ``5 N log2 N`` FLOPs
(the radix-2 Cooley-Tukey count, used for any ``N``); a real-input or
real-output transform half of it, ``2.5 N log2 N``. A transform over several
axes is one transform of ``N`` = the product of their lengths (the per-axis
passes sum to the same figure). Normalisation (``"ortho"``, or the direction
that divides) adds 1 multiply per output element. No MACs.
"""
from __future__ import annotations

import math

from .registry import numel, op_formula, pointwise


def fft_flops(points: int, transforms: int, real: bool) -> float:
    if points <= 1:
        return 0.0
    per = 5 * points * math.log2(points)
    return transforms * (per / 2 if real else per)


def _axes(shape, axes):
    if axes is None:
        return list(range(len(shape)))
    if isinstance(axes, int):
        axes = [axes]
    return [int(a) % len(shape) for a in axes]


def _scaled(normalization, forward) -> bool:
    norm = normalization or "backward"
    if norm == "ortho":
        return True
    return (norm == "forward") == bool(forward)


def _fft_cost(full_shape, axes, real, out, attrs):
    """Cost over the ``axes`` of ``full_shape`` (the complex-side logical shape)."""
    ax = _axes(full_shape, axes)
    points = math.prod(int(full_shape[a]) for a in ax) if ax else 1
    transforms = numel(full_shape) // max(points, 1)
    scale = numel(out) if _scaled(attrs.get("normalization"), attrs.get("forward", True)) else 0
    return pointwise(fft_flops(points, transforms, real) + scale, 1)


_FFT = "5 N log2 N per complex transform of N points (product of the axes' lengths); +1 per output if normalised"


@op_formula("fft_c2c", args="x, axes, normalization, forward", convention=_FFT)
def fft_c2c_op(ins, outs, attrs):
    x = ins.get("x")
    return _fft_cost(x, attrs.get("axes"), False, outs[0] if outs else x, attrs)


@op_formula("fft_r2c", args="x, axes, normalization, forward, onesided",
            convention="2.5 N log2 N (real input, N from the input's axes); +1 per output if normalised")
def fft_r2c_op(ins, outs, attrs):
    x = ins.get("x")
    return _fft_cost(x, attrs.get("axes"), True, outs[0] if outs else x, attrs)


@op_formula("fft_c2r", args="x, axes, normalization, forward, last_dim_size",
            convention="2.5 N log2 N (real output, N from the output's axes); +1 per output if normalised")
def fft_c2r_op(ins, outs, attrs):
    out = outs[0] if outs else ins.get("x")
    return _fft_cost(out, attrs.get("axes"), True, out, attrs)


@op_formula("stft", args="x, window, n_fft, hop_length, normalized, onesided",
            convention="per frame: window multiply (n_fft) + FFT of n_fft points (onesided, i.e. real input: 2.5 n log2 n; "
                       "otherwise 5 n log2 n); +1 per output if normalized")
def stft_op(ins, outs, attrs):
    out = outs[0] if outs else None
    if not out:
        return pointwise(0, 0)
    n_fft = int(attrs.get("n_fft") or 0)
    frames = numel(out) // max(int(out[-2]), 1)  # out [..., freq, frames]
    real = bool(attrs.get("onesided", True))
    cost = frames * n_fft + fft_flops(n_fft, frames, real)
    return pointwise(cost + (numel(out) if attrs.get("normalized") else 0), 1)


@op_formula("overlap_add", args="x, hop_length, axis",
            convention="numel(x) - numel(out): each output adds the frames that overlap it")
def overlap_add_op(ins, outs, attrs):
    return pointwise(max(numel(ins.get("x")) - (numel(outs[0]) if outs else 0), 0), 1)
