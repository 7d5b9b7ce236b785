"""Keeping Paddle's own chatter out of the user's terminal.

Paddle talks on three channels: Python warnings raised from ``paddle.*``
modules (the "No ccache found" ``UserWarning`` on every import, to_static
warnings), glog lines written by C++ to file descriptor 2 (their level is read
from ``GLOG_minloglevel`` when Paddle's core library loads), and plain C++
prints to file descriptor 1 (oneDNN's ``ReduceMeanCheckIfOneDNNSupport``).

``with quiet():`` silences all three for the duration of the block and puts
everything back afterwards, also when the block raises::

    with quiet() as q:
        result = profile(net, [1, 3, 224, 224])
    print(result)           # printed after the block: the terminal is back
    q.output                # what Paddle (and anything else) wrote meanwhile

``quiet(enabled=False)`` does nothing, so callers can write
``with quiet(not args.verbose):``.

``with glog_dropped():`` is narrower, for library code a user calls from
Python: only the glog INFO/WARNING lines written to file descriptor 2 inside
the block are dropped (Paddle's "PIR not support input out tensor" warning
while tracing); anything else written to stderr meanwhile is passed on when
the block ends.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

# Level 2 keeps glog's ERROR and FATAL lines, drops INFO and WARNING.
GLOG_QUIET_LEVEL = "2"
PADDLE_MODULES = r"paddle(\..*)?$"
CCACHE_WARNING = r"No ccache found"

# "W1208 00:11:41.519250 16925 eager_utils.cc:3584] ..." (glog's INFO and WARNING lines)
GLOG_NOTICE = re.compile(r"^[IW]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [^ \]]+:\d+\] ")

_active_depth = 0


@dataclass
class Captured:
    """What was written to file descriptors 1 and 2 inside a ``quiet`` block;
    filled in when the block ends."""
    output: str = ""


def _silence_python_warnings() -> None:
    """Inside a ``warnings.catch_warnings()`` block: drop warnings raised by
    Paddle's modules, and the ccache warning wherever it is attributed."""
    warnings.filterwarnings("ignore", module=PADDLE_MODULES)
    warnings.filterwarnings("ignore", message=CCACHE_WARNING)


@contextmanager
def _environment(name: str, value: str):
    """``os.environ[name] = value`` unless the user set it; restored after."""
    user_value = os.environ.get(name)
    if user_value is None:
        os.environ[name] = value
    try:
        yield
    finally:
        if user_value is None:
            os.environ.pop(name, None)


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass


@contextmanager
def _redirect_fds(captured: Captured, fds=(1, 2)):
    """Point ``fds`` at one temporary file (C++ prints and glog included);
    the original descriptors are restored in a ``finally``."""
    global _active_depth
    _flush_python_streams()
    with tempfile.TemporaryFile() as sink:
        saved = {fd: os.dup(fd) for fd in fds}
        try:
            for fd in fds:
                os.dup2(sink.fileno(), fd)
            _active_depth += 1
            yield
        finally:
            _active_depth -= 1
            _flush_python_streams()
            for fd, original in saved.items():
                os.dup2(original, fd)
                os.close(original)
            sink.seek(0)
            captured.output = sink.read().decode("utf-8", errors="replace")
            if _active_depth and captured.output:
                # nested: the enclosing block's sink gets what this one held
                os.write(2, captured.output.encode("utf-8"))


@contextmanager
def quiet(enabled: bool = True):
    """Silence Paddle's warnings, glog lines and C++ prints inside the block.

    Yields a :class:`Captured` whose ``output`` holds what was written to
    stdout/stderr during the block (available once the block has ended).
    ``enabled=False`` changes nothing and yields an empty ``Captured``.
    """
    captured = Captured()
    if not enabled:
        yield captured
        return
    with warnings.catch_warnings(), _environment("GLOG_minloglevel", GLOG_QUIET_LEVEL), \
            _redirect_fds(captured):
        _silence_python_warnings()
        yield captured


def import_paddle_quietly():
    """``import paddle`` without the ccache ``UserWarning`` (and with glog's
    INFO/WARNING lines off if Paddle's core loads now); returns the module."""
    with warnings.catch_warnings(), _environment("GLOG_minloglevel", GLOG_QUIET_LEVEL):
        _silence_python_warnings()
        import paddle  # local: this function is the one place Paddle is first imported
    return paddle


@contextmanager
def glog_dropped():
    """Inside the block, glog INFO/WARNING lines on file descriptor 2 are
    dropped; what else reached stderr is written to it when the block ends
    (also when it raises)."""
    _flush_python_streams()
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        try:
            os.dup2(sink.fileno(), 2)
            yield
        finally:
            _flush_python_streams()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", errors="replace")
            kept = "".join(line for line in text.splitlines(keepends=True) if not GLOG_NOTICE.match(line))
            if kept:
                os.write(2, kept.encode("utf-8"))
