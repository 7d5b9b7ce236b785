"""Counting a program given directly: a PIR ``Program``, a legacy
``paddle.static.Program`` (translated to PIR with
``paddle.pir.translate_to_pir``) or a ``ConcreteProgram``.

Programs given directly
-----------------------
Every operation is attributed to a single root node (type ``Program``):
programs do not carry the layer tree, so only the operation table applies
(a conv/linear bias is its own ``add`` op: same ``flops`` as the layer
formulas; ``paddle_flops`` is the contractions' MACs only, without the
per-layer figures paddle.flops uses for BatchNorm, pooling or conv bias; a
composite such as SDPA is counted through the ops Paddle expanded it to).
Parameters are the ``builtin.parameter`` placeholders, unique by name,
trainable unless marked ``trainable=False``/``stop_gradient`` (a program
built by tracing also holds the model's buffers there, and they count).
-1 dimensions (a ``None`` batch of ``paddle.static.data``) take the size
``input_size`` gives at the position of the first -1 (input_size lists the
program's ``pd_op.data`` placeholders in order), else 1; a note says so.
"""
from __future__ import annotations

from ..formulas import registry
from .core import Attribution
from .inputs import check_size
from .pir import ValueShapes, as_pir, control_flow_kinds, count_program_op, is_plumbing, is_program, program_notes, walk
from .records import Collection, LayerRecord
from .request import ProfileRequest

__all__ = ["collect_program", "is_program"]


def _unknown_dim(program, input_size) -> int:
    """The size to use for -1 dims of a bare program: matched from
    ``input_size`` against the program's data placeholders, else 1."""
    if input_size is None:
        return 1
    sizes = input_size
    if not (isinstance(sizes, (list, tuple)) and sizes and all(isinstance(s, (list, tuple)) for s in sizes)):
        sizes = [sizes]
    sizes = [check_size(s, "input_size") for s in sizes]
    found = []
    data_ops = [op for op in program.global_block().ops if op.name() == "pd_op.data"]
    for op, given in zip(data_ops, sizes):
        dims = list(op.results()[0].shape)
        for d, g in zip(dims, given):
            if int(d) < 0:
                found.append(int(g))
    return found[0] if found else int(sizes[0][0])


def collect_program(program, request: ProfileRequest) -> Collection:
    """Count a program's operations, all attributed to one root record; its
    parameters are the ``builtin.parameter`` placeholders. Only the
    request's ``input_size`` (sizes for -1 dimensions) and options apply."""
    input_size = request.input_size
    pir_program, translated = as_pir(program)
    shapes = ValueShapes(_unknown_dim(pir_program, input_size))
    attribution = Attribution(None, shapes, options=request.options)
    rec = LayerRecord("", None, calls=1, counted_by="ops")
    seen_params = set()
    marked = 0   # parameters whose program says whether they train
    inputs = []
    all_ops = list(walk(pir_program.global_block()))
    for op in all_ops:
        name = op.name()
        if name == "builtin.parameter":
            attrs = op.attrs()
            pname = attrs.get("parameter_name")
            if pname in seen_params:
                continue
            seen_params.add(pname)
            n = registry.numel(shapes.of(op.results()[0]) or ())
            rec.params += n
            train = attrs.get("trainable")
            marked += train is not None
            stop = attrs.get("stop_gradient")
            train = train[0] if isinstance(train, list) and train else train
            stop = stop[0] if isinstance(stop, list) and stop else stop
            if (train if train is not None else not stop):
                rec.trainable_params += n
            continue
        if name == "pd_op.data":
            inputs.append(shapes.of(op.results()[0]))
            continue
        if is_plumbing(name):
            continue
        count_program_op(attribution, rec, op, shapes)
    rec.input_shapes = list(inputs)
    collection = Collection(None, [rec], list(inputs), "program")
    if seen_params and not marked:
        collection.notes.append(f"the program does not record which parameters train (an inference program "
                                f"keeps none of that): trainable_params counts every parameter not marked "
                                f"stop_gradient ({rec.trainable_params:,} of {rec.params:,})")
    if translated:
        collection.notes.append("legacy paddle.static.Program translated to PIR with paddle.pir.translate_to_pir")
    collection.notes.extend(program_notes(control_flow_kinds(all_ops), shapes, None))
    if shapes.replaced:  # a bare program's -1 dims: sized from input_size when given
        collection.notes.append(f"unknown (-1) dimensions in the program were counted as {shapes.unknown_dim}"
                                + ("" if input_size is not None else " (give input_size to size them)"))
    return collection
