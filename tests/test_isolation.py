"""Profiling is invisible to the rest of the process.

Each test states one promise of docs/guarantees.md and fails on
an implementation that breaks it: threads, Ctrl-C, RNG, model state,
registry, inputs, errors, and eager/trace agreement on the same options.
"""
import _thread
import gc
import random
import signal
import sys
import threading
import time
import traceback

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
import pytest

import paddle_flops_ext as pfe
from paddle_flops_ext.collect import patch


def linear_macs(batch, fin, fout):
    return batch * fin * fout


class Two(nn.Layer):
    def __init__(self, a=8, b=16, c=4):
        super().__init__()
        self.fc1 = nn.Linear(a, b)
        self.fc2 = nn.Linear(b, c)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def _plain_state():
    """Identity of what profiling patches, and process flags it guards."""
    translator = paddle.jit.dy2static.program_translator.ProgramTranslator()
    return {
        "Layer.__call__": paddle.nn.Layer.__dict__["__call__"],
        "Layer.training": "training" in paddle.nn.Layer.__dict__,
        "_C_ops.matmul": paddle._C_ops.matmul,
        "_legacy_C_ops.matmul_v2": paddle._legacy_C_ops.matmul_v2,
        "Tensor.__add__": paddle.Tensor.__dict__["__add__"],
        "sdpa": F.scaled_dot_product_attention,
        "extract_stack": traceback.extract_stack,
        "to_static": translator.enable_to_static,
        "to_static_class_attr": "enable_to_static" in type(translator).__dict__,
        "gc": gc.isenabled(),
        "sigint": signal.getsignal(signal.SIGINT),   # trace mode holds Ctrl-C back while it builds
        "grad": paddle.is_grad_enabled(),
        "dynamic": paddle.in_dynamic_mode(),
    }


def _assert_plain(before):
    after = _plain_state()
    assert {k: v for k, v in after.items() if v is not before[k] and v != before[k]} == {}
    assert not patch._LOCK.locked() and patch.OWNER.thread is None


# ---------------------------------------------------------------- threads

def test_other_threads_inference_is_not_counted_and_runs_unharmed():
    before = _plain_state()
    other = nn.Linear(512, 512)
    x = paddle.ones([1, 512])
    expected = other(x).numpy()
    stop, results = threading.Event(), []

    def serve():
        with paddle.no_grad():
            while not stop.is_set():
                results.append(np.array_equal(other(x).numpy(), expected))

    worker = threading.Thread(target=serve)
    worker.start()
    try:
        while not results:
            time.sleep(0.001)
        counts = [pfe.profile(Two(), [2, 8]).macs for _ in range(20)]
    finally:
        stop.set()
        worker.join()
    assert counts == [linear_macs(2, 8, 16) + linear_macs(2, 16, 4)] * 20
    assert results and all(results)
    _assert_plain(before)


def test_profiling_a_model_another_thread_serves():
    net = Two()
    x = paddle.ones([3, 8])
    expected = net(x).numpy()
    stop, ok = threading.Event(), []

    def serve():
        with paddle.no_grad():
            while not stop.is_set():
                ok.append(np.allclose(net(x).numpy(), expected))

    worker = threading.Thread(target=serve)
    worker.start()
    try:
        while not ok:
            time.sleep(0.001)
        results = [pfe.profile(net, [2, 8]) for _ in range(10)]
    finally:
        stop.set()
        worker.join()
    for r in results:
        assert r.macs == linear_macs(2, 8, 16) + linear_macs(2, 16, 4)
        assert r.find("fc1").calls == 1 and r.find("fc2").calls == 1
    assert all(ok)
    assert net.training  # the serving thread never saw eval mode forced on it


@pytest.mark.parametrize("modes", [("trace", "trace"), ("eager", "trace"), ("eager", "eager")])
def test_concurrent_profiles_are_each_correct_and_leave_nothing(modes):
    before = _plain_state()
    nets = {"A": nn.Linear(16, 16), "B": nn.Linear(16, 8)}
    want = {"A": 256, "B": 128}
    got, errors = {}, []

    def run(name, mode):
        try:
            got[name] = [pfe.profile(nets[name], [1, 16], mode=mode).macs for _ in range(5)]
        except Exception as exc:  # noqa: BLE001 - reported by the assert
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n, m)) for n, m in zip(("A", "B"), modes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert got == {n: [want[n]] * 5 for n in want}
    _assert_plain(before)
    q = paddle.ones([1, 4, 2, 8])
    assert F.scaled_dot_product_attention(q, q, q).shape == [1, 4, 2, 8]   # plain eager SDPA still works
    assert len(traceback.extract_stack()) > 0


def test_nested_profile_in_the_same_thread_raises_clearly():
    class Nested(nn.Layer):
        def forward(self, x):
            pfe.profile(nn.Linear(2, 2), [1, 2])
            return x

    before = _plain_state()
    with pytest.raises(pfe.ProfilingBusy, match="already inside profile"):
        pfe.profile(Nested(), [1, 2])
    _assert_plain(before)


# ---------------------------------------------------------------- Ctrl-C

@pytest.mark.parametrize("mode", ["eager", "trace"])
def test_keyboard_interrupt_at_random_instants_leaves_nothing(mode):
    """Ctrl-C at 25 random instants of a profile leaves the model, Paddle and
    the global state as they were.

    An interrupt that lands inside a finaliser (``__del__``, a weakref
    callback) cannot propagate; Python reports it as an unraisable
    exception, which pytest would print as a traceback in its summary. Those
    reports are the expected outcome here, so they are collected and checked
    to be KeyboardInterrupts (anything else fails the test) instead of shown."""
    # _thread.interrupt_main only acts through Python's own SIGINT handler; an
    # earlier test (or library) may have replaced it, which would make every
    # interrupt below a silent no-op
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    unraisable, previous_hook = [], sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        _interrupt_at_random_instants(mode)
    finally:
        sys.unraisablehook = previous_hook
        signal.signal(signal.SIGINT, previous)
    unexpected = [u for u in unraisable if not isinstance(u.exc_value, KeyboardInterrupt)]
    assert not unexpected, [f"{u.exc_type.__name__}: {u.exc_value} in {u.object!r}" for u in unexpected]


def _interrupt_at_random_instants(mode):
    net = paddle.vision.models.resnet18(num_classes=10)
    net.layer2.train()  # mixed flags must come back as they were
    flags = [l.training for l in net.sublayers(include_self=True)]
    keys = set(net.state_dict())
    before = _plain_state()
    t0 = time.perf_counter()
    pfe.profile(net, [1, 3, 32, 32], mode=mode)
    full = time.perf_counter() - t0
    rng = random.Random(1234)
    interrupted = 0
    for _ in range(25):
        timer = threading.Timer(rng.uniform(0, full), _thread.interrupt_main)
        try:
            try:
                timer.start()
                pfe.profile(net, [1, 3, 32, 32], mode=mode)
            finally:
                timer.join()
            time.sleep(0.05)  # a late interrupt lands here, outside profile
        except KeyboardInterrupt:
            interrupted += 1
        _assert_plain(before)
        assert [l.training for l in net.sublayers(include_self=True)] == flags
        assert set(net.state_dict()) == keys
        assert all(not l._forward_pre_hooks and not l._forward_post_hooks for l in net.sublayers())
    assert interrupted > 0
    assert pfe.profile(net, [1, 3, 32, 32], mode=mode).params == sum(p.size for p in net.parameters())


# ---------------------------------------------------------------- RNG

def _seeded_step(profile_between):
    paddle.seed(1234)
    np.random.seed(1234)
    net = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.5), nn.ReLU(), nn.Linear(16, 3))
    if profile_between:
        pfe.profile(net, [4, 8])
        pfe.profile(net, input_spec=[paddle.static.InputSpec([4, 8], "float32")], mode="trace")
    opt = paddle.optimizer.SGD(0.1, parameters=net.parameters())
    x = paddle.randn([4, 8])
    y = paddle.to_tensor(np.random.randint(0, 3, size=[4, 1]))
    loss = F.cross_entropy(net(x), y)
    loss.backward()
    opt.step()
    return float(loss), [p.numpy().copy() for p in net.parameters()]


def test_seeded_training_step_is_bit_identical_with_a_profile_in_between():
    loss_a, params_a = _seeded_step(False)
    loss_b, params_b = _seeded_step(True)
    assert loss_a == loss_b
    assert all(np.array_equal(a, b) for a, b in zip(params_a, params_b))


def test_forward_that_draws_random_numbers_leaves_global_rngs_as_they_were():
    class Noisy(nn.Layer):
        def forward(self, x):
            np.random.rand(3)
            random.random()
            return x + paddle.rand(x.shape)

    paddle.seed(7)
    np.random.seed(7)
    random.seed(7)
    expect = (paddle.rand([2]).numpy(), np.random.rand(2), random.random())
    paddle.seed(7)
    np.random.seed(7)
    random.seed(7)
    pfe.profile(Noisy(), [2, 3])
    got = (paddle.rand([2]).numpy(), np.random.rand(2), random.random())
    assert np.array_equal(expect[0], got[0]) and np.array_equal(expect[1], got[1]) and expect[2] == got[2]


# ---------------------------------------------------------------- model state

class LazyWeight(nn.Layer):
    """Builds its weight on the first call."""

    def __init__(self):
        super().__init__()
        self.weight = None

    def forward(self, x):
        if self.weight is None:
            self.weight = self.create_parameter([x.shape[-1], 4])
        return paddle.matmul(x, self.weight)


@pytest.mark.parametrize("mode", ["eager", "trace"])
def test_weight_built_on_first_call_is_not_left_behind(mode):
    net = LazyWeight()
    r = pfe.profile(net, [2, 8], mode=mode)
    assert r.macs == 2 * 8 * 4
    assert net.weight is None and list(net.state_dict()) == []
    assert net(paddle.ones([2, 8])).shape == [2, 4]  # a later eager call works


class Stateful(nn.Layer):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2D(3, use_global_stats=False)
        self.register_buffer("steps", paddle.zeros([1]))

    def forward(self, x):
        self.steps += 1
        self.cache = x * 2
        self.bn._mean.set_value(self.bn._mean + 0)  # an explicit write, too
        return self.bn(x)


def test_forward_side_effects_on_statistics_buffers_and_attributes_are_undone():
    paddle.seed(3)
    net = Stateful()
    net.eval()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    attrs = set(net.__dict__)
    x = paddle.randn([4, 3, 5, 5]) * 3 + 1
    pfe.profile(net, inputs=(x,))
    after = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    assert after.keys() == before.keys()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert set(net.__dict__) == attrs and "cache" not in net.__dict__
    # the same forward without profiling does change them (the test can fail)
    with paddle.no_grad():
        net(x)
    assert not np.array_equal(net.bn._mean.numpy(), before["bn._mean"]) and float(net.steps.numpy()[0]) == 1.0


@pytest.mark.parametrize("how", ["scale_", "set_value", "copy_", "assign_output", "setitem", "zero_", "add_"])
def test_trainable_parameter_written_in_place_is_put_back_and_reported(how):
    writes = {
        "scale_": lambda w: w.scale_(2.0),
        "set_value": lambda w: w.set_value(paddle.zeros_like(w)),
        "copy_": lambda w: w.copy_(paddle.ones_like(w), False),
        "assign_output": lambda w: paddle.assign(paddle.full_like(w, 3.0), output=w),
        "setitem": lambda w: w.__setitem__(slice(None), 0.5),
        "zero_": lambda w: w.zero_(),
        "add_": lambda w: w.add_(paddle.ones_like(w)),
    }

    class Writer(nn.Layer):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            writes[how](self.fc.weight)
            return self.fc(x)

    net = Writer()
    before = net.fc.weight.numpy().copy()
    r = pfe.profile(net, [1, 2])
    np.testing.assert_array_equal(net.fc.weight.numpy(), before)
    assert any("wrote trainable parameter" in n and net.fc.weight.name in n for n in r.notes)


def test_a_write_that_is_not_observed_cannot_be_put_back_and_raises():
    class Writer(nn.Layer):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            self.fc.weight.scale_(2.0)      # with count_functional=False no operation is observed
            return self.fc(x)

    with pytest.raises(pfe.ModelChanged, match="in place"):
        pfe.profile(Writer(), [1, 2], count_functional=False)


# ---------------------------------------------------------------- registry

def test_unregister_restores_the_builtin_and_refuses_builtins():
    net = nn.Conv2D(3, 4, 3)
    builtin = pfe.profile(net, [1, 3, 8, 8]).macs
    assert builtin == 4 * 6 * 6 * 3 * 9

    @pfe.register(nn.Conv2D)
    def seven(layer, inputs, output):
        return 7

    try:
        assert pfe.profile(net, [1, 3, 8, 8]).macs == 7
    finally:
        pfe.unregister(nn.Conv2D)
    assert pfe.profile(net, [1, 3, 8, 8]).macs == builtin
    with pytest.raises(KeyError, match="built-in formulas cannot be removed"):
        pfe.unregister(nn.Linear)
    assert pfe.profile(nn.Linear(4, 4), [1, 4]).macs == 16


def test_builtin_duplicates_raise():
    from paddle_flops_ext.formulas import registry
    with pytest.raises(registry.DuplicateFormula):
        registry.op_formula("matmul", convention="again")(lambda ins, outs, attrs: registry.ZERO)
    with pytest.raises(registry.DuplicateFormula):
        registry.zero_cost_ops(["reshape"], "again")
    with pytest.raises(registry.DuplicateFormula):
        registry.layer_formula(nn.Linear, convention="again")(lambda layer, i, o: registry.ZERO)


class Custom(nn.Layer):
    def forward(self, x):
        return x * 1


@pytest.mark.parametrize("bad", [-5, pfe.Cost(1.5, 2.5, 0.5), np.array([1, 2]), {"macs": "3"}, "12",
                                 {"macs": -1}, float("nan")])
def test_handler_garbage_is_refused_naming_handler_and_layer(bad):
    def my_handler(layer, inputs, output):
        return bad

    net = nn.Sequential(Custom())
    with pytest.raises(pfe.HandlerError) as info:
        pfe.profile(net, [1, 2], custom_ops={Custom: my_handler})
    assert "my_handler" in str(info.value) and "'0'" in str(info.value) and "Custom" in str(info.value)


@pytest.mark.parametrize("good,macs", [(5, 5), (np.int64(6), 6), (np.array([7]), 7), (8.0, 8),
                                       ({"macs": 3, "flops": 9}, 3), (pfe.Cost(1, 2, 1), 1)])
def test_handler_numbers_that_are_counts_are_accepted(good, macs):
    r = pfe.profile(nn.Sequential(Custom()), [1, 2], custom_ops={Custom: lambda l, i, o: good})
    assert r.macs == macs and isinstance(r.macs, int)


def test_handler_exception_names_the_handler_and_its_layer():
    def exploding(layer, inputs, output):
        raise ZeroDivisionError("oops")

    with pytest.raises(pfe.HandlerError) as info:
        pfe.profile(nn.Sequential(nn.Linear(2, 2), Custom()), [1, 2], custom_ops={Custom: exploding})
    text = str(info.value)
    assert "exploding" in text and "'1'" in text and "ZeroDivisionError: oops" in text
    assert "input_size" not in text


def test_register_applies_to_subclasses_that_keep_forward():
    class Base(nn.Layer):
        def forward(self, x):
            return x

    class Keeps(Base):
        pass

    class Rewrites(Base):
        def forward(self, x):
            return x @ paddle.ones([2, 2])

    pfe.register(Base)(lambda l, i, o: 11)
    try:
        assert pfe.profile(Keeps(), [1, 2]).macs == 11
        assert pfe.profile(Rewrites(), [1, 2]).macs == 4
    finally:
        pfe.unregister(Base)


# ---------------------------------------------------------------- inputs

def test_synthesized_input_is_the_same_each_time_even_if_a_forward_writes_it():
    """Small synthesized inputs are drawn once and reused: each profile must
    still get a fresh tensor with the same values, whatever a forward did to
    the previous one."""
    seen = []

    class Scribbler(nn.Layer):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 8)

        def forward(self, x):
            seen.append(x.numpy().copy())
            x.scale_(0.0)                  # writes its input in place
            return self.fc(x)

    net = Scribbler()
    for _ in range(3):
        pfe.profile(net, [2, 8])
    assert np.array_equal(seen[0], seen[1]) and np.array_equal(seen[1], seen[2])
    assert np.abs(seen[0]).sum() > 0 and np.abs(seen[0]).max() <= 1.0


def test_float64_model_profiles_from_input_size():
    net = nn.Linear(4, 3)
    net.to(dtype="float64")
    r = pfe.profile(net, [2, 4])
    assert r.macs == 24
    assert pfe.profile(net, [2, 4], dtype="float64").macs == 24
    with pytest.raises(ValueError, match="floating-point dtype"):
        pfe.profile(net, [2, 4], dtype="int64")


def test_paddle_flops_dropin_on_float64_model(capsys):
    net = nn.Sequential(nn.Conv2D(3, 2, 3))
    net.to(dtype="float64")
    assert pfe.flops(net, [1, 3, 5, 5]) == 2 * 3 * 3 * 3 * 9 + 2 * 3 * 3


def test_input_too_large_for_memory_is_refused_pointing_to_trace():
    with pytest.raises(ValueError, match="mode='trace'"):
        pfe.profile(nn.Conv2D(3, 4, 3), [1, 3, 100000, 100000], mode="eager")


@pytest.mark.parametrize("mode", ["eager", "trace"])
def test_impossible_dimensions_raise(mode):
    with pytest.raises(ValueError, match="more than a tensor can hold"):
        pfe.profile(nn.Linear(4, 4), [2 ** 62, 4, 4], mode=mode)


def test_jit_loaded_model_at_another_size_is_refused(jit_saved):
    path = jit_saved("nn.Conv2D(3, 4, 3)", [1, 3, 16, 16])
    loaded = paddle.jit.load(path)
    assert pfe.profile(loaded, [1, 3, 16, 16]).macs == 4 * 14 * 14 * 27
    with pytest.raises(ValueError, match="saved for input 0 of shape"):
        pfe.profile(loaded, [1, 3, 32, 32])
    with pytest.raises(ValueError, match="saved for input 0"):
        pfe.profile(loaded, [1, 5, 16, 16])


@pytest.mark.parametrize("mode", ["eager", "trace"])
def test_forward_pre_hook_that_changes_the_input_is_seen(mode):
    net = nn.Sequential(nn.Linear(8, 4))
    net[0].register_forward_pre_hook(lambda layer, args: (paddle.concat([args[0], args[0]], axis=0),))
    r = pfe.profile(net, [3, 8], mode=mode)
    assert r.macs == 6 * 8 * 4
    assert r.find("0").input_shape == [(6, 8)]


# ---------------------------------------------------------------- errors and options

def test_static_mode_caller_gets_its_own_message():
    paddle.enable_static()
    try:
        with pytest.raises(RuntimeError, match="disable_static"):
            pfe.profile(nn.Linear(2, 2), [1, 2])
    finally:
        paddle.disable_static()


def test_lazy_model_in_eager_mode_points_to_trace():
    with paddle.LazyGuard():
        net = nn.Linear(64, 64)
    with pytest.raises(ValueError, match="mode='trace'"):
        pfe.profile(net, [1, 64], mode="eager")
    assert pfe.profile(net, [1, 64]).macs == 64 * 64   # auto traces it


def test_memory_error_in_forward_gets_its_own_message():
    class Hungry(nn.Layer):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            raise MemoryError("cannot allocate")

    with pytest.raises(MemoryError, match="mode='trace'"):
        pfe.profile(Hungry(), [1, 2])


def test_count_functional_off_is_honoured_in_trace_mode_too():
    class Ops(nn.Layer):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(x) @ paddle.ones([4, 4])

    eager = pfe.profile(Ops(), [2, 4], count_functional=False, mode="eager")
    trace = pfe.profile(Ops(), [2, 4], count_functional=False, mode="trace")
    assert eager.macs == trace.macs == 2 * 16


def test_time_layers_in_trace_mode_raises():
    with pytest.raises(ValueError, match="time_layers"):
        pfe.profile(nn.Linear(2, 2), [1, 2], mode="trace", time_layers=True)


@pytest.mark.parametrize("mode", ["eager", "trace"])
def test_sublayer_names_with_dots(mode):
    net = nn.Layer()
    blocks = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    net.add_sublayer("blocks.0", blocks)
    net.forward = lambda x: blocks(x)
    r = pfe.profile(net, [1, 4], mode=mode)
    assert r.macs == 16 + 8
    assert r.find("blocks.0.2").cost.macs == 8 and r.find("blocks.0").depth == 1


def test_legacy_c_ops_are_seen():
    class Legacy(nn.Layer):
        def forward(self, x):
            return paddle._legacy_C_ops.matmul_v2(x, x, "trans_x", False, "trans_y", False)

    r = pfe.profile(Legacy(), [64, 64], strict=True)
    assert r.macs == 64 ** 3


@pytest.mark.parametrize("mode", ["eager", "trace"])
def test_dict_of_tensors_as_one_input(mode):
    """PaddleDetection models take one dict {"image": ..., "im_shape": ...}."""
    class Det(nn.Layer):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, inputs):
            return self.fc(inputs["image"]) * inputs["scale"]

    batch = {"image": paddle.ones([2, 4]), "scale": paddle.ones([2, 1])}
    r = pfe.profile(Det(), inputs=[batch], mode=mode)
    assert r.macs == 2 * 4 * 3 and r.inputs == [(2, 4), (2, 1)]


class ShapeFromTensor(nn.Layer):
    """Forward computes a size at run time with paddle.shape (a -1 in a
    plainly traced program)."""

    def __init__(self):
        super().__init__()
        self.o = nn.Linear(64, 64)

    def forward(self, x):
        b = paddle.shape(x)[0]
        return self.o(x.reshape([b, -1, 64]))


class DataDependent(nn.Layer):
    """A size that depends on the data (how many entries are positive)."""

    def __init__(self):
        super().__init__()
        self.o = nn.Linear(3, 64)

    def forward(self, x):
        return self.o(paddle.nonzero(x > 0).astype("float32"))   # [how many, 3]


def test_trace_resolves_sizes_computed_from_known_shapes():
    eager = pfe.profile(ShapeFromTensor(), [2, 128, 64], mode="eager")
    trace = pfe.profile(ShapeFromTensor(), [2, 128, 64], mode="trace")
    assert eager.macs == trace.macs == 2 * 128 * 64 * 64 and trace.exact
    assert (eager.flops, eager.params) == (trace.flops, trace.params)


class AnchorsFromSizes(nn.Layer):
    """PaddleDetection's anchor generator: a float grid computed from
    ``paddle.shape`` (integer sizes times a float stride)."""

    def __init__(self):
        super().__init__()
        self.o = nn.Linear(64, 64)

    def forward(self, x):
        width = paddle.shape(x)[1] * 8.0            # int32 size * float: a float32 tensor in eager mode
        grid = paddle.arange(0, 16, dtype="float32") * width   # real float work: 16 multiplies
        centres = paddle.arange(0, 16) + 0.5        # int64 data promoted to float: 16 adds, counted
        return self.o(x).sum() + grid.sum() + centres.sum()


def test_size_arithmetic_is_free_in_both_modes_and_float_work_on_it_is_not():
    eager = pfe.profile(AnchorsFromSizes(), [2, 16, 64], mode="eager")
    trace = pfe.profile(AnchorsFromSizes(), [2, 16, 64], mode="trace")
    linear = 2 * 16 * 64 * 64
    # linear: 2 MACs each + 1 bias add per output; the sums, the adds of their results, the 16 grid
    # multiplies and the 16 centre adds are 1 FLOP per element; width = size * 8.0 reads only a
    # one-element integer tensor (a size): 0
    expected = 2 * linear + 2 * 16 * 64 + (2 * 16 * 64 - 1) + 2 * (16 - 1) + 2 + 16 + 16
    assert eager.macs == trace.macs == linear
    assert eager.flops == trace.flops == expected


def test_trace_with_data_dependent_sizes_is_loudly_inexact_never_silently_small():
    trace = pfe.profile(DataDependent(), [2, 128, 64], mode="trace")
    assert not trace.exact and "INEXACT" in trace.inexact[0] and trace.notes[0] == trace.inexact[0]
    assert "INEXACT" in trace.table() and "INEXACT" in trace.to_json() and "INEXACT" in trace.to_csv()
    with pytest.raises(RuntimeError, match="not exact"):
        pfe.profile(DataDependent(), [2, 128, 64], mode="trace", strict=True)
    assert pfe.profile(DataDependent(), [2, 128, 64]).exact   # auto runs it


def test_build_lazily_allocates_no_weights_and_auto_mode_traces_it():
    net = pfe.build_lazily(nn.Linear, 1024, 512)
    assert not any(p._is_initialized() for p in net.parameters())
    r = pfe.profile(net, [2, 1024])
    assert r.mode == "trace" and r.macs == 2 * 1024 * 512 and r.params == 1024 * 512 + 512
