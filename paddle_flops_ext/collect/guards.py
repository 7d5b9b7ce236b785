"""Guards around a forward, built on the patch log: what a forward or an
engine may change - eval mode, eager ``@to_static`` forwards, the global
RNGs, the model's attributes, tables and statistics - logged in the
session's :class:`~paddle_flops_ext.collect.patch.Patches` so it is put back
completely, and shown changed to the profiling thread only.
"""
from __future__ import annotations

import operator
import random
from itertools import chain, compress, filterfalse
from operator import attrgetter, methodcaller

import numpy as np
import paddle

from ..errors import ModelChanged
from . import intercept
from .patch import Patches, observing

_Tensor = paddle.Tensor


class _ThreadView:
    """A class-level data descriptor that shows the profiling thread
    ``forced`` for instances in ``members`` and every other reader the
    instance's own value (kept in its ``__dict__``). Used for the layers'
    ``training`` flag and ``ProgramTranslator.enable_to_static``: nothing
    is written to the objects, so other threads and the state after
    profiling are untouched."""

    def __init__(self, name: str, forced, members: set[int] | None, default):
        self.name, self.forced, self.members, self.default = name, forced, members, default

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        if (self.members is None or id(obj) in self.members) and observing():
            return self.forced
        return obj.__dict__.get(self.name, self.default)

    def __set__(self, obj, value):
        obj.__dict__[self.name] = value


def guard_process(patches: Patches) -> "_ThreadView":
    """Process state the forward or our engines may touch: the global RNGs
    (paddle, numpy, random) and ``@to_static``
    forwards, which the profiling thread runs eagerly so every layer call
    is seen. Returns the ``enable_to_static`` view (trace mode's AST path
    sets its ``forced`` to True while converting)."""
    paddle_rng = paddle.get_rng_state()
    patches.on_restore(lambda: paddle.set_rng_state(paddle_rng))
    np_rng = np.random.get_state()
    patches.on_restore(lambda: np.random.set_state(np_rng))
    py_rng = random.getstate()
    patches.on_restore(lambda: random.setstate(py_rng))
    translator_cls = paddle.jit.dy2static.program_translator.ProgramTranslator
    translator = translator_cls()
    value = translator.__dict__.get("enable_to_static", True)
    view = _ThreadView("enable_to_static", False, {id(translator)}, value)
    patches.setattr(translator_cls, "enable_to_static", view)
    return view


def guard_model(patches: Patches, layers: list) -> None:
    """The model's state: eval mode for the profiling thread only (a
    descriptor, nothing written), and every layer's attributes, sub-layer,
    parameter and buffer tables, and the values of buffers and
    non-trainable parameters (BatchNorm statistics a forward may update)
    put back afterwards. Trainable parameters are checked for in-place
    writes; one that was written is restored from a copy taken lazily
    (see :func:`_snapshot_values`)."""
    members = {id(layer) for layer in layers}
    patches.setattr(paddle.nn.Layer, "training", _ThreadView("training", False, members, True))
    _snapshot_layers(patches, layers)
    _snapshot_values(patches, layers)


def _snapshot_layers(patches: Patches, layers: list) -> None:
    """Every layer's ``__dict__`` and the contents of its dict attributes
    (parameter/buffer/sub-layer tables, hooks, caches such as dy2static's
    ``_original_funcs``), put back on restore.

    Snapshot and check are C-level passes over all layers at once, because
    profiling a 1000-layer model must not cost Python work per attribute:
    an untouched dict compares equal to its copy through the identity
    shortcut of ``==`` without calling any ``__eq__``, most tables are empty
    and only need to stay so. A value replaced by an equal one (a new
    ``0`` for an old ``0``) passes as unchanged; anything else that changed
    is put back entry by entry."""
    dicts = [layer.__dict__ for layer in layers]
    copies = list(map(dict.copy, dicts))
    tables = list(filter(dict.__instancecheck__, chain.from_iterable(map(dict.values, copies))))
    filled = list(filter(None, tables))
    empty = list(filterfalse(None, tables))
    filled_copies = list(map(dict.copy, filled))

    def restore():
        if not _equal(dicts, copies):
            for d, copy in zip(dicts, copies):
                if not _same(d, copy):
                    for k in [k for k in d if k not in copy]:
                        del d[k]
                    for k, v in copy.items():
                        if d.get(k, _MISSING) is not v:
                            d[k] = v
        if not _equal(filled, filled_copies):
            for live, table in zip(filled, filled_copies):
                if not _same(live, table):
                    live.clear()
                    live.update(table)
        if any(empty):
            for live in empty:
                live.clear()

    patches.on_restore(restore)


def _equal(lives: list, saved: list) -> bool:
    """``lives == saved`` for lists of dicts whose values are mostly the
    very same objects; a value whose ``__eq__`` raises or is ambiguous (a
    tensor) counts as changed."""
    try:
        return bool(lives == saved)
    except Exception:  # noqa: BLE001 - e.g. a tensor's elementwise == has no truth value
        return False


def _same(live: dict, saved: dict) -> bool:
    return live.keys() == saved.keys() and all(map(operator.is_, live.values(), saved.values()))


_MISSING = object()


def _snapshot_values(patches: Patches, layers: list) -> None:
    """Copies of buffers and non-trainable parameters (small: statistics,
    counters, caches) are written back after the forward; a trainable
    parameter is copied only just before the forward first writes it
    (:class:`_ParameterWrites`) and put back; one written where no wrapper
    sees it is caught by Paddle's in-place version counter, and the call
    raises instead of leaving it changed silently. Collected in C-level
    passes, like the layers' tables."""
    def unique_tensors(tables):
        # tensors, or None for an unset slot (a bias=False)
        found = list(filter(_Tensor.__instancecheck__, chain.from_iterable(map(dict.values, tables))))
        return list(dict(zip(map(id, found), found)).values())

    params = unique_tensors(map(attrgetter("_parameters"), layers))
    frozen = list(map(attrgetter("stop_gradient"), params))
    trainable = list(compress(params, map(operator.not_, frozen))) if any(frozen) else params
    versions = list(map(methodcaller("_inplace_version"), trainable))
    buffers = unique_tensors(filter(None, map(attrgetter("_buffers"), layers)))
    if buffers:
        param_ids = set(map(id, params))
        buffers = [t for t in buffers if id(t) not in param_ids]
    copies = [(t, t.clone()) for t in chain(compress(params, frozen), buffers) if t._is_initialized()]
    writes = _ParameterWrites(trainable)

    def restore():
        for t, copy in copies:  # kernels such as batch_norm write in place without a version bump
            t.copy_(copy, True)     # in place, like set_value, at a quarter of its cost
        written = writes.put_back()
        if written:
            names = ", ".join(t.name for t, _ in writes.saved.values())
            patches.notes.append(f"the forward wrote trainable parameter(s) {names} in place; their values "
                                 f"were put back after profiling (the counts are of that forward)")
        _check_versions([(t, v) for t, v in zip(trainable, versions) if id(t) not in written])

    patches.on_restore(restore)
    writes.watch(patches)


class _ParameterWrites:
    """Trainable parameters the forward writes: each one's value is saved
    just before the profiling thread first writes it - through
    ``Tensor.set_value`` / ``Tensor.copy_`` (which leave Paddle's in-place
    version as it is), ``w[...] = v`` or an in-place builtin (``scale_``,
    ``assign(..., output=w)`` ...) - and put back after the forward. A write
    that bypasses all of these (a C++ custom op; any in-place op when
    operations are not observed, ``count_functional=False``) is caught by
    the version check, which raises ``ModelChanged``."""

    def __init__(self, trainable: list):
        self.ids = set(map(id, trainable))
        self.saved: dict[int, tuple] = {}

    def save(self, args, kwargs=None) -> None:
        for t in chain(args, kwargs.values() if kwargs else ()):
            if id(t) in self.ids and id(t) not in self.saved:
                self.saved[id(t)] = (t, t.detach().clone())

    def watch(self, patches: Patches) -> None:
        patches.setattr(intercept._ACTIVE, "before_write", self.save)
        save, tensor = self.save, paddle.Tensor
        for name in ("set_value", "copy_", "__setitem__"):
            original = tensor.__dict__[name]

            def writer(target, *args, __original=original, **kwargs):
                if observing():
                    save((target,))
                return __original(target, *args, **kwargs)

            writer.__name__, writer.__wrapped__ = name, original
            patches.setattr(tensor, name, writer)

    def put_back(self) -> set:
        """Write every saved value back; the ids of those parameters."""
        for t, value in self.saved.values():
            t.copy_(value, True)
        return set(self.saved)


def _check_versions(tensors_and_versions: list) -> None:
    """``(tensor, in-place version before the forward)`` pairs: raise if any
    version moved."""
    tensors = [t for t, _ in tensors_and_versions]
    now = list(map(methodcaller("_inplace_version"), tensors))
    if now != [v for _, v in tensors_and_versions]:
        changed = [t.name for (t, v), n in zip(tensors_and_versions, now) if n != v]
        raise ModelChanged(f"the model's forward wrote trainable parameter(s) {', '.join(changed[:5])} in "
                           f"place while being profiled; their old values could not be restored")
