"""Operations that do no floating-point arithmetic by convention.

They are listed so the coverage report can tell "free" from "unknown": an
operation in none of the tables shows up in ``ProfileResult.uncounted`` (and
makes ``profile(..., strict=True)`` raise). Activations, pooling,
normalisation, padding, embedding, dropout, fold/unfold and pixel shuffles are
not listed here: their modules own them; communication between devices is
priced in bytes by :mod:`.communication`.

Names are ``paddle._C_ops`` names; in-place variants (``reshape_``) and PIR
names (``pd_op.reshape``, ``builtin.combine``) resolve to the same entries.
"""
from __future__ import annotations

import paddle

from .registry import composite_function, zero_cost_ops

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
    "lu_unpack", "coalesce_tensor", "npu_identity", "onednn_to_paddle_layout", "get_tensor_from_selected_rows",
    "lod_reset_grad", "im2sequence", "sequence_expand", "fusion_transpose_flatten_concat", "gather_tree",
    "beam_search_decode", "ctc_align", "moe_permute", "moe_gate_dispatch_partial_nosoftmaxtopk",
    "strings_empty", "strings_empty_like", "strings_lower", "strings_upper",
    "sparse_cast", "sparse_coalesce", "sparse_full_like", "sparse_indices", "sparse_values", "sparse_mask_as",
    "sparse_reshape", "sparse_slice", "sparse_transpose", "sparse_to_dense", "sparse_to_sparse_coo",
    "sparse_to_sparse_csr", "sparse_sparse_coo_tensor",
], "data movement: unpacking, layout / format conversion, sequence and beam bookkeeping, string ops")

zero_cost_ops([
    "accuracy", "accuracy_check", "chunk_eval", "box_clip", "bipartite_match", "roi_pool", "collect_fpn_proposals",
    "blha_get_max_len", "sparse_relu", "sparse_relu6", "sparse_maxpool", "sparse_isnan",
    "assign_pos", "build_src_rank_and_local_expert_id", "expand_modality_expert_id", "limit_by_capacity",
    "number_count", "prune_gate_by_capacity", "random_routing", "restrict_nonzero", "int_bincount",
], "comparisons, max / top-k selection, clamps, counting and expert-routing index bookkeeping")

zero_cost_ops([
    "exponential", "class_center_sample", "shuffle_batch", "graph_khop_sampler", "graph_sample_neighbors",
    "weighted_sample_neighbors", "reindex_graph", "tdm_child", "tdm_sampler",
], "random numbers and sampling (as the other random-number ops)")

zero_cost_ops([
    "hash", "pyramid_hash", "dequantize_log", "read_file", "decode_jpeg", "merge_selected_rows",
], "integer work outside the floating-point convention: hashing and table lookups (pyramid_hash's sum of "
   "looked-up rows and merge_selected_rows' adds of duplicate rows are not counted), file reading, JPEG decoding")

zero_cost_ops([
    "update_loss_scaling", "distributed_fused_lamb_init", "update_parameter", "enable_check_model_nan_inf",
    "disable_check_model_nan_inf",
], "training bookkeeping: per-tensor scalar updates, buffer set-up, debug switches")

zero_cost_ops([
    "run_program", "tensorrt_engine", "ap_facade", "ap_variadic", "ap_trivial_fusion_begin", "ap_trivial_fusion_end",
], "containers of another program or a compiled kernel (jit.load / to_static programs, TensorRT engines, CINN "
   "generated kernels): their inside is not visible to an op formula; profile counts jit-loaded layers through the "
   "program walker")

# paddle.where in a static graph broadcasts its operands by adding zeros
# (five element-wise adds that eager mode never runs): one free `where` in
# both modes, its insides not counted
composite_function("where", lambda: paddle.where)
