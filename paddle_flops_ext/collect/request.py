"""What one ``profile`` call asks for, checked once and handed to every engine.

:class:`ProfileRequest` carries the input (one of ``input_size``, ``inputs``,
``input_spec``), the counting options and the training-step options.
``ProfileRequest.build`` validates the user's arguments; engines read the
fields they need once, before the forward (the per-layer hot path sees
plain values).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import paddle

from ..formulas import registry
from .inputs import FLOAT_DTYPES, dtype_name

MODES = ("auto", "eager", "trace")
CAUSAL = ("full", "half")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
AMP_LEVELS = (None, False, True, "O1", "O2")
# optimizer class name (lower case) -> the update formula that prices its step
OPTIMIZER_CLASSES = {"sgd": "sgd", "momentum": "momentum", "adam": "adam", "adamw": "adamw", "lamb": "lamb",
                     "adamax": "adamax", "adagrad": "adagrad", "rmsprop": "rmsprop", "adadelta": "adadelta"}


def optimizer_name(optimizer) -> str | None:
    """``None`` / a name / a ``paddle.optimizer.Optimizer`` -> the update op's name."""
    if optimizer is None:
        return None
    if isinstance(optimizer, str):
        name = optimizer.lower()
        if name not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(map(repr, OPTIMIZERS))}, None or a "
                             f"paddle.optimizer.Optimizer, got {optimizer!r}")
        return name
    if isinstance(optimizer, paddle.optimizer.Optimizer):
        for base in type(optimizer).__mro__:
            name = OPTIMIZER_CLASSES.get(base.__name__.lower())
            if name:
                return name
        raise ValueError(f"no step formula for optimizer {type(optimizer).__name__}; use one of "
                         f"{', '.join(sorted(OPTIMIZER_CLASSES))}")
    raise TypeError(f"optimizer must be None, a name ({', '.join(OPTIMIZERS)}) or a "
                    f"paddle.optimizer.Optimizer, got {type(optimizer).__name__}")


def amp_level(amp) -> str | None:
    """``False``/``None`` -> None, ``True`` -> ``"O2"``, ``"O1"``/``"O2"`` as given."""
    if amp not in AMP_LEVELS:
        raise ValueError(f"amp must be False, True (= 'O2'), 'O1' or 'O2', got {amp!r}")
    return {True: "O2", False: None}.get(amp, amp)


def check_float_dtype(dtype) -> None:
    name = dtype_name(dtype)
    if name not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be a floating-point dtype for input_size inputs "
                         f"(float16, bfloat16, float32, float64), got {dtype!r}; give integer inputs "
                         f"with input_spec=[InputSpec(shape, 'int64')]")


@dataclass(frozen=True)
class ProfileRequest:
    """One profile's arguments, validated (see ``profile`` for their meaning).
    ``overrides`` are the user handlers of ``custom_ops``, resolved;
    ``optimizer`` is kept as given (a name or an Optimizer, whose parameter
    list decides what is trainable) and ``optimizer_name`` is its step
    formula; ``amp`` is normalised to None, ``"O1"`` or ``"O2"``."""
    input_size: Any = None
    inputs: Any = None
    input_spec: Any = None
    overrides: Mapping | None = None
    count_functional: bool = True
    strict: bool = False
    mode: str = "auto"
    time_layers: bool = False
    causal: str = "full"
    dtype: Any = None
    training: bool = False
    optimizer: Any = None
    optimizer_name: str | None = None
    amp: str | None = None

    @classmethod
    def build(cls, input_size=None, *, inputs=None, input_spec=None, custom_ops=None, count_functional=True,
              strict=False, mode="auto", time_layers=False, causal="full", dtype=None, training=False,
              optimizer=None, amp=False) -> "ProfileRequest":
        """Check ``profile``'s arguments; raises ``ValueError``/``TypeError``
        naming the argument before any work is done."""
        if causal not in CAUSAL:
            raise ValueError(f"causal must be 'full' or 'half', got {causal!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
        if dtype is not None:
            check_float_dtype(dtype)
        overrides = registry.user_layer_specs(custom_ops)
        if training:
            name, level = optimizer_name(optimizer), amp_level(amp)
        elif optimizer is not None or amp:
            raise ValueError("optimizer= and amp= describe a training step: pass training=True with them")
        else:
            name, level = None, None
        return cls(input_size=input_size, inputs=inputs, input_spec=input_spec, overrides=overrides,
                   count_functional=count_functional, strict=strict, mode=mode, time_layers=time_layers,
                   causal=causal, dtype=dtype, training=bool(training), optimizer=optimizer,
                   optimizer_name=name, amp=level)

    @property
    def options(self) -> dict:
        """The formula options this request sets."""
        return {"causal": self.causal}
