"""Turning ``input_size`` / ``inputs`` / ``input_spec`` into call arguments,
with errors that say what is wrong."""
from __future__ import annotations

import numbers

import numpy as np
import paddle

_INT_DTYPES = {"int8", "int16", "int32", "int64", "uint8"}


def _check_size(size, what="input_size") -> list[int]:
    if isinstance(size, (str, bytes)) or not hasattr(size, "__iter__"):
        raise TypeError(f"{what} must be a list of positive ints such as [1, 3, 224, 224], got {size!r}")
    dims = list(size)
    if not dims:
        raise ValueError(f"{what} is empty; give the full input shape, e.g. [1, 3, 224, 224]")
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral):
            raise TypeError(f"{what} must contain ints, got {d!r} in {dims}")
        if d <= 0:
            raise ValueError(f"{what} has a non-positive dimension {d} in {dims}; every dimension must be >= 1")
    return [int(d) for d in dims]


def _dtype_name(dtype) -> str:
    s = str(dtype).lower()
    for prefix in ("paddle.", "vartype.", "datatype."):
        s = s.replace(prefix, "")
    return {"float": "float32", "double": "float64", "int": "int32", "long": "int64", "bool_": "bool"}.get(s, s)


def _smallest_vocab(model) -> int:
    sizes = [getattr(l, "_num_embeddings", None) for l in model.sublayers(include_self=True)]
    sizes = [int(s) for s in sizes if isinstance(s, numbers.Integral) and s > 0]
    return min(sizes) if sizes else 2


def synthesize(shape, dtype, model):
    """A random tensor of ``shape``; integer dtypes get small valid indices."""
    name = _dtype_name(dtype)
    if name in _INT_DTYPES:
        high = max(1, min(_smallest_vocab(model), 2 if name == "uint8" else 1 << 30))
        return paddle.to_tensor(np.random.randint(0, high, size=shape).astype(name))
    if name == "bool":
        return paddle.to_tensor(np.random.randint(0, 2, size=shape).astype(bool))
    # uniform in [-1, 1): as good as a normal sample for counting, and half the
    # cost of paddle.randn, which shows on small models
    return paddle.uniform(shape, dtype=name, min=-1.0, max=1.0)


def build_call_args(model, input_size=None, inputs=None, input_spec=None, make_input=None, convert_tensor=None):
    """Returns ``(args, kwargs)`` for ``model(*args, **kwargs)``.

    ``make_input(shape, dtype)`` builds an input from a shape (default: a
    random tensor); ``convert_tensor(t)`` maps a user-given tensor or array
    (default: kept as a tensor). The trace engine passes placeholders for both.
    """
    if make_input is None:
        def make_input(shape, dtype):
            return synthesize(shape, dtype, model)
    if convert_tensor is None:
        convert_tensor = _to_tensor
    given = [n for n, v in (("input_size", input_size), ("inputs", inputs), ("input_spec", input_spec)) if v is not None]
    if len(given) > 1:
        raise ValueError(f"give only one of input_size, inputs, input_spec (got {', '.join(given)})")
    if not given:
        raise ValueError("profile needs the model's input: input_size=[1, 3, 224, 224], "
                         "inputs=(tensor, ...) or input_spec=[InputSpec(...)]")
    if input_size is not None:
        if isinstance(input_size, (list, tuple)) and input_size and all(
                isinstance(s, (list, tuple)) for s in input_size):
            return tuple(make_input(_check_size(s, f"input_size[{i}]"), "float32")
                         for i, s in enumerate(input_size)), {}
        return (make_input(_check_size(input_size), "float32"),), {}
    if inputs is not None:
        def conv(v, what):
            return _as_input(v, what, convert_tensor)
        if isinstance(inputs, dict):
            return (), {k: conv(v, f"inputs[{k!r}]") for k, v in inputs.items()}
        if isinstance(inputs, (list, tuple)):
            if not inputs:
                raise ValueError("inputs is empty; pass the tensors the model's forward takes")
            return tuple(conv(v, f"inputs[{i}]") for i, v in enumerate(inputs)), {}
        return (conv(inputs, "inputs"),), {}
    specs = input_spec if isinstance(input_spec, (list, tuple)) else [input_spec]
    if not specs:
        raise ValueError("input_spec is empty")
    args = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, paddle.static.InputSpec):
            raise TypeError(f"input_spec[{i}] must be a paddle.static.InputSpec, got {type(spec).__name__}")
        shape = [1 if (d is None or d < 0) else int(d) for d in spec.shape]
        args.append(make_input(_check_size(shape, f"input_spec[{i}].shape"), spec.dtype))
    return tuple(args), {}


def _to_tensor(value):
    return value if isinstance(value, paddle.Tensor) else paddle.to_tensor(value)


def _as_input(value, what, convert_tensor):
    if isinstance(value, (paddle.Tensor, np.ndarray)):
        return convert_tensor(value)
    if value is None or isinstance(value, (list, tuple, dict, numbers.Number, str)):
        return value  # passed through unchanged: forward may take non-tensor args
    raise TypeError(f"{what} must be a paddle.Tensor or numpy array, got {type(value).__name__}")
