"""Every exception the package raises on purpose.

Each derives from :class:`PaddleFlopsError` (``except pfe.PaddleFlopsError``
catches them all) and also from the built-in it has always been (a
``ValueError``, ``TypeError`` or ``RuntimeError``), so existing ``except``
clauses keep catching it. This module imports nothing: every layer may raise
these.
"""
from __future__ import annotations


class PaddleFlopsError(Exception):
    """Base of every exception paddle_flops_ext raises on purpose."""


class DuplicateFormula(PaddleFlopsError, ValueError):
    """Two built-in formulas claim the same layer type or operation name."""


class HandlerError(PaddleFlopsError, RuntimeError):
    """A user handler raised or returned something that is not a count."""


class ForwardError(PaddleFlopsError, ValueError):
    """The model's forward raised while being profiled. ``layer_path``,
    ``layer_type`` and ``input_shapes`` describe the innermost layer call in
    progress (None / [] if no layer had started); ``cause`` is the original
    exception."""

    def __init__(self, message: str, layer_path: str | None = None, layer_type: str | None = None,
                 input_shapes: list | None = None, cause: BaseException | None = None):
        super().__init__(message)
        self.layer_path, self.layer_type = layer_path, layer_type
        self.input_shapes = input_shapes or []
        self.cause = cause


class ModelChanged(PaddleFlopsError, RuntimeError):
    """The forward wrote a trainable parameter in place."""


class ProfilingBusy(PaddleFlopsError, RuntimeError):
    """profile() was called from inside a profile() of the same thread."""


class TraceError(PaddleFlopsError, RuntimeError):
    """The model could not be traced into a static program."""


class StrictError(PaddleFlopsError, RuntimeError):
    """``strict=True`` and the counts are not exact, or some work ran with no
    counting formula."""


class UsageError(PaddleFlopsError, ValueError):
    """A mistake on the command line: the message names the flag and the fix."""

    def __init__(self, flag: str, message: str):
        super().__init__(f"{flag}: {message}")


class ConfigError(PaddleFlopsError, ValueError):
    """A benchmark configuration that cannot be run as given."""
