"""Temporarily route every eager Paddle operation through a callback.

Mechanism (Paddle 3.x eager mode):

* Every Python-level API (``paddle.matmul``, ``F.softmax``, ``Tensor.exp`` ...)
  ends in a call to a C builtin of ``paddle._C_ops`` looked up *at call time*
  as a module attribute, so replacing those attributes catches them all.
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

Everything replaced is recorded and put back, by identity, when the context
exits - also when the forward raised.

Limits: code that grabbed a builtin before profiling into a place we do not
scan (a closure, a user module other than the model's, a C++ custom op) is not
seen; such work shows as missing rather than double-counted.
"""
from __future__ import annotations

import sys
import types


import paddle
from paddle import _C_ops

from ..formulas import registry

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

def _c_op_table() -> dict[int, tuple[str, object]]:
    table = {}
    for name in dir(_C_ops):
        if name.startswith("_"):
            continue
        fn = getattr(_C_ops, name)
        if isinstance(fn, types.BuiltinFunctionType):
            table.setdefault(id(fn), (name, fn))
    return table


_C_OP_TABLE: dict[int, tuple[str, object]] | None = None
# Every (module, attribute, target id) alias in loaded Paddle modules; rescanned
# only when modules were imported since (or the targets changed). Entries are
# checked by identity before use, so a stale one is skipped, never wrong.
# (Modules are keyed by object, not name: paddle._C_ops copies every attribute
# of the pir ops module, __name__ included.)
_ALIASES: dict = {"key": None, "entries": []}


def _paddle_modules():
    """Python modules of Paddle. The C extension modules that *define* the
    builtins are skipped (Python code reaches them only through
    ``paddle._C_ops`` or the aliases found here), as is ``paddle._pir_ops``
    (static-graph builders)."""
    core = paddle.base.core
    c_modules = {id(getattr(getattr(core, n, None), "ops", None)) for n in ("eager", "pir")}
    for name, module in list(sys.modules.items()):
        if module is None or id(module) in c_modules or name == "paddle._pir_ops":
            continue
        if name == "paddle" or name.startswith("paddle."):
            yield module


def _paddle_aliases(targets):
    key = (len(sys.modules), _PLAN.get("key"))
    if _ALIASES["key"] != key:
        entries = [(m, attr, k) for m in _paddle_modules() for attr, k in _aliases_in(m, targets)]
        _ALIASES.update(key=key, entries=entries)
    return _ALIASES["entries"]


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


class _Callbacks:
    """Where the wrappers send events; all None while no profile is running.
    Wrappers are built once per process and read these at call time, so
    installing them is only attribute assignment."""
    on_op = None
    on_enter = None
    on_exit = None


_ACTIVE = _Callbacks()
_WRAPPERS: dict[tuple, object] = {}  # (kind, key) -> wrapper, built once


def _c_op_wrapper(name: str, fn):
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        cb = _ACTIVE.on_op
        if cb is not None:
            cb(name, args, kwargs, out)
        return out

    wrapper.__name__ = name
    wrapper.__wrapped__ = fn
    return wrapper


def _operator_wrapper(slot: str, op_name: str, swap: bool, method):
    def wrapper(self_, other):
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
        if enter is None:
            return fn(*args, **kwargs)
        token = enter(op_name)
        try:
            out = fn(*args, **kwargs)
        except BaseException:
            leave(token, op_name, args, kwargs, None, failed=True)
            raise
        leave(token, op_name, args, kwargs, out, failed=False)
        return out

    wrapper.__name__ = getattr(fn, "__name__", op_name)
    wrapper.__wrapped__ = fn
    return wrapper


def _cached(kind, key, make):
    w = _WRAPPERS.get((kind, key))
    if w is None:
        w = _WRAPPERS[(kind, key)] = make()
    return w


_PLAN: dict = {}


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
        for op_name, fn in composites.items():
            if id(fn) not in targets:
                targets[id(fn)] = fn
                replacement[id(fn)] = _cached("composite", (op_name, id(fn)),
                                              lambda: _composite_wrapper(op_name, fn))
        _PLAN.update(key=key, targets=targets, replacement=replacement)
    return _PLAN["targets"], _PLAN["replacement"]


class Interceptor:
    """Context manager: while active, ``on_op(name, args, kwargs, out)`` is called
    after every eager op, and ``on_enter(name)`` / ``on_exit(token, name, args,
    kwargs, out, failed)`` around composite functions. Not re-entrant."""

    def __init__(self, on_op, on_composite_enter, on_composite_exit, extra_modules=()):
        self.on_op = on_op
        self.on_composite_enter = on_composite_enter
        self.on_composite_exit = on_composite_exit
        self.extra_modules = tuple(extra_modules)
        self._saved: list[tuple[object, str, object]] = []

    # -- install / restore ----------------------------------------------
    def _set(self, obj, attr, value):
        self._saved.append((obj, attr, getattr(obj, attr)))
        setattr(obj, attr, value)

    def __enter__(self):
        global _C_OP_TABLE
        if _ACTIVE.on_op is not None:
            raise RuntimeError("paddle_flops_ext: profiling is already running (profile() is not re-entrant)")
        if _C_OP_TABLE is None:
            _C_OP_TABLE = _c_op_table()
        try:
            self._install()
        except BaseException:
            self.restore()
            raise
        _ACTIVE.on_op = self.on_op
        _ACTIVE.on_enter = self.on_composite_enter
        _ACTIVE.on_exit = self.on_composite_exit
        return self

    def _install(self):
        targets, replacement = _targets_and_wrappers()
        saved = self._saved
        entries = _paddle_aliases(targets)
        if self.extra_modules:  # the user's modules change while they work: never cached
            entries = entries + [(m, attr, key) for m in self.extra_modules
                                 for attr, key in _aliases_in(m, targets)]
        for module, attr, key in entries:
            d = module.__dict__
            if d.get(attr) is targets[key]:
                saved.append((d, attr, targets[key]))
                d[attr] = replacement[key]  # a module attribute is its dict entry

        tensor = paddle.Tensor
        for slot, (op_name, swap) in TENSOR_OPERATORS.items():
            method = tensor.__dict__.get(slot)
            if method is not None:
                self._set(tensor, slot, _cached("operator", (slot, id(method)),
                                                lambda: _operator_wrapper(slot, op_name, swap, method)))
        # Tensor methods bound directly to C builtins (setattr on a type also
        # updates its C slots, so these go through _set)
        for attr, value in list(vars(tensor).items()):
            if id(value) in replacement and targets[id(value)] is value:
                self._set(tensor, attr, replacement[id(value)])

    def restore(self):
        _ACTIVE.on_op = _ACTIVE.on_enter = _ACTIVE.on_exit = None
        while self._saved:
            obj, attr, original = self._saved.pop()
            if isinstance(obj, dict):
                obj[attr] = original
            else:
                setattr(obj, attr, original)

    def __exit__(self, *exc):
        self.restore()
        return False
