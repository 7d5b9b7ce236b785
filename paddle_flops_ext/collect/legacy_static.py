"""Trace code written for Paddle's legacy static graph.

Older ecosystem code (PaddleDetection 2.6's ``ppdet/modeling/ops.py``:
``multiclass_nms``, ``matrix_nms``, ``prior_box``, ``box_coder`` ...)
branches on ``paddle.in_dynamic_mode()``: the dynamic branch calls a
``paddle._legacy_C_ops`` builtin, the static branch appends a legacy operator
with ``LayerHelper.append_op``. Neither works on the PIR values of a traced
program: ``append_op`` rejects them and the legacy builtins take eager tensors
only. So, while a trace attempt runs, for the profiling thread only:

* in every loaded non-Paddle module that binds both Paddle's dygraph predicate
  (``paddle.in_dynamic_mode``) and ``LayerHelper`` - the mark of such a
  static branch - the predicate answers ``in_dynamic_or_pir_mode()``, so the
  dynamic branch runs, exactly the code eager mode counts;
* in those modules, ``paddle._legacy_C_ops`` (the module, or a builtin taken
  from it) is replaced by an adapter that, given PIR values, builds the
  operator as Paddle's own legacy-to-PIR translator does: the legacy operator
  is appended to a scratch legacy program whose inputs stand for the values,
  the program is translated (operator and attribute renames, defaults,
  shape inference: Paddle's), and its operations are copied into the program
  being traced, wired to the real values. The copy is counted like any other
  operation of the trace.

Nothing is guessed: a legacy call whose arguments this adapter cannot map
(output tensors passed in, a non-value input) raises, and the trace fails with
a ``TraceError`` as before. Every change is logged in the attempt's
:class:`~paddle_flops_ext.collect.patch.Patches` and put back by identity.
"""
from __future__ import annotations

import sys
import types

import paddle
from paddle.base import framework
from paddle.base.framework import in_dygraph_mode
from paddle.base.layer_helper import LayerHelper
from paddle.pir.core import datatype_to_vartype

from .patch import Patches, observing


def take_dynamic_branches(patches: Patches) -> None:
    """Point the legacy static code of loaded modules at its dynamic branch
    and the legacy builtins it calls at the program adapter (see the module
    docstring); logged in ``patches``."""
    legacy_ops = paddle._legacy_C_ops
    groups = []
    for module in _legacy_static_modules(in_dygraph_mode, LayerHelper):
        swaps = {}
        for attr, value in list(vars(module).items()):
            if value is in_dygraph_mode:
                swaps[attr] = (value, _dynamic_or_program)
            elif value is legacy_ops:
                swaps[attr] = (value, _LEGACY_OPS_IN_PROGRAM)
            elif _is_legacy_builtin(value, legacy_ops):
                swaps[attr] = (value, _legacy_op_in_program(value.__name__, value))
        groups.append((module.__dict__, swaps))
    if groups:
        patches.swap_module_entries(groups)


def _legacy_static_modules(predicate, layer_helper) -> list:
    """Loaded modules outside Paddle whose globals hold both the dygraph
    predicate and ``LayerHelper``."""
    found = {}   # by id: a module can be listed under two names (__main__)
    for name, module in list(sys.modules.items()):
        if not isinstance(module, types.ModuleType) or name == "paddle" or name.startswith("paddle."):
            continue
        try:
            names = vars(module)
        except TypeError:
            continue
        if names.get("LayerHelper") is layer_helper and any(v is predicate for v in list(names.values())):
            found[id(module)] = module
    return list(found.values())


def _is_legacy_builtin(value, legacy_ops) -> bool:
    name = getattr(value, "__name__", None)
    return isinstance(value, types.BuiltinFunctionType) and getattr(legacy_ops, name or "", None) is value


def _dynamic_or_program() -> bool:
    """``paddle.in_dynamic_mode`` for the legacy static modules: also true
    while the profiling thread builds a PIR program."""
    if observing():
        return paddle.framework.in_dynamic_or_pir_mode()
    return paddle.base.framework.in_dygraph_mode()


class _LegacyOpsInProgram:
    """Stands for ``paddle._legacy_C_ops`` in the legacy static modules: each
    builtin comes back wrapped by :func:`_legacy_op_in_program`."""

    def __getattr__(self, name):
        original = getattr(paddle._legacy_C_ops, name)
        if not isinstance(original, types.BuiltinFunctionType):
            return original
        return _legacy_op_in_program(name, original)


_LEGACY_OPS_IN_PROGRAM = _LegacyOpsInProgram()


def _legacy_op_in_program(name: str, original):
    def call(*args):
        if observing() and _holds_value(args):
            return append_legacy_op(name, args)
        return original(*args)

    call.__name__ = name
    call.__wrapped__ = original
    return call


def _holds_value(args) -> bool:
    for a in args:
        if isinstance(a, paddle.pir.Value):
            return True
        if isinstance(a, (list, tuple)) and any(isinstance(v, paddle.pir.Value) for v in a):
            return True
    return False


def append_legacy_op(name: str, args: tuple):
    """Build ``paddle._legacy_C_ops.<name>(*args)`` into the PIR program being
    built, ``args`` as the legacy builtin takes them: the operator's inputs in
    its declared order, one count per duplicable output, then attribute
    name/value pairs. Returns what the builtin returns: the outputs in
    declared order (a list for a duplicable one), a single output bare."""
    proto = framework.OpProtoHolder.instance().get_op_proto(name)
    positional = []
    while len(positional) < len(args) and not isinstance(args[len(positional)], str):
        positional.append(args[len(positional)])
    pairs = args[len(positional):]
    attrs = dict(zip(pairs[0::2], pairs[1::2]))
    given_inputs, output_counts = positional[:len(proto.inputs)], positional[len(proto.inputs):]
    duplicable_outputs = [slot for slot in proto.outputs if slot.duplicable]
    if len(output_counts) != len(duplicable_outputs) or not all(isinstance(n, int) for n in output_counts):
        raise TypeError(f"legacy operator {name} called with arguments that cannot be traced into a PIR "
                        f"program ({len(positional)} positional arguments for {len(proto.inputs)} inputs "
                        f"and {len(duplicable_outputs)} duplicable outputs)")

    scratch = framework.Program()
    block = scratch.global_block()
    stand_ins = {}   # scratch variable name -> the program value it stands for
    inputs = {}
    for slot, given in zip(proto.inputs, given_inputs):
        items = list(given) if isinstance(given, (list, tuple)) else [] if given is None else [given]
        for i, value in enumerate(items):
            if not isinstance(value, paddle.pir.Value):
                raise TypeError(f"legacy operator {name}: input {slot.name} is a {type(value).__name__}, "
                                f"not a value of the traced program")
            var = block.create_var(name=f"{slot.name}_{i}", shape=list(value.shape),
                                   dtype=datatype_to_vartype[value.dtype], persistable=True)
            stand_ins[var.name] = value
            inputs.setdefault(slot.name, []).append(var)
    counts = dict(zip((slot.name for slot in duplicable_outputs), output_counts))
    outputs = {slot.name: [block.create_var(name=f"{slot.name}_out_{i}") for i in range(counts.get(slot.name, 1))]
               for slot in proto.outputs}
    block.append_op(type=name, inputs=inputs, outputs=outputs, attrs=attrs)

    translated, translated_values = paddle.pir.translate_to_pir_with_param_map(scratch.desc)
    mapping = paddle.pir.IrMapping()
    for var_name, value in stand_ins.items():
        mapping.add(translated_values[var_name][0], value)
    target = paddle.pir.get_current_insertion_point().block()
    known = {op.id() for op in target.ops}
    # ops whose results are all mapped (the stand-ins' builtin.parameter) are not copied
    translated.copy_to_block(mapping, target)
    copied = [op.name() for op in target.ops if op.id() not in known]
    if not copied or "builtin.parameter" in copied:
        raise TypeError(f"legacy operator {name} did not translate into operations on the traced values "
                        f"(got {copied})")

    def result(var):
        return mapping.look_up(translated_values[var.name][-1])

    results = [[result(v) for v in outputs[slot.name]] if slot.duplicable else result(outputs[slot.name][0])
               for slot in proto.outputs]
    return results[0] if len(results) == 1 else tuple(results)
