"""One rank of a tensor-parallel model built from fleet layers, traced
with ``profile(mode="trace")``; run by ``tests/test_communication.py``
under ``python -m paddle.distributed.launch --nproc_per_node 2`` on CPU.
Prints one JSON line: the rank's MACs and bytes sent in the forward and
the backward, and each layer's own MACs, bytes and operations."""
import json
import sys

import paddle
import paddle.distributed as dist
from paddle import nn
from paddle.distributed import fleet
from paddle.distributed.fleet.meta_parallel import ColumnParallelLinear, RowParallelLinear, VocabParallelEmbedding

import paddle_flops_ext as pfe

VOCAB, HIDDEN, FFN, BATCH, SEQ, BLOCKS = 64, 32, 64, 2, 8, 2


class Block(nn.Layer):
    """Two Megatron pairs (as attention's projections and the MLP): each a
    column-parallel Linear (output kept split) then a row-parallel Linear
    (input split, its output summed across the group). ``parallel=False``:
    the same shapes with plain Linears."""

    def __init__(self, parallel=True):
        super().__init__()
        column = (lambda i, o: ColumnParallelLinear(i, o, has_bias=True, gather_output=False)) if parallel \
            else nn.Linear
        row = (lambda i, o: RowParallelLinear(i, o, has_bias=True, input_is_parallel=True)) if parallel \
            else nn.Linear
        self.up1, self.down1 = column(HIDDEN, FFN), row(FFN, HIDDEN)
        self.up2, self.down2 = column(HIDDEN, FFN), row(FFN, HIDDEN)

    def forward(self, x):
        x = self.down1(nn.functional.relu(self.up1(x)))
        return self.down2(nn.functional.relu(self.up2(x)))


class TensorParallelModel(nn.Layer):
    """Vocabulary-parallel embedding, blocks, a column-parallel head whose
    logits stay split (as before a parallel cross-entropy)."""

    def __init__(self, parallel=True):
        super().__init__()
        self.embed = VocabParallelEmbedding(VOCAB, HIDDEN) if parallel else nn.Embedding(VOCAB, HIDDEN)
        self.blocks = nn.LayerList([Block(parallel) for _ in range(BLOCKS)])
        self.head = ColumnParallelLinear(HIDDEN, VOCAB, has_bias=False, gather_output=False) if parallel \
            else nn.Linear(HIDDEN, VOCAB, bias_attr=False)

    def forward(self, tokens):
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def main():
    strategy = fleet.DistributedStrategy()
    strategy.hybrid_configs = {"dp_degree": 1, "mp_degree": dist.get_world_size(), "pp_degree": 1}
    fleet.init(is_collective=True, strategy=strategy)
    with paddle.LazyGuard():
        model = TensorParallelModel()
    r = pfe.profile(model, input_spec=[paddle.static.InputSpec([BATCH, SEQ], "int64")], mode="trace",
                    training=True, strict=True)
    layers = {node.name: {"macs": node.cost.macs, "comm_bytes": node.cost.comm_bytes,
                          "ops": {name: stat["calls"] for name, stat in node.ops.items()},
                          "backward_ops": sorted(node.backward_ops), "backward_comm_bytes": node.backward.comm_bytes,
                          "uncounted": sorted(node.uncounted_backward)}
              for node in r.layers() if node.cost.macs or node.cost.comm_bytes or node.ops}
    print("RESULT " + json.dumps({"rank": dist.get_rank(), "world": dist.get_world_size(), "macs": r.macs,
                                  "comm_bytes": r.comm_bytes,
                                  "backward_comm_bytes": r.backward.comm_bytes, "layers": layers,
                                  "params": r.params,
                                  "json_comm_bytes": json.loads(r.to_json())["total"].get("comm_bytes"),
                                  "table": r.table()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
