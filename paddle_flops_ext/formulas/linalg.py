"""Linear algebra: factorisations, solves, determinants, eigen- and singular
value decompositions.

Convention: the textbook floating-point operation counts (Golub & Van Loan,
*Matrix Computations*, leading terms), per matrix of a batch, put in
``flops``. Factorisations are not contractions in this project's sense, so
they add no MACs (and nothing to ``paddle_flops``). For an ``m x n`` matrix
``p = min(m, n)``, ``q = max(m, n)``; ``k`` right-hand-side columns:

=====================  ==========================================
Cholesky               n^3 / 3
LU (partial pivoting)  q p^2 - p^3 / 3   (square: 2 n^3 / 3)
det, slogdet           LU + n (product / log-sum of the diagonal)
inverse                2 n^3 (LU + n solves)
solve                  LU + 2 n^2 k
triangular solve       n^2 k
Cholesky / LU solve    2 n^2 k
QR (Householder)       2 q p^2 - 2 p^3 / 3, twice when Q is formed
SVD                    values 4 q p^2 - 4 p^3 / 3; with thin U, V
                       14 q p^2 + 8 p^3; with full U, V 4 q^2 p + 8 q p^2 + 9 p^3
symmetric eig          values 4 n^3 / 3; with vectors 9 n^3
general eig            values 10 n^3; with vectors 25 n^3
least squares (QR)     QR + k (4 m n - n^2)
=====================  ==========================================
"""
from __future__ import annotations

from .registry import numel, op_formula, pointwise


def _matrix(shape):
    """(batch, m, n) of a [..., m, n] tensor."""
    m, n = int(shape[-2]), int(shape[-1])
    return numel(shape) // max(m * n, 1), m, n


def _rhs_columns(b_shape, n: int) -> int:
    """Columns of a right-hand side [..., n, k] (a vector [n] is one column)."""
    if b_shape is None:
        return 0
    return 1 if len(b_shape) == 1 else int(b_shape[-1])


def lu_flops(m: int, n: int) -> float:
    p, q = min(m, n), max(m, n)
    return q * p * p - p ** 3 / 3


def qr_flops(m: int, n: int) -> float:
    p, q = min(m, n), max(m, n)
    return 2 * q * p * p - 2 * p ** 3 / 3


def svd_flops(m: int, n: int, vectors: str = "none") -> float:
    p, q = min(m, n), max(m, n)
    if vectors == "thin":
        return 14 * q * p * p + 8 * p ** 3
    if vectors == "full":
        return 4 * q * q * p + 8 * q * p * p + 9 * p ** 3
    return 4 * q * p * p - 4 * p ** 3 / 3


def _per_matrix(x, fn):
    if x is None:
        return pointwise(0, 0)
    b, m, n = _matrix(x)
    return pointwise(b, fn(m, n))


@op_formula("cholesky", args="x, upper", convention="n^3/3 per matrix")
def cholesky_op(ins, outs, attrs):
    return _per_matrix(ins.get("x"), lambda m, n: n ** 3 / 3)


@op_formula("lu", args="x, pivot", convention="q p^2 - p^3/3 per m x n matrix (square: 2n^3/3)")
def lu_op(ins, outs, attrs):
    return _per_matrix(ins.get("x"), lu_flops)


@op_formula("det", "slogdet", "slogdet_v2", args="x", convention="LU (2n^3/3) + n for the diagonal product / log-sum")
def det_op(ins, outs, attrs):
    return _per_matrix(ins.get("x"), lambda m, n: lu_flops(m, n) + n)


@op_formula("inverse", args="x", convention="2n^3 per matrix (LU + n triangular solve pairs)")
def inverse_op(ins, outs, attrs):
    return _per_matrix(ins.get("x"), lambda m, n: 2 * n ** 3)


@op_formula("solve", args="x, y", convention="LU of x (2n^3/3) + 2n^2 per right-hand-side column")
def solve_op(ins, outs, attrs):
    k = _rhs_columns(ins.get("y"), 0)
    return _per_matrix(ins.get("x"), lambda m, n: lu_flops(m, n) + 2 * n * n * k)


@op_formula("triangular_solve", args="x, y, upper, transpose, unitriangular",
            convention="n^2 per right-hand-side column")
def triangular_solve_op(ins, outs, attrs):
    k = _rhs_columns(ins.get("y"), 0)
    return _per_matrix(ins.get("x"), lambda m, n: n * n * k)


@op_formula("cholesky_solve", args="x, y, upper",
            convention="2n^2 per right-hand-side column of x (two triangular solves with the factor y)")
def cholesky_solve_op(ins, outs, attrs):
    k = _rhs_columns(ins.get("x"), 0)
    return _per_matrix(ins.get("y"), lambda m, n: 2 * n * n * k)


@op_formula("lu_solve", args="b, lu, pivots, trans", convention="2n^2 per right-hand-side column of b")
def lu_solve_op(ins, outs, attrs):
    k = _rhs_columns(ins.get("b"), 0)
    return _per_matrix(ins.get("lu"), lambda m, n: 2 * n * n * k)


@op_formula("qr", args="x, mode", convention="Householder 2qp^2 - 2p^3/3 for R; twice that when Q is formed "
                                              "(mode 'reduced' / 'complete')")
def qr_op(ins, outs, attrs):
    times = 1 if attrs.get("mode") == "r" else 2
    return _per_matrix(ins.get("x"), lambda m, n: times * qr_flops(m, n))


@op_formula("svd", args="x, full_matrices",
            convention="Golub-Kahan-Reinsch: thin U, V 14qp^2 + 8p^3; full_matrices 4q^2p + 8qp^2 + 9p^3")
def svd_op(ins, outs, attrs):
    vectors = "full" if attrs.get("full_matrices") else "thin"
    return _per_matrix(ins.get("x"), lambda m, n: svd_flops(m, n, vectors))


@op_formula("svdvals", "matrix_rank", "matrix_rank_tol", "matrix_rank_atol_rtol",
            args="x", convention="singular values only: 4qp^2 - 4p^3/3 (rank: thresholding free)")
def svdvals_op(ins, outs, attrs):
    return _per_matrix(ins.get("x"), svd_flops)


@op_formula("eigh", args="x, UPLO", convention="symmetric QR: 9n^3 (values and vectors)")
def eigh_op(ins, outs, attrs):
    return _per_matrix(ins.get("x"), lambda m, n: 9 * n ** 3)


@op_formula("eigvalsh", args="x, uplo, is_test", convention="symmetric QR, values only: 4n^3/3")
def eigvalsh_op(ins, outs, attrs):
    return _per_matrix(ins.get("x"), lambda m, n: 4 * n ** 3 / 3)


@op_formula("eig", args="x", convention="Hessenberg QR: 25n^3 (values and vectors)")
def eig_op(ins, outs, attrs):
    return _per_matrix(ins.get("x"), lambda m, n: 25 * n ** 3)


@op_formula("eigvals", args="x", convention="Hessenberg QR, values only: 10n^3")
def eigvals_op(ins, outs, attrs):
    return _per_matrix(ins.get("x"), lambda m, n: 10 * n ** 3)


@op_formula("lstsq", args="x, y, rcond, driver",
            convention="QR of the m x n x (2qp^2 - 2p^3/3) + per right-hand-side column 4mn - n^2 (apply Q^T, "
                       "back-substitute), whatever the driver")
def lstsq_op(ins, outs, attrs):
    k = _rhs_columns(ins.get("y"), 0)
    return _per_matrix(ins.get("x"), lambda m, n: qr_flops(m, n) + k * (4 * m * n - n * n))


@op_formula("trace", args="x, offset, axis1, axis2", convention="L - 1 adds per matrix for L diagonal elements")
def trace_op(ins, outs, attrs):
    x = ins.get("x")
    if not x:
        return pointwise(0, 0)
    a1, a2 = int(attrs.get("axis1", 0) or 0) % len(x), int(attrs.get("axis2", 1)) % len(x)
    off = int(attrs.get("offset", 0) or 0)
    d1, d2 = int(x[a1]), int(x[a2])
    length = max(0, min(d1, d2 - off) if off >= 0 else min(d1 + off, d2))
    return pointwise(numel(x) // max(d1 * d2, 1), max(length - 1, 0))
