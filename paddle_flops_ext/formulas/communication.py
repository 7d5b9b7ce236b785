"""Communication between devices: bytes each rank sends, not arithmetic.

Every collective costs 0 MACs and 0 FLOPs (the additions inside an
all-reduce are not counted, as before) and reports ``Cost.comm_bytes``: the
bytes one rank sends under the ring algorithm, with ``n`` ranks in the
group and ``S`` the bytes of the full tensor:

- all-reduce (``c_allreduce_sum``, ``mp_allreduce_sum``, ``all_reduce``):
  ``2 (n - 1) / n x S`` (a reduce-scatter, then an all-gather);
- all-gather (``all_gather``, ``c_concat``, ``partial_allgather``):
  ``(n - 1) / n x S`` of the gathered output;
- reduce-scatter (``reduce_scatter``): ``(n - 1) / n x S`` of the input;
- all-to-all: ``(n - 1) / n x S`` (every rank keeps its own share);
- broadcast and reduce: ``S`` (a pipelined ring passes the whole tensor
  once through each rank);
- ``send_v2``: ``S`` on the sending rank; ``recv_v2`` sends nothing.

``c_identity`` and ``c_split`` move nothing in the forward (the identity
and a local slice; their backward is the all-reduce or all-gather).
``c_embedding`` is a table lookup on the local shard of the vocabulary:
0 MACs, 0 bytes (``formulas/structural.py`` lists it).

The group size ``n`` is the operation's ``nranks`` attribute where it has
one, else the size of the process group whose id is its ``ring_id``, else
the world size. The bytes per element are the output tensor's, given by
the engine. The backward of each is its dual: ``c_identity``'s an
all-reduce, ``c_split``'s and ``reduce_scatter``'s an all-gather,
``all_gather``'s a reduce-scatter, an all-reduce's the identity.
"""
from __future__ import annotations

import math

from .gradients import grad_formula
from .registry import Cost, ZERO, op_formula, zero_cost_ops


def group_size(attrs: dict) -> int:
    """``n`` of the collective: ``nranks``, else the group of ``ring_id``,
    else the world size (1 outside a distributed run)."""
    nranks = attrs.get("nranks")
    if isinstance(nranks, int) and nranks > 0:
        return nranks
    import paddle.distributed as dist   # the group table of this process, read only when priced
    ring = attrs.get("ring_id")
    if isinstance(ring, int):
        try:
            from paddle.distributed.collective import _get_group_map
            group = _get_group_map().get(ring)
        except ImportError:
            group = None
        if group is not None and getattr(group, "nranks", 0) > 0:
            return int(group.nranks)
    return max(int(dist.get_world_size()), 1)


def _bytes(shape, attrs: dict) -> int:
    size = attrs.get("element_size")
    if not size:
        raise ValueError("a communication formula needs the element size of its tensor (attrs['element_size'])")
    return int(math.prod(shape or ())) * int(size)


def _out(outs: list):
    return outs[0] if outs else None


@op_formula("c_allreduce_sum", "mp_allreduce_sum", "all_reduce",
            args="x, ring_id", element_size=True,
            convention="all-reduce: ring, 2(n-1)/n x tensor bytes sent per rank; 0 FLOPs (sums not counted)")
def all_reduce(ins, outs, attrs):
    n = group_size(attrs)
    return Cost(comm_bytes=2 * (n - 1) * _bytes(ins["x"], attrs) // n)


@op_formula("all_gather", "c_concat", "partial_allgather", args="x, ring_id, nranks", element_size=True,
            convention="all-gather: ring, (n-1)/n x gathered output bytes sent per rank")
def all_gather(ins, outs, attrs):
    n = group_size(attrs)
    return Cost(comm_bytes=(n - 1) * _bytes(_out(outs), attrs) // n)


@op_formula("reduce_scatter", args="x, ring_id, nranks", element_size=True,
            convention="reduce-scatter: ring, (n-1)/n x input bytes sent per rank; 0 FLOPs (sums not counted)")
def reduce_scatter(ins, outs, attrs):
    n = group_size(attrs)
    return Cost(comm_bytes=(n - 1) * _bytes(ins["x"], attrs) // n)


@op_formula("all_to_all", args="x, ring_id", element_size=True,
            convention="all-to-all: (n-1)/n x tensor bytes sent per rank (its own share stays)")
def all_to_all(ins, outs, attrs):
    n = group_size(attrs)
    return Cost(comm_bytes=(n - 1) * _bytes(ins["x"], attrs) // n)


@op_formula("broadcast", "reduce", "send_v2", args="x, ring_id", element_size=True,
            convention="broadcast, reduce, send: the tensor's bytes once per rank (pipelined ring / the sender)")
def whole_tensor(ins, outs, attrs):
    return Cost(comm_bytes=_bytes(ins["x"], attrs))


@op_formula("c_identity", "c_split", "recv_v2", args="x, ring_id", element_size=True,
            convention="tensor-parallel identity and split, receive: 0 bytes sent in the forward (the backward of "
                       "c_identity is an all-reduce, of c_split an all-gather)")
def nothing_sent(ins, outs, attrs):
    return ZERO


zero_cost_ops([
    "c_scatter", "barrier", "sync_calc_stream", "sync_comm_stream", "partial_concat",
    "reshard", "reshard_v2", "dtensor_from_local", "dtensor_to_local", "shard_tensor", "dist_reshape",
    "global_gather", "global_scatter", "moe_global_mesh_tensor", "moe_sub_mesh_tensors", "partial_sum",
], "communication and distributed bookkeeping not priced in bytes (synchronisation, resharding, MoE "
   "dispatch: their bytes depend on routing or placement not in the shapes)")


# --------------------------------------------------------------------------- backward
# The gradient of each collective is its dual collective: bytes, no FLOPs, nothing kept.

def _keeps_nothing(ins, outs, attrs, grads, forward):
    return (), 0


@grad_formula("c_identity", saves=_keeps_nothing,
              convention="all-reduce of dX: 2(n-1)/n x input bytes sent per rank; 0 FLOPs")
def identity_grad(ins, outs, attrs, grads, forward):
    n = group_size(attrs)
    return Cost(comm_bytes=2 * (n - 1) * _bytes(ins["x"], attrs) // n)


@grad_formula("c_allreduce_sum", "mp_allreduce_sum", "all_reduce", "c_concat", "send_v2", saves=_keeps_nothing,
              convention="the identity, a local split or a receive: 0 bytes sent")
def local_grad(ins, outs, attrs, grads, forward):
    return ZERO


@grad_formula("c_split", "reduce_scatter", saves=_keeps_nothing,
              convention="all-gather of dX: (n-1)/n x input bytes sent per rank")
def gather_grad(ins, outs, attrs, grads, forward):
    n = group_size(attrs)
    return Cost(comm_bytes=(n - 1) * _bytes(ins["x"], attrs) // n)


@grad_formula("all_gather", "partial_allgather", "all_to_all", saves=_keeps_nothing,
              convention="reduce-scatter (all-to-all) of dO: (n-1)/n x output bytes sent per rank")
def scatter_grad(ins, outs, attrs, grads, forward):
    n = group_size(attrs)
    return Cost(comm_bytes=(n - 1) * _bytes(_out(outs), attrs) // n)


@grad_formula("recv_v2", "broadcast", "reduce", saves=_keeps_nothing,
              convention="send the gradient back (reduce, broadcast): the output's bytes")
def whole_grad(ins, outs, attrs, grads, forward):
    return Cost(comm_bytes=_bytes(_out(outs), attrs))
