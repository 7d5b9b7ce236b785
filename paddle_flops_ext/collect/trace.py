"""Shape-only counting of a ``paddle.nn.Layer``: trace it into a PIR program
and count the program's operations without running any kernel.

Entry points (``api.profile`` calls them for ``mode="trace"``); both return a
:class:`~paddle_flops_ext.collect.records.Collection`:

* :func:`collect_trace` - a ``paddle.nn.Layer``, traced;
* :func:`trace_and_collect` - the same, also returning the :class:`Traced`
  forward (program, attribution, operations) the training engine builds on.

Programs given directly are counted by :mod:`.programs`; reading a program
(shapes of values, operation arguments, owners) is :mod:`.pir`.

Tracing a Layer
---------------
1. *Direct tracing* (first try): the model's ``forward`` runs once as plain
   Python in Paddle's static-graph mode, inside a fresh PIR program, on
   ``paddle.static.data`` placeholders with the concrete input shapes. Each
   Paddle call appends an operation to the program; no kernel runs and no
   weight is read, so models built under ``paddle.LazyGuard()`` stay
   unmaterialised (parameters become ``builtin.parameter`` placeholders).
   Two exceptions, so the program holds what an eager run does: a Python
   ``if`` on a materialised one-element parameter reads it
   (``parameter_values``), and legacy static-graph code (``LayerHelper``)
   takes its dynamic branch, its legacy operators translated into the
   program (``legacy_static``).
2. If that raises (typically Python control flow on a tensor value,
   ``if x.sum() > 0:``), *AST tracing*: ``paddle.jit.to_static(...,
   full_graph=True)`` rewrites Python control flow into ``pd_op.if`` /
   ``pd_op.while`` operations.
3. If that fails too, :class:`TraceError` says why and suggests
   ``mode="eager"``.

Direct tracing skips the AST rewrite of every sub-layer's ``forward``, which
dominates ``to_static`` time on large models; while tracing, Paddle's
per-layer ``name_struct`` bookkeeping (which lists the whole program on
every layer call, quadratic in model size) is swapped for a no-op and the
per-operation Python call-stack capture is turned off; both are put back
afterwards, for the profiling thread only. The model itself is left as it
was (the core's guards restore anything tracing assigned to a layer, e.g. a
weight built on first call, or the ``forward`` that ``to_static`` converts).

Layer attribution and counting rules (the core's, same as eager)
----------------------------------------------------------------
The core's ``Layer.__call__`` bracket marks each layer call's extent in the
program: at entry and exit we create a throw-away ``full_int_array`` marker
operation whose id (PIR operation ids grow with creation order) bounds the
operations the call created, including those inside control-flow blocks. An
operation belongs to the innermost layer call that created it, so the result
tree has exactly the eager layer paths. Then, as in eager mode:

* a layer with a formula (built-in, ``pfe.register`` or ``custom_ops``) is
  counted by that formula, evaluated on the traced input/output *shapes*
  (user handlers receive shape-only stand-ins with ``shape``, ``dtype``,
  ``numel()`` ...); the operations it creates directly are not counted;
* any other layer is counted through the operations it creates directly,
  each looked up in the same operation table (``pd_op.matmul`` ->
  ``matmul``; a trailing ``_`` of in-place variants is dropped);
* a composite function registered with ``registry.composite_function`` (e.g.
  ``F.scaled_dot_product_attention``) is counted as one operation and the
  operations it expands to in the program are not counted again.

Differences from eager mode (documented in docs/trace-mode.md):

* Program plumbing is not reported at all: ``builtin.*`` and ``cf.*``
  operations, ``pd_op.data``, constants (``pd_op.full``,
  ``pd_op.full_int_array``, ``pd_op.assign_value``), feed/fetch, and
  control-flow containers (their blocks are walked). Constant operands of an
  operation (an axis, a shape, a scalar) are passed to its formula as
  attributes, as the eager engine sees them.
* ``zero_ops`` may list operations eager mode never sees (indexing with
  ``x[...]`` is a ``pd_op.slice`` in a program but a C-level Tensor method in
  eager mode); counted ``macs``/``flops`` are unaffected.
* Paddle builds ``x * 2.0`` and ``x + eps`` as one ``pd_op.scale`` where
  eager mode sees a ``multiply``/``add`` with a Python scalar: same cost,
  except that a literal ``x * 1.0`` is a free identity ``scale`` here and one
  multiply per element in eager mode.
* Input checks are Paddle's static shape inference, which checks less than
  a run: a wrong rank is reported (naming the layer, as in eager mode), but
  e.g. a conv input with the wrong channel count is not.
* Control flow: both branches of a ``pd_op.if`` are counted and a
  ``pd_op.while`` body once (eager counts what actually ran); a note says so.
* Unknown dimensions: placeholders get the concrete shapes of the input
  (an ``InputSpec`` dimension of ``None``/-1 becomes 1, as eager mode
  synthesises it), so a traced program normally has none. A dimension that
  is still -1 (a data-dependent size, or the batch of a ``paddle.jit.load``-ed
  layer's saved program) is counted as the batch size (first dimension of the
  first input), and a note says so.
"""
from __future__ import annotations

import contextlib
import math
import operator
import os
import signal
import threading
import traceback
import warnings
from dataclasses import dataclass

import numpy as np
import paddle
import paddle.nn.layer.layers as layers_mod
import paddle.pir.core as ir_static
import paddle.tensor.attribute as attribute
from paddle.base import framework
from paddle.jit import pir_translated_layer, translated_layer
from paddle.jit.dy2static.utils import graph_tracing_guard
from paddle.static import InputSpec

from ..errors import HandlerError, TraceError
from ..quiet import glog_dropped
from .core import Attribution, first_line
from .guards import guard_process
from .inputs import build_call_args, dtype_name, input_leaves, map_inputs
from .instrument import COMPOSITES_ONLY, instrument
from .intercept import GATE, replace_everywhere
from .legacy_static import take_dynamic_branches
from .parameter_values import answer_parameter_truth
from .params import parameter_counts
from .patch import Patches, observing
from .pir import (Marks, ValueShapes, control_flow_kinds, count_program_op, inexact_notes, is_plumbing, is_value,
                  owners, program_notes, walk)
from .records import Collection
from .request import ProfileRequest

__all__ = ["collect_trace", "trace_and_collect", "Traced"]


@dataclass
class _Placeholder:
    name: str
    shape: list
    dtype: str


def input_plan(net, input_size, inputs, input_spec, dtype=None):
    """``(args, kwargs)`` where tensors are :class:`_Placeholder` and any other
    value is passed to ``forward`` unchanged."""
    counter = iter(range(1 << 30))

    def ph(shape, dtype):
        return _Placeholder(f"input_{next(counter)}", [int(d) for d in shape], dtype_name(dtype))

    args, kwargs = build_call_args(net, input_size, inputs, input_spec, make_input=ph,
                                   convert_tensor=lambda t: ph(t.shape, t.dtype), dtype=dtype)
    return list(args), kwargs


def _quiet_tracing(patches: Patches, fast: bool) -> None:
    """Paddle-side settings for fast tracing, logged in ``patches`` and
    effective for the profiling thread only (other threads see the originals).

    * ``paddle.nn.layer.layers.name_struct`` (records ``struct_name`` by
      listing every op of the program on every layer call: quadratic) becomes
      a no-op; we attribute operations with our own brackets.
    * ``fast``: ``traceback.extract_stack``, which Paddle's C++ op builders call
      for every operation to store its Python call stack, returns an empty
      stack (2-3x faster tracing). Not done for the to_static path, whose error
      messages use those stacks.
    * Paddle's own warnings (e.g. "Tensor do not have 'place' interface for pir
      graph mode") are silenced.
    """
    me = threading.get_ident()
    saved_struct = layers_mod.__dict__.get("name_struct")
    if saved_struct is not None:
        def name_struct(*args, **kwargs):
            if threading.get_ident() == me:
                return _NULL_CONTEXT
            return saved_struct(*args, **kwargs)
        patches.setitem(layers_mod.__dict__, "name_struct", name_struct)
    if fast:
        saved_stack = traceback.extract_stack

        def extract_stack(*args, **kwargs):
            if threading.get_ident() == me:
                return traceback.StackSummary()
            return saved_stack(*args, **kwargs)
        patches.setattr(traceback, "extract_stack", extract_stack)
    catcher = warnings.catch_warnings()
    catcher.__enter__()
    patches.on_restore(lambda: catcher.__exit__(None, None, None))
    warnings.filterwarnings("ignore", module=r"paddle(\.|$)")


class _NullContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_NULL_CONTEXT = _NullContext()


def _is_placeholder(value) -> bool:
    return isinstance(value, _Placeholder)


def _placeholders(value) -> list:
    """Every placeholder in a nested structure (cache objects included), in order."""
    return input_leaves(value, _is_placeholder)


def _make_args(plan_args, plan_kwargs, make):
    args = [map_inputs(a, make, _is_placeholder) for a in plan_args]
    kwargs = {k: map_inputs(v, make, _is_placeholder) for k, v in plan_kwargs.items()}
    return args, kwargs


@contextlib.contextmanager
def _static_mode():
    """Static-graph mode for building a program, as Paddle's
    ``framework._dygraph_guard(None)`` sets it - the calling thread's flag and
    the C++ tracer, process-wide (other threads' operations wait at the
    gate meanwhile) - but without its third effect: rewriting the module
    default every new thread copies its own flag from, so a thread started
    during a trace would take static mode for good."""
    local = framework.global_var.__dict__
    saved = local.get("_dygraph_tracer_")
    local["_dygraph_tracer_"] = None
    framework.core._switch_tracer(None)
    try:
        yield
    finally:
        local["_dygraph_tracer_"] = saved
        framework.core._switch_tracer(saved)


def _trace_direct(net, plan_args, plan_kwargs, to_static_view):
    """Run forward as plain Python in static-graph mode (no AST rewrite); a
    ``@to_static`` forward runs as Python here (the core's guard shows the
    profiling thread ``enable_to_static = False``)."""
    with _static_mode():
        main, startup = ir_static.Program(), ir_static.Program()
        with ir_static.program_guard(main, startup), graph_tracing_guard(main):
            args, kwargs = _make_args(plan_args, plan_kwargs,
                                      lambda p: paddle.static.data(p.name, p.shape, p.dtype))
            out = net(*args, **kwargs)
    return main, out


def _trace_ast(net, plan_args, plan_kwargs, to_static_view):
    """``paddle.jit.to_static(full_graph=True)``: Python control flow on tensors
    becomes program control flow. We convert a function that calls the model;
    what dy2static attaches to the layers (converted ``forward`` methods) is
    removed by the core's model guard."""
    holders = _placeholders((plan_args, plan_kwargs))
    specs = [InputSpec(p.shape, p.dtype, p.name) for p in holders]
    index = {id(p): i for i, p in enumerate(holders)}

    @paddle.jit.not_to_static
    def assemble(tensors):
        return _make_args(plan_args, plan_kwargs, lambda p: tensors[index[id(p)]])

    def traced_forward(tensors):
        call_args, call_kwargs = assemble(tensors)
        return net(*call_args, **call_kwargs)

    to_static_view.forced = True
    try:
        static_fn = paddle.jit.to_static(traced_forward, input_spec=[specs], full_graph=True)
        concrete = static_fn.concrete_program
    finally:
        to_static_view.forced = False
    return concrete.main_program, concrete.outputs


def _elementwise(op):
    def method(self, other):
        if isinstance(other, (list, tuple, np.ndarray)):
            return StaticShape(op(a, b) for a, b in zip(self, other))
        return StaticShape(op(a, other) for a in self)
    return method


def _elementwise_reflected(op):
    def method(self, other):
        return StaticShape(op(other, a) for a in self)
    return method


class StaticShape(list):
    """What ``paddle.shape(x)`` returns while tracing when ``x``'s shape is
    fully known: the concrete sizes, so code that computes sizes from it
    (``b = paddle.shape(x)[0]; x.reshape([b, -1, 64])``, ``size=paddle.shape(x)[2:]``)
    builds a program with concrete shapes - as eager mode sees them - instead
    of -1. A list (Paddle APIs take it as a shape) whose arithmetic is
    element-wise like the int64 tensor's (``shape * 2`` doubles every size; a
    plain list would repeat). Where a real tensor is needed the trace fails
    and the next attempt runs without it."""

    __add__, __sub__, __mul__ = _elementwise(operator.add), _elementwise(operator.sub), _elementwise(operator.mul)
    __floordiv__, __truediv__, __mod__ = (_elementwise(operator.floordiv), _elementwise(operator.truediv),
                                         _elementwise(operator.mod))
    __radd__, __rsub__, __rmul__ = (_elementwise_reflected(operator.add), _elementwise_reflected(operator.sub),
                                    _elementwise_reflected(operator.mul))
    __rfloordiv__ = _elementwise_reflected(operator.floordiv)

    def __getitem__(self, index):
        item = list.__getitem__(self, index)
        return StaticShape(item) if isinstance(index, slice) else item

    def numpy(self):
        return np.asarray(self, dtype=np.int64)

    def tolist(self):
        return list(self)

    @property
    def shape(self):
        return [len(self)]


def _value_names(patches: Patches) -> None:
    """``Value.name`` raises for an intermediate value of a PIR program; code
    that records names of its outputs (PaddleNLP's OPT keeps
    ``output.name`` for recomputation checkpoints) would stop the trace. For
    the profiling thread such a value answers a placeholder name."""
    value_cls = paddle.pir.Value
    original = value_cls.__dict__.get("name")
    if not isinstance(original, property):
        return

    def name(value):
        try:
            return original.fget(value)
        except ValueError:
            if observing():
                return f"pfe_value_{id(value)}"
            raise

    patches.setattr(value_cls, "name", property(name, original.fset, original.fdel, original.__doc__))


def _static_shapes(patches: Patches, modules) -> None:
    """``paddle.shape`` (every alias, in Paddle and the model's modules)
    answers :class:`StaticShape` for a program value of known shape, for the
    profiling thread only."""
    original = attribute.shape

    def shape(input):
        if observing() and is_value(input):
            dims = [int(d) for d in input.shape]
            if all(d >= 0 for d in dims):
                return StaticShape(dims)
        return original(input)

    shape.__wrapped__ = original
    replace_everywhere(patches, original, shape, modules)
    # Value.numel() of a known shape is a Python int too (a KV cache's "is it
    # empty?" test, numel() == 0, is then a plain bool)
    numel = paddle.pir.Value.numel

    def static_numel(self, *args, **kwargs):
        if observing():
            dims = [int(d) for d in self.shape]
            if all(d >= 0 for d in dims):
                return math.prod(dims)
        return numel(self, *args, **kwargs)

    patches.setattr(paddle.pir.Value, "numel", static_numel)


def _trace(patches: Patches, net, plan_args, plan_kwargs, request: ProfileRequest, batch, on_op_record=None):
    """Trace ``net``: ``(program, attribution, how, parameter counts)``. Attempts, in order:
    direct tracing with concrete ``paddle.shape`` answers, plain direct
    tracing, ``to_static``. Each attempt's changes to the model are undone
    before the next attempt (and by ``patches``)."""
    errors = []
    to_static_view = guard_process(patches)
    attempts = (("direct", _trace_direct, True), ("direct", _trace_direct, False), ("to_static", _trace_ast, False))
    for how, fn, static_shapes in attempts:
        attempt = Patches()
        patches.on_restore(attempt.restore)
        attribution = Attribution(net, ValueShapes(batch), request.overrides, request.options,
                                  request.count_functional, mark=Marks(), on_op_record=on_op_record)
        try:
            # the rest of the program is read off after tracing: only composites are observed live
            modules = instrument(attempt, attribution, observe=COMPOSITES_ONLY, process=False)
            _quiet_tracing(attempt, how == "direct")
            take_dynamic_branches(attempt)
            answer_parameter_truth(attempt, net)
            if static_shapes:
                _static_shapes(attempt, modules)
                _value_names(attempt)
            with GATE.held():   # other threads' eager operations wait while Paddle is in static mode
                program, _ = fn(net, plan_args, plan_kwargs, to_static_view)
            parameters = parameter_counts([rec.layer for rec in attribution.order])   # before the model is put back
            attempt.restore()
            return program, attribution, how, parameters
        except (Exception, MemoryError) as exc:  # noqa: BLE001 - reported below
            if isinstance(exc, HandlerError):
                raise
            errors.append((how, exc, attribution.where()))
        finally:
            attempt.restore()
    # report the plain direct trace's error (the static-shape attempt's may be
    # only about StaticShape) and the to_static one
    (_, first, where), (_, last, _) = errors[-2] if len(errors) > 2 else errors[0], errors[-1]
    plain, converted = _error_summary(first), _error_summary(last)
    detail = plain if plain == converted else f"{plain.rstrip('.: ')}; with paddle.jit.to_static: {converted}"
    detail = detail.rstrip(".: ") + (f" (in {where})" if where else "")
    raise TraceError(
        f"mode='trace' could not trace {type(net).__name__}.forward into a static program: {detail}. "
        f"Trace mode builds the program from shapes only, so forward must not need tensor values in "
        f"Python (.numpy(), .item(), .tolist(), float()/int() of a tensor, control flow that "
        f"paddle.jit.to_static cannot convert). If the input shape is wrong, fix input_size/input_spec; "
        f"otherwise count this model with mode='eager', which runs it." + _language_model_hint(net)
    ) from last


def _language_model_hint(net) -> str:
    """A decoder carrying its configuration can be counted shape-only from it."""
    cfg = getattr(net, "config", None)
    if not all(getattr(cfg, key, None) for key in ("hidden_size", "num_hidden_layers", "vocab_size")):
        return ""
    return (" Without weights, a language model can also be counted from its configuration: "
            "pfe.llm.build(net.config) builds the zoo decoder of the same structure lazily (routed experts by "
            "expected routing), or `paddle-flops llm config.json` from the command line.")


def _error_summary(exc: Exception) -> str:
    """``Type: message`` of an exception; for dy2static's multi-line reports,
    the line that names the underlying error."""
    lines = [l.strip() for l in str(exc).splitlines() if l.strip()]
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if head.isidentifier() and head.endswith(("Error", "Exception")) and ":" in line:
            return line[:400]
    return f"{type(exc).__name__}: {first_line(exc)}"


@dataclass
class Traced:
    """A traced forward, for counts built on top of it (training): the
    program, the attribution that bracketed it, every operation in walk
    order and the batch size unknown dimensions are counted as."""
    program: object
    attribution: Attribution
    ops: list
    batch: int


def is_loaded_layer(net) -> bool:
    """A layer returned by ``paddle.jit.load`` (old IR or PIR): a saved
    program with no Python forward to observe."""
    return isinstance(net, (translated_layer.TranslatedLayer, pir_translated_layer.PirTranslatedLayer))


def collect_trace(patches: Patches, net, request: ProfileRequest) -> Collection:
    """Trace ``net`` (see the module docstring) and attribute every operation
    of the program; changes are logged in ``patches`` (the caller owns the
    session and restores)."""
    return trace_and_collect(patches, net, request)[0]


def trace_and_collect(patches: Patches, net, request: ProfileRequest, on_op_record=None) -> tuple:
    """:func:`collect_trace`, also returning the :class:`Traced` forward;
    ``on_op_record`` is the core's per-op callback (composite calls while
    tracing)."""
    _defer_interrupts(patches)
    plan_args, plan_kwargs = input_plan(net, request.input_size, request.inputs, request.input_spec, request.dtype)
    input_shapes = [tuple(p.shape) for p in _placeholders((plan_args, plan_kwargs))]
    # a -1 left in the traced program (a data-dependent size) -> the batch size
    batch = input_shapes[0][0] if input_shapes and input_shapes[0] else 1
    with glog_dropped():    # Paddle's glog warnings while tracing (e.g. on an op's out= argument)
        program, attribution, how, parameters = _trace(patches, net, plan_args, plan_kwargs, request, batch,
                                                       on_op_record)
    shapes = attribution.shapes
    all_ops = list(walk(program.global_block()))
    ops = [op for op in all_ops if not is_plumbing(op.name())]
    for op, span in owners(ops, attribution.spans):
        if span is not None and span.counts_ops and span.record is not None:
            count_program_op(attribution, span.record, op, shapes)
    collection = Collection(net, attribution.order, input_shapes, "trace")
    collection.parameters = parameters
    collection.notes.extend(program_notes(control_flow_kinds(all_ops), shapes, how))
    collection.inexact.extend(inexact_notes(shapes, saved=is_loaded_layer(net)))
    return collection, Traced(program, attribution, all_ops, batch)


def _defer_interrupts(patches: Patches) -> None:
    """Hold Ctrl-C back until the session is restored, then deliver it as
    the caller's own handler would have: ``KeyboardInterrupt`` under Python's
    default, the caller's function called, the process ended under
    ``SIG_DFL``; an ignored SIGINT stays ignored (nothing is installed).

    Paddle's C++ program builders call back into Python (the op call-stack
    capture); a KeyboardInterrupt raised inside such a callback aborts the
    interpreter (``std::bad_alloc``, SIGABRT) instead of unwinding. Signals
    reach only the main thread, so only there is anything to defer."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        return
    pending: list[tuple] = []

    def hold(signum, frame):
        pending.append((signum, frame))

    signal.signal(signal.SIGINT, hold)

    def undo():
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
        if not pending:
            return
        signum, frame = pending[0]
        pending.clear()
        if previous is None or previous is signal.default_int_handler:
            raise KeyboardInterrupt
        if previous is signal.SIG_DFL:
            os.kill(os.getpid(), signal.SIGINT)     # what the default action would have done
            return
        previous(signum, frame)

    patches.on_restore(undo)
