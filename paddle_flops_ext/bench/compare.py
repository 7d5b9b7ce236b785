"""``pfe.compare([...])`` and ``paddle-flops compare``: several models in one
table, one row each (:class:`~paddle_flops_ext.report.comparison.Comparison`).

Each model is named as everywhere else (a zoo name, ``module:callable``,
``path/to/file.py:callable``, a saved model) and counted by ``profile`` at its
own inputs: the ones given for it, else the ones given for all, else a zoo
model's defaults (images of its side, 128 token ids), else one 1x3x224x224
image. With ``latency=True`` each model's eager forward is also timed by the
bench harness (:func:`.timing.time_interleaved`: warm-up, then timed until the
median's 95 % interval is within 2 % or the time budget is spent) and the row
carries the median and its interval. This lives in the bench layer because it
measures; the table itself is the report layer's.
"""
from __future__ import annotations

from ..models.zoo import ZOO, InputShape
from ..quiet import quiet
from ..report.comparison import ComparedModel, Comparison
from .timing import Adaptive, time_interleaved
from .zoo import NamedModel, build_named

BUSY_PARALLELISM = 0.5    # process CPU seconds per wall second below this: the machine was too busy


def as_inputs(value) -> list[InputShape] | None:
    """Inputs as given from Python: one shape ``[1, 3, 224, 224]``, several
    ``[[1, 3, 224, 224], [1, 16]]``, :class:`InputShape` objects or
    ``(shape, dtype)`` pairs; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, InputShape):
        return [value]
    items = list(value)
    if items and all(isinstance(d, int) for d in items):
        return [InputShape(tuple(items))]
    out = []
    for item in items:
        if isinstance(item, InputShape):
            out.append(item)
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], str):
            out.append(InputShape(tuple(item[0]), item[1]))
        elif isinstance(item, (list, tuple)) and all(isinstance(d, int) for d in item):
            out.append(InputShape(tuple(item)))
        else:
            raise ValueError(f"inputs: {item!r} is not a shape, (shape, dtype) or InputShape")
    return out


def describe_inputs(inputs: list[InputShape] | None, saved_shapes=None) -> str:
    """'1x3x224x224', '1x3x224x224 + 1x16 int64'."""
    if inputs is None:
        return " + ".join("x".join(str(d) for d in s) for s in (saved_shapes or [])) or "saved shapes"
    return " + ".join("x".join(map(str, s.shape)) + ("" if s.dtype == "float32" else f" {s.dtype}")
                      for s in inputs)


def _count(named: NamedModel, mode: str):
    import paddle  # local: Paddle is imported on the first comparison, not with the package
    from ..api import profile  # local: keeps Paddle out of paddle-flops --help
    if named.saved:
        return profile(named.model, None if named.inputs is None else [list(s.shape) for s in named.inputs],
                       mode=mode)
    specs = [paddle.static.InputSpec(list(s.shape), s.dtype) for s in named.inputs]
    return profile(named.model, input_spec=specs, mode=mode)


def _time(named: NamedModel, budget_s: float):
    """The bench harness's measurement of one eager forward."""
    import paddle  # local: as above
    from ..collect.inputs import synthesize  # local: as above
    tensors = [synthesize(list(s.shape), s.dtype, named.model, i) for i, s in enumerate(named.inputs)]
    named.model.eval()
    rule = Adaptive(min_repeats=10, max_repeats=500, budget_s=budget_s)

    def forward():
        with paddle.no_grad():
            named.model(*tensors)
    return time_interleaved({named.spec: forward}, warmup=2, rule=rule)[named.spec]


def compare(models, inputs=None, *, latency: bool = False, budget_s: float = 2.0, mode: str = "auto",
            language_model: bool | None = None, verbose: bool = False) -> Comparison:
    """One row per model of ``models``: parameters (and trainable), MACs,
    FLOPs, the paddle.flops-convention figure, inference memory and, with
    ``latency=True``, the median eager latency and its 95 % interval
    (at most ``budget_s`` timed seconds per model).

    ``models``: names as the CLI takes them (zoo names, ``module:callable``,
    ``file.py:callable``, saved models), or ``(name, inputs)`` pairs (the same
    model at two sizes is two pairs). ``inputs``: for every model (a shape,
    several shapes, ``(shape, dtype)`` pairs), or a dict ``{name: inputs}``
    for some. ``language_model``: parameters in M/B (default: when every
    model is one of the zoo's language models). Paddle's own output is kept
    off the terminal unless ``verbose``. Raises ``ValueError`` naming a model
    that cannot be built or counted."""
    if isinstance(models, str):
        models = [models]
    if not models:
        raise ValueError("compare: give at least one model")
    pairs = [item if isinstance(item, tuple) else (item, None) for item in models]
    names = [spec for spec, _ in pairs]
    per_model = inputs if isinstance(inputs, dict) else {}
    unknown = set(per_model) - set(names)
    if unknown:
        raise ValueError(f"inputs given for {', '.join(sorted(unknown))}, which is not among the models")
    shared = None if isinstance(inputs, dict) else as_inputs(inputs)
    rows, notes = [], []
    for spec, own in pairs:
        given = as_inputs(own) if own is not None else as_inputs(per_model[spec]) if spec in per_model else shared
        with quiet(not verbose):
            named = build_named(spec, given)
            result = _count(named, mode)
            measured = _time(named, budget_s) if latency and not named.saved else None
        rows.append(_row(named, result, measured, notes))
    if language_model is None:
        language_model = all(m in ZOO and ZOO[m].kind == "llm" for m in names)
    return Comparison(rows, notes, language_model)


def _row(named: NamedModel, result, measured, notes: list) -> ComparedModel:
    memory = result.memory
    row = ComparedModel(
        model=named.spec, inputs=describe_inputs(named.inputs, result.inputs), params=result.params,
        trainable_params=result.trainable_params, macs=result.macs, flops=result.flops,
        paddle_flops=result.paddle_flops, memory=memory["peak"] if memory else None,
        inexact=list(result.inexact))
    if result.uncounted:
        notes.append(f"{named.spec}: ran with no counting formula (counted as 0): "
                     + ", ".join(f"{u['name']} x{u['calls']}" for u in result.uncounted))
    if named.saved and measured is None:
        notes.append(f"{named.spec}: a saved model is counted, not timed")
    if measured is not None:
        if measured.stats is None:
            notes.append(f"{named.spec}: timing failed: {measured.error}")
        else:
            st = measured.stats
            row.latency_s, row.ci_low_s, row.ci_high_s = st.median, st.ci_low, st.ci_high
            row.timed_runs, row.converged = st.n, bool(st.converged)
            if measured.parallelism is not None and measured.parallelism < BUSY_PARALLELISM:
                notes.append(f"{named.spec}: the machine was too busy to trust this timing (CPU/wall "
                             f"{measured.parallelism:.2f}: the process was off the CPU most of the time)")
    return row
