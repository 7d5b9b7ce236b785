"""The one patching mechanism every engine uses.

A :class:`Patches` object is an undo log. Each change to process state
(an attribute of a module, class or object, a dict entry, or any action with
an undo function) is logged *before* it is made, and :meth:`Patches.restore`
undoes the log in reverse order, putting back the original objects by
identity (an attribute that did not exist is deleted again).

Restoring is idempotent and survives interruption: an entry is removed from
the log only after it was undone, and a ``KeyboardInterrupt`` that lands in
the middle of restoring is held back until every entry is undone, then
re-raised. So a Ctrl-C at any instant of ``profile`` leaves nothing behind.

One profiling session runs at a time in the process (:func:`session`); the
thread that owns it is the only one whose work is observed (wrappers check
:func:`observing`), so other threads run unharmed and uncounted. A second
session from another thread waits for the first; a nested one in the same
thread raises.
"""
from __future__ import annotations

import contextlib
import gc
import os
import operator
import threading
from typing import Any, Callable

from ..errors import ProfilingBusy

_MISSING = object()


class Patches:
    """An undo log of changes to process state."""

    def __init__(self):
        self._undo: list[Callable[[], None]] = []
        self.notes: list[str] = []    # what restoring found and put right, for the result

    def setattr(self, obj: Any, name: str, value: Any) -> None:
        """``setattr(obj, name, value)``, undone by putting back what was there
        (or deleting the attribute if it lived only on a base class)."""
        old = obj.__dict__.get(name, _MISSING) if hasattr(obj, "__dict__") else getattr(obj, name, _MISSING)

        def undo():
            if old is _MISSING:
                if name in getattr(obj, "__dict__", {}):
                    delattr(obj, name)
            elif getattr(obj, "__dict__", {}).get(name, _MISSING) is not old:
                setattr(obj, name, old)

        self._undo.append(undo)
        setattr(obj, name, value)

    def setitem(self, mapping: dict, key: Any, value: Any) -> None:
        """``mapping[key] = value`` (a module attribute is its dict entry)."""
        old = mapping.get(key, _MISSING)

        def undo():
            if old is _MISSING:
                mapping.pop(key, None)
            else:
                mapping[key] = old

        self._undo.append(undo)
        mapping[key] = value

    def swap_module_entries(self, groups: list) -> None:
        """``groups``: ``[(mapping, plan)]``, a plan being a :class:`SwapPlan`
        or ``{key: (expected, replacement)}``; every entry that still holds
        ``expected`` (by identity) is replaced, one ``dict.update`` per
        mapping, and all of it is one log entry. Undone entry by entry where
        our replacement is still in place."""
        done: list = []

        def undo():
            while done:
                mapping, plan = done[-1]
                plan.undo(mapping)
                done.pop()

        self._undo.append(undo)
        for mapping, plan in groups:
            if not isinstance(plan, SwapPlan):
                plan = SwapPlan(plan)
            applied = plan.apply(mapping)
            if applied is not None:
                done.append((mapping, applied))

    def on_restore(self, undo: Callable[[], None]) -> None:
        """Log an action to run when restoring (after later entries)."""
        self._undo.append(undo)

    def restore(self) -> None:
        """Undo everything logged; an undo that raises does not stop the
        others, and its error (or a held-back KeyboardInterrupt) is raised
        once all are done."""
        interrupted: BaseException | None = None
        failed: Exception | None = None
        while True:
            try:
                while self._undo:
                    self._undo[-1]()
                    self._undo.pop()
                break
            except KeyboardInterrupt as exc:  # finish restoring, then re-raise
                interrupted = exc
            except Exception as exc:  # noqa: BLE001 - raised below
                self._undo.pop()
                failed = failed or exc
        if interrupted is not None:
            raise interrupted
        if failed is not None:
            raise failed

    def __len__(self) -> int:
        return len(self._undo)


class SwapPlan:
    """Replacements for entries of one mapping, ``{key: (expected,
    replacement)}``, prepared once so that applying and undoing it on an
    unchanged mapping are C loops and one ``dict.update`` (op wrappers swap
    thousands of module entries per profile)."""

    __slots__ = ("keys", "expected", "replacements", "originals")

    def __init__(self, plan: dict):
        self.keys = tuple(plan)
        self.expected = tuple(old for old, _ in plan.values())
        self.replacements = {k: new for k, (_, new) in plan.items()}
        self.originals = dict(zip(self.keys, self.expected))

    def apply(self, mapping: dict) -> "SwapPlan | None":
        """Swap what still holds its expected object; returns the plan of
        what was swapped (None if nothing)."""
        if all(map(operator.is_, map(mapping.get, self.keys), self.expected)):
            mapping.update(self.replacements)
            return self
        held = {k: (old, self.replacements[k]) for k, old in self.originals.items() if mapping.get(k, _MISSING) is old}
        if not held:
            return None
        plan = SwapPlan(held)
        mapping.update(plan.replacements)
        return plan

    def undo(self, mapping: dict) -> None:
        """Put back the originals where our replacement is still in place."""
        news = self.replacements
        if all(map(operator.is_, map(mapping.get, self.keys), news.values())):
            mapping.update(self.originals)
            return
        for k, old in self.originals.items():
            if mapping.get(k, _MISSING) is news[k]:
                mapping[k] = old


# --------------------------------------------------------------------------
# the profiling session: one at a time, owned by one thread
# --------------------------------------------------------------------------

_LOCK = threading.Lock()


class _Owner:
    thread: int | None = None   # ident of the thread that is profiling
    patches: "Patches | None" = None   # its session's log


OWNER = _Owner()


def observing() -> bool:
    """Is the calling thread the one being profiled?"""
    return OWNER.thread == threading.get_ident()


@contextlib.contextmanager
def session():
    """Own the process-wide profiling session for the calling thread; yields a
    :class:`Patches` log that is restored (completely) on exit."""
    me = threading.get_ident()
    if OWNER.thread == me:
        raise ProfilingBusy("profile() was called while this thread is already inside profile() "
                            "(e.g. from a model's forward or a custom handler); nested profiling "
                            "is not supported")
    patches = Patches()
    held = [False]

    def release():
        if held[0]:
            held[0] = False
            _LOCK.release()

    try:
        patches.on_restore(release)
        _LOCK.acquire()  # another thread's profile: wait for it to finish
        held[0] = True
        patches.on_restore(_clear_owner)
        OWNER.thread = me
        OWNER.patches = patches
        yield patches
    finally:
        patches.restore()


@contextlib.contextmanager
def gc_paused():
    """Python's cyclic garbage collector off for the block (``profile`` as a
    whole: observing, restoring and building the result allocate many small
    objects, and a collection over Paddle's heap costs more than a small
    model's forward), back on after it, through an undo log like every other
    change."""
    log = Patches()
    try:
        if gc.isenabled():
            log.on_restore(gc.enable)
            gc.disable()
        yield
    finally:
        log.restore()


def _clear_owner() -> None:
    OWNER.thread, OWNER.patches = None, None


def _after_fork_in_child() -> None:
    """A child forked while another thread profiled holds a copy of that
    session - patched Paddle, a guarded model - but not the thread that
    would end it: undo it, so the child starts as if no profile ran. (A
    fork from the profiling thread itself goes on inside its session.)"""
    global _LOCK
    if OWNER.thread is None or OWNER.thread == threading.get_ident():
        return
    patches = OWNER.patches
    OWNER.thread, OWNER.patches = None, None
    if patches is not None:
        try:
            patches.restore()
        except BaseException:  # noqa: BLE001 - the child starts clean whatever the old session's undo said
            pass
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
