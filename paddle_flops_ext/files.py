"""Writing result files: each one whole or not at all, and file names built
from user text checked once.

A kill while a result is written leaves the previous file (or none), never
half of one: text goes to a temporary file in the same folder, which is then
renamed over the target (``os.replace`` is atomic on one file system).
"""
from __future__ import annotations

import os
import re
import tempfile

_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


def check_stem(stem: str, flag: str) -> str:
    """A file name stem made of letters, digits, ``_``, ``-`` and ``.`` -
    no folder, no ``..``; else ``ValueError`` naming ``flag``."""
    if not isinstance(stem, str) or not _STEM.fullmatch(stem) or ".." in stem:
        raise ValueError(f"{flag}: a file name stem of letters, digits, '_', '-', '.' (no directories, "
                         f"no '..'); got {stem!r}")
    return stem


def write_text(path: str, text: str, newline: str | None = None) -> None:
    """``text`` to ``path``, atomically."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def output_problem(path: str) -> str | None:
    """Why a report could not be written to ``path`` (checked before any
    work), or None."""
    if os.path.isdir(path):
        return f"{path!r} is a folder; give a file name"
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return f"folder {folder!r} does not exist; create it or pick another FILE"
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        return f"{path!r} cannot be written (permission denied)"
    return None
