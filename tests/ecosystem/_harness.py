"""Shared machinery of the ecosystem tests: one ``Spec`` per real model, and the
checks each spec gets (see ``make_tests``).

Per model:
- ``test_params``: params / trainable / non-trainable == sums over ``parameters()``;
- ``test_macs``: MACs == our own Conv/Linear post-hooks + the hand-derived
  contractions the spec states (attention products, tied LM heads, deformable
  convs) - ``_expected.py``, independent of paddle_flops_ext;
- ``test_strict``: nothing ran without a formula (only for models without
  data-dependent post-processing, ``strict=True`` in the spec);
- ``test_eager_equals_trace``: ``mode="trace"`` gives the eager macs, flops and
  params (in a subprocess where trace is known to crash the interpreter);
- ``test_paddle_flops_parity``: under numpy < 2, where ``paddle.flops`` itself
  runs, ``pfe.flops`` == ``paddle.flops`` on models made only of layers
  ``paddle.flops`` counts (``paddle_parity=True``);
- ``test_published``: published model-zoo figures (params and the
  paddle.flops-convention FLOPs) within the rounding of the published digits.

Run as a script (``python _harness.py MODULE ID MODE``) it prints one model's
result as JSON; the subprocess trace check uses that.
"""
import dataclasses
import importlib
import json
import os
import subprocess
import sys
from typing import Any, Callable, Optional

import numpy as np
import paddle

import _expected

HERE = os.path.dirname(os.path.abspath(__file__))
NUMPY2 = int(np.__version__.split(".")[0]) >= 2


@dataclasses.dataclass
class Spec:
    id: str
    build: Callable[[], paddle.nn.Layer]
    inputs: Callable[[], tuple]          # -> (args tuple, kwargs dict), real tensors
    extra: Any = None                    # {LayerClass: fn(layer, inputs, output) -> MACs}, or a callable returning it
    extra_macs: Optional[Callable] = None  # fn(net, args, kwargs) -> hand-derived MACs added once
    strict: bool = True
    trace: str = "inproc"                # "inproc" | "subprocess" | "skip:<reason>"
    paddle_parity: bool = False
    published: Optional[dict] = None     # {"params": (n, tol), "flops": (n, tol), "note": str}: vs what paddle.flops prints
    published_xfail: bool = False        # kept for old specs: same as xfail={"published": ...}
    family: str = ""
    note: str = ""
    # known engine gaps, per check: {"trace" | "published" | "macs" | ...: reason}; each
    # becomes xfail(strict=True), so the check fails again once the gap is closed
    xfail: dict = dataclasses.field(default_factory=dict)

    def input_desc(self):
        args, kwargs = self.inputs()
        if args and isinstance(args[0], dict):  # one dict argument (PaddleDetection)
            args, kwargs = (), args[0]
        parts = [f"{list(a.shape)}{'' if a.dtype == paddle.float32 else ' ' + str(a.dtype).replace('paddle.', '')}"
                 for a in args if isinstance(a, paddle.Tensor)]
        parts += [f"{k}={list(v.shape)}" for k, v in kwargs.items() if isinstance(v, paddle.Tensor)]
        return ", ".join(parts)


def randn(*shape, seed=0):
    return paddle.to_tensor(np.random.RandomState(seed).standard_normal(shape).astype("float32"))


def ids(batch, seq, vocab, seed=0):
    return paddle.to_tensor(np.random.RandomState(seed).randint(1, vocab, size=(batch, seq)).astype("int64"))


def image(*shape):
    """``inputs`` callable for one float image tensor."""
    return lambda: ((randn(*shape),), {})


_cache = {}


class Model:
    """A built model with its inputs, its eager result and its expected figures (cached)."""

    def __init__(self, spec):
        self.spec = spec
        paddle.seed(0)
        np.random.seed(0)
        # legacy models name their parameters explicitly; a fresh name scope per
        # model lets several of them live in one process
        with paddle.utils.unique_name.guard():
            self.net = spec.build()
        self.net.eval()
        self.args, self.kwargs = spec.inputs()
        self._eager = None
        self._expected = None

    @property
    def eager(self):
        import paddle_flops_ext as pfe
        if self._eager is None:
            try:
                self._eager = pfe.profile(self.net, inputs=_call_inputs(self.args, self.kwargs), mode="eager")
            except Exception as exc:  # keep the failure: every check of this model reports it
                self._eager = exc
        if isinstance(self._eager, Exception):
            raise self._eager
        return self._eager

    @property
    def expected(self):
        if self._expected is None:
            total, trainable, frozen = _expected.count_params(self.net)
            extra = self.spec.extra() if callable(self.spec.extra) else self.spec.extra
            macs, kinds = _expected.expected_macs(self.net, self.args, self.kwargs, extra)
            if self.spec.extra_macs is not None:
                hand = int(self.spec.extra_macs(self.net, self.args, self.kwargs))
                macs += hand
                kinds = dict(kinds, hand_derived=hand)
            self._expected = dict(params=total, trainable=trainable, non_trainable=frozen,
                                  macs=macs, macs_by_kind=kinds)
        return self._expected


def _call_inputs(args, kwargs):
    if kwargs:
        if args:
            raise ValueError("give inputs either positionally or as keywords")
        return dict(kwargs)
    return tuple(args)


def get(spec) -> Model:
    key = (spec.family, spec.id)
    if key not in _cache:
        _cache[key] = Model(spec)
    return _cache[key]


def trace_profile(model):
    import paddle_flops_ext as pfe
    if model.kwargs:  # keyword inputs (T5's decoder_input_ids): give the tensors, traced by shape
        return pfe.profile(model.net, inputs=dict(model.kwargs), mode="trace")
    if any(isinstance(a, dict) for a in model.args):
        # a dict of tensors as one argument (PaddleDetection): input_spec takes
        # only flat InputSpecs, so give the tensors, traced by shape
        return pfe.profile(model.net, inputs=tuple(model.args), mode="trace")
    specs = [_spec(a, f"x{i}") for i, a in enumerate(model.args)]
    return pfe.profile(model.net, input_spec=specs, mode="trace")


def _spec(t, name):
    from paddle.static import InputSpec
    return InputSpec(list(t.shape), str(t.dtype).replace("paddle.", ""), name=name)


def summary(r):
    return dict(macs=int(r.macs), flops=int(r.flops), params=int(r.params),
                trainable=int(r.trainable_params), paddle_flops=int(r.paddle_flops))


def trace_in_subprocess(module, spec, timeout=600):
    """Trace ``spec`` of test module ``module`` in a fresh interpreter; a crash
    (SIGSEGV) fails this one check instead of the whole session."""
    cmd = [sys.executable, os.path.join(HERE, "_harness.py"), module, spec.id, "trace"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=HERE)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise AssertionError(f"trace of {spec.id} in a subprocess died with return code {proc.returncode}:\n"
                         f"{proc.stderr[-3000:]}")


def make_tests(module_name, specs):
    """Return the test functions for ``specs`` (to put in the module's globals)."""
    import pytest

    by_id = {s.id: s for s in specs}

    def marked(check, chosen):
        out = []
        for s in chosen:
            reason = s.xfail.get(check)
            if check == "published" and reason is None and s.published_xfail:
                reason = "the published figure is not reproduced (a known gap of this model)"
            out.append(pytest.param(s.id, marks=pytest.mark.xfail(strict=True, reason=reason))
                       if reason else s.id)
        return out

    def params(fn):
        return pytest.mark.parametrize("mid", marked(fn.__name__[len("test_"):], specs))(fn)

    @params
    def test_params(mid):
        m = get(by_id[mid])
        exp, r = m.expected, m.eager
        got = (r.params, r.trainable_params, r.params - r.trainable_params)
        want = (exp["params"], exp["trainable"], exp["non_trainable"])
        assert got == want, f"(params, trainable, non-trainable): expected {want}, got {got}"

    @params
    def test_macs(mid):
        m = get(by_id[mid])
        exp, r = m.expected, m.eager
        assert r.macs == exp["macs"], f"expected {exp['macs']:,} ({exp['macs_by_kind']}), got {r.macs:,}"

    @pytest.mark.parametrize("mid", marked("strict", [s for s in specs if s.strict]))
    def test_strict(mid):
        r = get(by_id[mid]).eager
        assert not r.uncounted, f"ran with no formula: {[(e['name'], e['calls']) for e in r.uncounted]}"

    @pytest.mark.parametrize("mid", marked("training", specs))
    def test_training_step_backward_is_counted(mid):
        """Every operation of the model's forward has a backward formula (or
        Paddle defines no gradient for it): a training step of the real model
        leaves nothing uncounted."""
        import paddle_flops_ext as pfe
        m = get(by_id[mid])
        r = pfe.profile(m.net, inputs=_call_inputs(m.args, m.kwargs), mode="eager", training=True)
        assert r.uncounted_backward == [], f"backward with no formula: {r.uncounted_backward}"
        assert r.backward.macs > 0

    @pytest.mark.parametrize("mid", marked("trace", specs))
    def test_eager_equals_trace(mid):
        spec = by_id[mid]
        if spec.trace.startswith("skip:"):
            pytest.skip(spec.trace[5:])
        m = get(spec)
        eager = summary(m.eager)
        if spec.trace == "subprocess":
            traced = trace_in_subprocess(module_name, spec)
        else:
            traced = summary(trace_profile(m))
        keys = ("macs", "flops", "params")
        got, want = {k: traced[k] for k in keys}, {k: eager[k] for k in keys}
        assert got == want, f"trace {got} != eager {want}"

    @pytest.mark.parametrize("mid", marked("parity", [s for s in specs if s.paddle_parity]))
    def test_paddle_flops_parity(mid):
        if NUMPY2:
            pytest.skip("paddle.flops itself needs numpy < 2")
        import paddle_flops_ext as pfe
        m = get(by_id[mid])
        shape = list(m.args[0].shape)
        theirs = paddle.flops(m.net, shape)
        ours = pfe.flops(m.net, shape)
        assert ours == theirs, f"pfe.flops {ours:,} != paddle.flops {theirs:,}"

    def wrapped_adaptive_pools(r) -> int:
        extra = 0
        for n in r.layers():
            if n.type == "AdaptiveAvgPool2D" and n.called and not n.paddle_reported and n.input_shape:
                (x,), (y,) = n.input_shape[:1], n.output_shape[:1]
                kernel = 1
                for i, o in zip(x[2:], y[2:]):
                    kernel *= i // o
                per = 1
                for d in y:
                    per *= d
                extra += n.calls * (kernel + 1) * per
        return extra

    @pytest.mark.parametrize("mid", marked("published", [s for s in specs if s.published]))
    def test_published(mid):
        spec = by_id[mid]
        r = get(spec).eager
        p = spec.published
        # the model zoos compute their tables with paddle.flops: what it prints,
        # reproduced (the corrected figure and its reconciliation are in r),
        # plus the adaptive average pools that PaddleClas 2.6 wraps in its own
        # AdaptiveAvgPool2D class: paddle.flops hooks exact types only, so it
        # counts them when the table was made (with paddle.nn's class) and not
        # now - (prod(in // out) + 1) per output element, as paddle.flops does
        got = {"params": r.paddle_params_reported,
               "flops": r.paddle_flops_reported + wrapped_adaptive_pools(r)}
        for k in ("params", "flops"):
            if k in p:
                value, tol = p[k]
                assert abs(got[k] - value) <= tol, \
                    f"{k}: published {value:,.0f} (+-{tol:,.0f}), got {got[k]:,} ({p.get('note', '')})"

    return dict(test_params=test_params, test_macs=test_macs, test_strict=test_strict,
                test_eager_equals_trace=test_eager_equals_trace,
                test_paddle_flops_parity=test_paddle_flops_parity, test_published=test_published,
                test_training_step_backward_is_counted=test_training_step_backward_is_counted)


def _main(argv):
    module, mid, mode = argv[1], argv[2], argv[3]
    sys.path.insert(0, HERE)
    mod = importlib.import_module(module)
    spec = {s.id: s for s in mod.SPECS}[mid]
    m = get(spec)
    r = trace_profile(m) if mode == "trace" else m.eager
    print("RESULT " + json.dumps(summary(r)), flush=True)
    sys.stdout.flush()
    os._exit(0)  # skip Paddle's interpreter-shutdown destructors


if __name__ == "__main__":
    _main(sys.argv)
