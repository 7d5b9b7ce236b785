"""Turning ``input_size`` / ``inputs`` / ``input_spec`` into call arguments,
with errors that say what is wrong.

``inputs`` may hold, besides tensors, arrays and plain values, a KV-cache
object (one with a ``get_seq_length`` method, as PaddleFormers' and
Hugging Face's ``DynamicCache`` and their per-layer entries): it is copied,
its tensors converted like any input (cloned in eager mode, placeholders of
their shape in trace mode), so the forward call updates the copy and the
caller's cache is left as it was."""
from __future__ import annotations

import copy
import functools
import itertools
import math
import numbers
import os

import numpy as np
import paddle

_INT_DTYPES = {"int8", "int16", "int32", "int64", "uint8"}
_FLOAT_DTYPES = {"float16", "bfloat16", "float32", "float64"}
_MAX_ELEMENTS = 2 ** 63 - 1   # Paddle's int64 sizes


def check_size(size, what="input_size") -> list[int]:
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
    total = 1
    for d in dims:
        total *= int(d)
    if total > _MAX_ELEMENTS:
        raise ValueError(f"{what} {dims} has {total:,} elements, more than a tensor can hold (2**63 - 1)")
    return [int(d) for d in dims]


# bytes per element, by dtype_name()
DTYPE_BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "int16": 2,
               "int8": 1, "uint8": 1, "bool": 1, "complex64": 8, "complex128": 16,
               "float8_e4m3fn": 1, "float8_e5m2": 1}
FLOAT_DTYPES = ("float64", "float32", "float16", "bfloat16")


def dtype_name(dtype) -> str:
    s = str(dtype).lower()
    for prefix in ("paddle.", "vartype.", "datatype."):
        s = s.replace(prefix, "")
    return {"float": "float32", "double": "float64", "half": "float16", "int": "int32", "long": "int64",
            "bool_": "bool"}.get(s, s)


def _smallest_vocab(model) -> int:
    sizes = [getattr(l, "_num_embeddings", None) for l in model.sublayers(include_self=True)]
    sizes = [int(s) for s in sizes if isinstance(s, numbers.Integral) and s > 0]
    return min(sizes) if sizes else 2


def model_float_dtype(model) -> str:
    """The dtype of the model's first floating-point parameter (float32 if
    it has none): what ``input_size`` inputs are made of."""
    for _, p in model.named_parameters():  # a generator: stops at the first float one
        if dtype_name(p.dtype) in _FLOAT_DTYPES:
            return dtype_name(p.dtype)
    return "float32"


def available_memory() -> int | None:
    """Bytes the OS says are available (Linux ``MemAvailable``), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(shapes_and_dtypes, what="the input") -> None:
    """Refuse eager inputs that cannot be allocated, pointing to trace mode."""
    need = sum(math.prod(shape) * np.dtype(_NUMPY_DTYPE.get(dt, dt)).itemsize for shape, dt in shapes_and_dtypes)
    if need <= _ALWAYS_FITS:   # not worth a read of /proc/meminfo on every profile
        return
    free = available_memory()
    if free is not None and need > free:
        raise ValueError(f"{what} alone needs {need / 2**30:,.1f} GiB and only {free / 2**30:,.1f} GiB of memory "
                         f"is available; count this model without running it with mode='trace'")


_NUMPY_DTYPE = {"bfloat16": "uint16"}   # same width; numpy has no bfloat16
_ALWAYS_FITS = 16 << 20   # bytes: an input this small is not what runs a machine out of memory


def synthesize(shape, dtype, model, index: int = 0):
    """A random tensor of ``shape`` for a model's ``index``-th input, from a
    private generator seeded with ``index`` (the global RNGs are not
    touched; the same call gives the same values); integer dtypes get small
    valid indices."""
    name = dtype_name(dtype)
    if name in _INT_DTYPES:
        rng = np.random.default_rng(index)
        high = max(1, min(_smallest_vocab(model), 2 if name == "uint8" else 1 << 30))
        return paddle.to_tensor(rng.integers(0, high, size=shape).astype(name))
    if name == "bool":
        return paddle.to_tensor(np.random.default_rng(index).integers(0, 2, size=shape).astype(bool))
    tensor = paddle.to_tensor(_uniform(tuple(shape), index))
    return tensor if name == "float32" else tensor.astype(name)


_CACHED_VALUES_BYTES = 2 << 20   # inputs up to 2 MiB (3x384x384 float32) are kept between profiles,
                                 # four of them at most: 8 MiB held at worst


def _uniform(shape: tuple, index: int) -> np.ndarray:
    """Uniform float32 values in [-1, 1) (as good as a normal sample for
    counting). Deterministic, so small inputs are drawn once and reused
    read-only: profiling the same size again (a sweep over models) skips
    the draw; the tensor made from them is always a fresh copy."""
    if math.prod(shape) * 4 > _CACHED_VALUES_BYTES:
        return _draw_uniform(shape, index)
    return _cached_uniform(shape, index)


def _draw_uniform(shape: tuple, index: int) -> np.ndarray:
    values = np.random.default_rng(index).random(size=shape, dtype=np.float32)
    values *= 2     # in place: no temporaries for a large input
    values -= 1
    return values


@functools.lru_cache(maxsize=4)
def _cached_uniform(shape: tuple, index: int) -> np.ndarray:
    values = _draw_uniform(shape, index)
    values.flags.writeable = False
    return values


def build_call_args(model, input_size=None, inputs=None, input_spec=None, make_input=None, convert_tensor=None,
                    dtype=None):
    """Returns ``(args, kwargs)`` for ``model(*args, **kwargs)``.

    ``make_input(shape, dtype)`` builds an input from a shape (default: a
    random tensor that must fit in memory); ``convert_tensor(t)`` maps a
    user-given tensor or array (default: kept as a tensor; a cache object's
    tensors are cloned). The trace engine
    passes placeholders for both. ``dtype``: of ``input_size`` inputs
    (default: the model's parameter dtype).
    """
    float_dtype = dtype_name(dtype) if dtype is not None else model_float_dtype(model)
    if make_input is None:
        made = itertools.count()

        def make_input(shape, dt):
            check_fits([(shape, dtype_name(dt))])
            return synthesize(shape, dt, model, next(made))
    if convert_tensor is None:
        def convert(t, in_cache):
            return _cache_tensor(t) if in_cache else _to_tensor(t)
    else:
        def convert(t, in_cache):
            return convert_tensor(t)
    given = [n for n, v in (("input_size", input_size), ("inputs", inputs), ("input_spec", input_spec)) if v is not None]
    if len(given) > 1:
        raise ValueError(f"give only one of input_size, inputs, input_spec (got {', '.join(given)})")
    if not given:
        raise ValueError("profile needs the model's input: input_size=[1, 3, 224, 224], "
                         "inputs=(tensor, ...) or input_spec=[InputSpec(...)]")
    if input_size is not None:
        if isinstance(input_size, (list, tuple)) and input_size and all(
                isinstance(s, (list, tuple)) for s in input_size):
            shapes = [check_size(s, f"input_size[{i}]") for i, s in enumerate(input_size)]
            return tuple(make_input(s, float_dtype) for s in shapes), {}
        return (make_input(check_size(input_size), float_dtype),), {}
    if inputs is not None:
        def conv(v, what):
            return _as_input(v, what, convert)
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
        args.append(make_input(check_size(shape, f"input_spec[{i}].shape"), spec.dtype))
    return tuple(args), {}


def _to_tensor(value):
    return value if isinstance(value, paddle.Tensor) else paddle.to_tensor(value)


def _cache_tensor(value):
    """A cache's tensor for an eager run: a copy, so a cache that writes in
    place cannot change the caller's."""
    return value.clone() if isinstance(value, paddle.Tensor) else paddle.to_tensor(value)


def is_cache(value) -> bool:
    """A KV-cache object (or one layer of it): anything with a
    ``get_seq_length`` method that is not a Layer."""
    return callable(getattr(value, "get_seq_length", None)) and not isinstance(value, paddle.nn.Layer)


def map_inputs(value, leaf, is_leaf):
    """``value`` rebuilt with ``leaf(x)`` for every ``x`` where ``is_leaf(x)``,
    through dicts, lists, tuples and cache objects (copied, each attribute
    mapped; the original is not touched); anything else is kept."""
    if is_leaf(value):
        return leaf(value)
    if isinstance(value, dict):
        return {k: map_inputs(v, leaf, is_leaf) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(map_inputs(v, leaf, is_leaf) for v in value)
    if is_cache(value):
        twin = copy.copy(value)
        for name, attr in vars(value).items():
            setattr(twin, name, map_inputs(attr, leaf, is_leaf))
        return twin
    return value


def input_leaves(value, is_leaf) -> list:
    """Every ``x`` with ``is_leaf(x)`` in a nested value, in order (through
    the same containers as :func:`map_inputs`)."""
    found = []

    def keep(x):
        found.append(x)
        return x
    map_inputs(value, keep, is_leaf)
    return found


def _is_array(value) -> bool:
    return isinstance(value, (paddle.Tensor, np.ndarray))


def _as_input(value, what, convert_tensor):
    if _is_array(value):
        return convert_tensor(value, False)
    if isinstance(value, dict):  # e.g. PaddleDetection's {"image": ..., "im_shape": ...}
        return {k: _as_input(v, f"{what}[{k!r}]", convert_tensor) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_as_input(v, f"{what}[{i}]", convert_tensor) for i, v in enumerate(value))
    if is_cache(value):  # e.g. a DynamicCache: its tensors are inputs, its other state is kept
        return map_inputs(value, lambda t: convert_tensor(t, True), _is_array)
    if value is None or isinstance(value, (numbers.Number, str)):
        return value  # passed through unchanged: forward may take non-tensor args
    raise TypeError(f"{what} must be a paddle.Tensor, a numpy array or a KV-cache object (one with "
                    f"get_seq_length, such as DynamicCache), got {type(value).__name__}")
