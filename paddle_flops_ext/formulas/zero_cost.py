"""Operations that do no floating-point arithmetic by convention.

They are listed so the coverage report can tell "free" from "unknown": an
operation in none of the tables shows up in ``ProfileResult.uncounted`` (and
makes ``profile(..., strict=True)`` raise). Activations, pooling,
normalisation, padding, embedding, dropout, fold/unfold and pixel shuffles are
not listed here: their modules own them.

Names are ``paddle._C_ops`` names; in-place variants (``reshape_``) and PIR
names (``pd_op.reshape``, ``builtin.combine``) resolve to the same entries.
"""
from __future__ import annotations

from .registry import zero_cost_ops

zero_cost_ops([
    "reshape", "transpose", "concat", "split", "split_with_num", "slice", "strided_slice",
    "squeeze", "unsqueeze", "flatten", "expand", "expand_as", "broadcast_tensors", "tile",
    "roll", "flip", "reverse", "stack", "unstack", "unbind",
    "view_shape", "view_dtype", "view_slice", "as_strided", "tensor_unfold", "share_data",
    "assign", "assign_out", "copy_to", "memcpy", "memcpy_d2h", "memcpy_h2d", "trans_layout",
    "crop", "shuffle_channel",
    "temporal_shift", "repeat_interleave", "repeat_interleave_with_tensor_index",
    "diag", "diag_embed", "diagonal", "tril", "triu", "as_real", "as_complex", "real", "imag", "conj",
    "frame", "set_value", "set_value_with_tensor", "fill", "fill_diagonal", "fill_diagonal_tensor",
    "index_elementwise_put", "index_elementwise_put_with_tensor",
], "data movement: layout, copies, slicing, padding, triangular masks")

zero_cost_ops([
    "gather", "gather_nd", "index_select", "index_select_strided", "index_sample", "take_along_axis",
    "lookup_table_v2", "index_elementwise_get",
    "masked_select", "nonzero", "one_hot",
], "indexing: gathers, embedding lookups")

zero_cost_ops([
    "full", "full_like", "full_int_array", "full_with_tensor", "full_batch_size_like",
    "zeros", "zeros_like", "ones", "ones_like", "empty", "empty_like", "arange", "range_v2",
    "linspace", "logspace", "eye", "assign_value", "meshgrid", "tril_indices", "triu_indices",
    "uniform", "uniform_inplace", "gaussian", "gaussian_inplace", "randint", "randperm",
    "truncated_gaussian_random", "bernoulli", "multinomial", "poisson", "binomial", "standard_gamma",
    "dirichlet", "random", "uniform_random_batch_size_like", "complex",
    "shape", "shape64", "numel", "is_empty", "cast",
], "creation, random numbers, metadata, casts")

zero_cost_ops([
    "equal", "not_equal", "less_than", "less_equal", "greater_than", "greater_equal", "equal_all",
    "allclose", "isclose", "isnan", "isinf", "isfinite",
    "logical_and", "logical_or", "logical_xor", "logical_not",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift",
    "any", "all", "where", "masked_fill", "clip", "maximum", "minimum", "fmax", "fmin", "sign",
    "heaviside", "copysign", "sequence_mask", "multiplex", "shard_index",
    "max", "min", "amax", "amin", "max_with_index", "min_with_index", "argmax", "argmin", "argsort",
    "topk", "kthvalue", "mode", "median", "nanmedian", "cummax", "cummin",
    "unique", "unique_consecutive", "searchsorted", "bincount", "histogram",
], "comparisons, selections, clamps, sorting")

zero_cost_ops([
    "data", "feed", "fetch", "combine", "parameter", "constant", "shadow_output", "set_parameter",
    "depend", "nop", "share_var", "yield", "builtin_combine", "builtin_split", "print", "check_numerics",
    "array_length", "array_pop", "array_read", "array_write", "array_to_tensor", "create_array",
    "create_array_like", "slice_array", "slice_array_dense", "set", "set_persistable_value",
], "program plumbing (PIR builtin / control / tensor-array / debug ops)")

zero_cost_ops([
    "c_identity", "c_concat", "c_split", "c_scatter", "all_gather", "all_to_all", "broadcast", "recv_v2",
    "send_v2", "barrier", "sync_calc_stream", "sync_comm_stream", "partial_allgather", "partial_concat",
    "reshard", "reshard_v2", "dtensor_from_local", "dtensor_to_local", "shard_tensor", "dist_reshape",
    "global_gather", "global_scatter", "moe_global_mesh_tensor", "moe_sub_mesh_tensors",
    "all_reduce", "c_allreduce_sum", "mp_allreduce_sum", "reduce", "reduce_scatter", "partial_sum",
], "communication between devices (the sums of all-reduce collectives are not counted)")
