"""Route every Paddle operation the profiling thread runs through callbacks.

Mechanism (Paddle 3.x eager mode):

* Every Python-level API (``paddle.matmul``, ``F.softmax``, ``Tensor.exp`` ...)
  ends in a call to a C builtin of ``paddle._C_ops`` looked up *at call time*
  as a module attribute, so replacing those attributes catches them all.
  Older code (PaddleDetection's box coding and NMS, for one) calls the
  builtins of ``paddle._legacy_C_ops`` (``op(x, 'attr', value, ...)``); they
  are wrapped the same way.
* Some modules bound the same builtins under their own names at import time
  (``paddle.tensor.linalg.matmul is _C_ops.matmul``); we find every such alias
  in loaded ``paddle.*`` modules (and the model's own modules) by identity and
  replace it too.
* Tensor operators (``a + b``, ``a @ b``, ``a * 2``) are C slots of
  ``paddle.Tensor`` that never go through ``_C_ops``; we wrap those methods on
  the class.
* Composite Python functions that we count as one unit (e.g.
  ``F.scaled_dot_product_attention``) are wrapped where they are bound, and the
  operations they run inside are not counted again.

Every replacement is logged in the session's
:class:`~paddle_flops_ext.collect.patch.Patches` and put back by identity.
The wrappers report only calls made by the profiling thread
(:func:`~paddle_flops_ext.collect.patch.observing`); other threads run the
original builtins, unobserved.

Limits: code that grabbed a builtin before profiling into a place we do not
scan (a closure, a user module other than the model's, a C++ custom op) is not
seen; such work shows as missing rather than double-counted.
"""
from __future__ import annotations

import contextlib
import sys
import threading
import types


import paddle
from paddle import _C_ops, _legacy_C_ops

from ..formulas import registry
from .patch import OWNER, Patches, SwapPlan, observing

# Tensor operator slot -> (op name, swap operands)
TENSOR_OPERATORS: dict[str, tuple[str, bool]] = {
    "__add__": ("add", False), "__radd__": ("add", True),
    "__sub__": ("subtract", False), "__rsub__": ("subtract", True),
    "__mul__": ("multiply", False), "__rmul__": ("multiply", True),
    "__div__": ("divide", False), "__rdiv__": ("divide", True),
    "__truediv__": ("divide", False), "__rtruediv__": ("divide", True),
    "__floordiv__": ("floor_divide", False), "__rfloordiv__": ("floor_divide", True),
    "__mod__": ("remainder", False), "__rmod__": ("remainder", True),
    "__pow__": ("elementwise_pow", False), "__rpow__": ("elementwise_pow", True),
    "__matmul__": ("matmul", False), "__rmatmul__": ("matmul", True),
    "__eq__": ("equal", False), "__ne__": ("not_equal", False),
    "__lt__": ("less_than", False), "__le__": ("less_equal", False),
    "__gt__": ("greater_than", False), "__ge__": ("greater_equal", False),
}

def _builtin_table(module) -> dict[int, tuple[str, object]]:
    table = {}
    for name in dir(module):
        if name.startswith("_"):
            continue
        fn = getattr(module, name)
        if isinstance(fn, types.BuiltinFunctionType):
            table.setdefault(id(fn), (name, fn))
    return table


_C_OP_TABLE: dict[int, tuple[str, object]] | None = None
_LEGACY_OP_TABLE: dict[int, tuple[str, object]] | None = None
def _paddle_modules():
    """Python modules of Paddle. The C extension modules that *define* the
    builtins are skipped (Python code reaches them only through
    ``paddle._C_ops`` or the aliases found here), as is ``paddle._pir_ops``
    (static-graph builders)."""
    core = paddle.base.core
    c_modules = {id(getattr(getattr(core, n, None), "ops", None)) for n in ("eager", "pir")}
    c_modules.add(id(getattr(getattr(getattr(core, "eager", None), "ops", None), "legacy", None)))
    for name, module in list(sys.modules.items()):
        if module is None or id(module) in c_modules or name == "paddle._pir_ops":
            continue
        if name == "paddle" or name.startswith("paddle."):
            yield module


# Every alias of a target in loaded Paddle modules, grouped per module dict:
# rescanned only when modules were imported since (or the targets changed).
# Entries are checked by identity before use, so a stale one is skipped, never
# wrong. (Modules are keyed by object, not name: paddle._C_ops copies every
# attribute of the pir ops module, __name__ included.)
_GROUPS: dict = {"key": None, "groups": None}


def _paddle_alias_groups(only=None) -> list:
    """``[(module dict, {attr: (original, wrapper)})]`` for every loaded
    Paddle module (``only``: restricted to these target ids, e.g. the
    composites of trace mode)."""
    targets, replacement = _PLAN["targets"], _PLAN["replacement"]
    key = (len(sys.modules), _PLAN.get("key"))
    if _GROUPS["key"] != key:
        groups = []
        for module in _paddle_modules():
            swaps = {attr: (targets[k], replacement[k]) for attr, k in _aliases_in(module, targets)}
            if swaps:
                groups.append((module.__dict__, SwapPlan(swaps)))
        _GROUPS.update(key=key, groups=groups, only={})
    if only is None:
        return _GROUPS["groups"]
    only_key = frozenset(only)
    if only_key not in _GROUPS["only"]:
        picked = [(d, {a: (old, plan.replacements[a]) for a, old in plan.originals.items() if id(old) in only})
                  for d, plan in _GROUPS["groups"]]
        _GROUPS["only"][only_key] = [(d, SwapPlan(swaps)) for d, swaps in picked if swaps]
    return _GROUPS["only"][only_key]


def _aliases_in(module: types.ModuleType, targets: dict[int, object]) -> list[tuple[str, int]]:
    found = []
    try:
        items = list(vars(module).items())
    except TypeError:
        return found
    for attr, value in items:
        key = id(value)
        if key in targets and targets[key] is value:
            found.append((attr, key))
    return found


def replace_everywhere(patches: Patches, original, replacement, extra_modules=()) -> None:
    """Replace the function ``original`` by ``replacement`` wherever it is
    bound, by identity, in loaded Paddle modules and ``extra_modules``
    (logged in ``patches``): the same scan the op wrappers use, for single
    functions such as ``paddle.shape`` or ``fleet.utils.recompute``."""
    groups = []
    for module in list(_paddle_modules()) + [m for m in extra_modules if m is not None]:
        swaps = {attr: (original, replacement) for attr, _ in _aliases_in(module, {id(original): original})}
        if swaps:
            groups.append((module.__dict__, swaps))
    patches.swap_module_entries(groups)


class _Callbacks:
    """Where the wrappers send events; all None while no profile is running.
    Wrappers are built once per process and read these at call time, so
    installing them is only attribute assignment."""
    on_op = None
    on_legacy_op = None
    on_enter = None
    on_exit = None
    before_write = None    # an in-place op is about to write its tensor arguments (guards save parameters)


_ACTIVE = _Callbacks()
_WRAPPERS: dict[tuple, object] = {}  # (kind, key) -> wrapper, built once


class _Gate:
    """Closed while the profiling thread builds a program: Paddle's switch to
    static-graph mode swaps the process-wide C++ tracer, so an eager
    operation another thread ran then would run with none (and crash the
    process). Other threads pass the wrappers through :meth:`run`, counted
    while inside; :meth:`held` closes the gate and waits for the operations
    already inside to finish before the switch, so none straddles it."""

    def __init__(self):
        self.closed = False
        self._inside = 0
        self._cond = threading.Condition()
        self._depth = threading.local()

    def run(self, fn, args, kwargs):
        depth = getattr(self._depth, "n", 0)
        if depth:       # an operation inside an operation: its outer one holds the pass
            return fn(*args, **kwargs)
        with self._cond:
            while self.closed:
                self._cond.wait(0.1)
            self._inside += 1
        self._depth.n = 1
        try:
            return fn(*args, **kwargs)
        finally:
            self._depth.n = 0
            with self._cond:
                self._inside -= 1
                if not self._inside:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def held(self):
        with self._cond:
            self.closed = True
            while self._inside:
                self._cond.wait(0.1)
        try:
            yield
        finally:
            with self._cond:
                self.closed = False
                self._cond.notify_all()


GATE = _Gate()


def _c_op_wrapper(name: str, fn):
    owner, get_ident = OWNER, threading.get_ident   # observing(), inlined: this runs on every op
    if name.endswith("_"):
        return _inplace_op_wrapper(name, fn)

    def wrapper(*args, **kwargs):
        if owner.thread != get_ident():
            return gate.run(fn, args, kwargs)
        out = fn(*args, **kwargs)
        cb = _ACTIVE.on_op
        if cb is not None:
            cb(name, args, kwargs, out)
        return out

    gate = GATE
    wrapper.__name__ = name
    wrapper.__wrapped__ = fn
    return wrapper


def _inplace_op_wrapper(name: str, fn):
    """An in-place builtin (``scale_``, ``assign_out_`` ...): before it runs,
    the tensors it may write are reported to ``before_write``."""
    def wrapper(*args, **kwargs):
        if owner.thread == get_ident():
            save = _ACTIVE.before_write
            if save is not None:
                save(args, kwargs)
            out = fn(*args, **kwargs)
            cb = _ACTIVE.on_op
            if cb is not None:
                cb(name, args, kwargs, out)
            return out
        return gate.run(fn, args, kwargs)

    owner, get_ident, gate = OWNER, threading.get_ident, GATE
    wrapper.__name__ = name
    wrapper.__wrapped__ = fn
    return wrapper


def _legacy_op_wrapper(name: str, fn):
    def wrapper(*args, **kwargs):
        if not observing():
            return GATE.run(fn, args, kwargs)
        out = fn(*args, **kwargs)
        cb = _ACTIVE.on_legacy_op
        if cb is not None:
            cb(name, args, out)
        return out

    wrapper.__name__ = name
    wrapper.__wrapped__ = fn
    return wrapper


def _operator_wrapper(slot: str, op_name: str, swap: bool, method):
    def wrapper(self_, other):
        if not observing():
            return GATE.run(method, (self_, other), {})
        out = method(self_, other)
        cb = _ACTIVE.on_op
        if cb is not None and out is not NotImplemented:
            cb(op_name, (other, self_) if swap else (self_, other), {}, out)
        return out

    wrapper.__name__ = slot
    wrapper.__wrapped__ = method
    return wrapper


def _composite_wrapper(op_name: str, fn):
    def wrapper(*args, **kwargs):
        enter, leave = _ACTIVE.on_enter, _ACTIVE.on_exit
        if enter is None or not observing():
            return fn(*args, **kwargs)
        token = enter(op_name)
        try:
            out = fn(*args, **kwargs)
        except BaseException:
            leave(token, args, kwargs, None, failed=True)
            raise
        leave(token, args, kwargs, out, failed=False)
        return out

    wrapper.__name__ = getattr(fn, "__name__", op_name)
    wrapper.__wrapped__ = fn
    try:  # never rewritten by dy2static's AST pass (trace mode)
        paddle.jit.not_to_static(wrapper)
    except Exception:  # pragma: no cover
        pass
    return wrapper


def _cached(kind, key, make):
    w = _WRAPPERS.get((kind, key))
    if w is None:
        w = _WRAPPERS[(kind, key)] = make()
        try:  # never rewritten by dy2static's AST pass (trace mode's to_static attempt)
            paddle.jit.not_to_static(w)
        except Exception:  # pragma: no cover - other Paddle versions
            pass
    return w


_PLAN: dict = {}


class _TraceTargets:
    """The ids of every target but the legacy builtins, per plan."""

    def __init__(self):
        self.key, self.ids = None, None

    def get(self, targets: dict) -> frozenset:
        if self.key is not targets:
            legacy = set(_LEGACY_OP_TABLE) - set(_C_OP_TABLE)
            self.key, self.ids = targets, frozenset(k for k in targets if k not in legacy)
        return self.ids


_TRACE_TARGETS = _TraceTargets()


def _targets_and_wrappers():
    """id -> original object, id -> its wrapper; rebuilt only when the set of
    composite functions changes."""
    composites = registry.composite_functions()
    key = tuple(sorted((n, id(f)) for n, f in composites.items()))
    if _PLAN.get("key") != key:
        targets: dict[int, object] = {}
        replacement: dict[int, object] = {}
        for k, (name, fn) in _C_OP_TABLE.items():
            targets[k] = fn
            replacement[k] = _cached("op", k, lambda: _c_op_wrapper(name, fn))
        for k, (name, fn) in _LEGACY_OP_TABLE.items():
            if k not in targets:
                targets[k] = fn
                replacement[k] = _cached("legacy", k, lambda: _legacy_op_wrapper(name, fn))
        for op_name, fn in composites.items():
            if id(fn) not in targets:
                targets[id(fn)] = fn
                replacement[id(fn)] = _cached("composite", (op_name, id(fn)),
                                              lambda: _composite_wrapper(op_name, fn))
        _PLAN.update(key=key, targets=targets, replacement=replacement)
    return _PLAN["targets"], _PLAN["replacement"]


def observe_ops(patches: Patches, attribution, extra_modules=(), composites_only: bool = False) -> None:
    """Install the op wrappers (logged in ``patches``) and send the profiling
    thread's operations to ``attribution`` (``on_op``, ``on_legacy_op``,
    ``composite_enter``/``composite_exit``). ``composites_only``: report only
    the composite functions (trace mode reads every other op off the
    program); the other wrappers are installed all the same, as the
    :data:`GATE` other threads' operations wait at while a program is built."""
    global _C_OP_TABLE, _LEGACY_OP_TABLE
    if _C_OP_TABLE is None:
        _C_OP_TABLE = _builtin_table(_C_ops)
        _LEGACY_OP_TABLE = _builtin_table(_legacy_C_ops)
    targets, replacement = _targets_and_wrappers()
    # a trace keeps the legacy builtins as they are: its legacy static adapter finds them by identity
    groups = _paddle_alias_groups(None if not composites_only else _TRACE_TARGETS.get(targets))
    if extra_modules:  # the user's modules change while they work: never cached
        # a trace leaves the user's own aliases of builtins alone, but for composites (its legacy
        # static adapter looks for the builtins there)
        if composites_only:
            composite_ids = {id(fn) for fn in registry.composite_functions().values()}
            mine = {k: v for k, v in targets.items() if k in composite_ids}
        else:
            mine = targets
        groups = groups + [(m.__dict__, {attr: (mine[key], replacement[key]) for attr, key in _aliases_in(m, mine)})
                           for m in extra_modules]
    patches.swap_module_entries(groups)
    tensor = paddle.Tensor
    for slot, (op_name, swap) in TENSOR_OPERATORS.items():
        method = tensor.__dict__.get(slot)
        if method is not None:
            patches.setattr(tensor, slot, _cached("operator", (slot, id(method)),
                                                  lambda: _operator_wrapper(slot, op_name, swap, method)))
    # Tensor methods bound directly to C builtins (setattr on a type also
    # updates its C slots)
    for attr, value in list(vars(tensor).items()):
        if id(value) in replacement and targets.get(id(value)) is value:
            patches.setattr(tensor, attr, replacement[id(value)])
    if not composites_only:
        patches.setattr(_ACTIVE, "on_op", attribution.on_op)
        patches.setattr(_ACTIVE, "on_legacy_op", attribution.on_legacy_op)
    patches.setattr(_ACTIVE, "on_enter", attribution.composite_enter)
    patches.setattr(_ACTIVE, "on_exit", attribution.composite_exit)
