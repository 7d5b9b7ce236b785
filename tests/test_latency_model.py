"""Latency predicted from the counts: the work items a traced model runs, the
per-kind fit, the calibration run (fake timers and a fake machine), the
between-process interval and the CLI. No wall-clock assertion."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

import pytest

from paddle_flops_ext.bench import calibrate as cal_mod
from paddle_flops_ext.bench.calibrate import Calibration, CalibrationFileError, MicroCase, calibrate
from paddle_flops_ext.bench.processes import parse_plan, plan_text, time_in_processes
from paddle_flops_ext.bench.timing import between_process
from paddle_flops_ext.estimates.latency import (DISPATCH, FUSED, Fit, KindCoefficients, Sample, Work, conv_kind, fit,
                                                nnls, predict, work_items)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _paddle():
    import paddle
    return paddle


def conv_block_net():
    paddle = _paddle()
    nn = paddle.nn

    class Net(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2D(3, 8, 3, padding=1, bias_attr=False)
            self.bn = nn.BatchNorm2D(8)
            self.act = nn.ReLU()
            self.fc = nn.Linear(8 * 8 * 8, 10)

        def forward(self, x):
            return self.fc(paddle.flatten(self.act(self.bn(self.conv(x))), 1))
    return Net()


def traced(net, shape):
    import paddle_flops_ext as pfe
    return pfe.profile(net, input_size=shape, mode="trace")


# -- classification and work items ----------------------------------------------

@pytest.mark.parametrize("kernel, groups, cin, kind", [
    ((3, 3), 32, 32, "conv_dw"), ((5, 5), 96, 96, "conv_dw"), ((3, 3), 32, 128, "conv_group"),
    ((1, 1), 1, 64, "conv_1x1"), ((3, 3), 1, 64, "conv_3x3"), ((7, 7), 1, 3, "conv_kxk")])
def test_conv_kind_by_kernel_and_groups(kernel, groups, cin, kind):
    assert conv_kind(kernel, groups, cin) == kind


def test_work_items_fuse_bn_and_activation_in_inference_only():
    net = conv_block_net()
    result = traced(net, (1, 3, 8, 8))
    facts = cal_mod.layer_facts(net)
    inf = {w.layer: w for w in work_items(result, "inference", facts) if w.layer and w.kind != DISPATCH}
    eager = work_items(result, "eager", facts)
    assert inf["conv"].kind == "conv_3x3" and inf["fc"].kind == "matmul"
    assert inf["bn"].kind == FUSED and inf["act"].kind == FUSED
    kinds = {w.layer: w.kind for w in eager if w.kind not in ("layer_call", DISPATCH) and w.layer}
    assert kinds["bn"] == "batch_norm" and kinds["act"] == "activation"
    # one Layer.__call__ per called layer: the model, conv, bn, act, fc
    assert sum(w.calls for w in eager if w.kind == "layer_call") == 5
    # bytes of a leaf: (input + output + parameters) x 4, from the shapes
    assert inf["conv"].bytes == (3 * 8 * 8 + 8 * 8 * 8 + 8 * 3 * 3 * 3) * 4
    assert inf["fc"].bytes == (512 + 10 + 512 * 10 + 10) * 4
    # the flatten inside forward is a view, priced by its calls; in eager (strided tensors: a view may
    # copy) also by the owning layer's output bytes, here the model's (1, 10) output
    assert [(w.kind, w.bytes) for w in eager if w.source == "flatten"] == [("view", 10 * 4)]
    assert [(w.kind, w.bytes) for w in work_items(result, "inference", facts) if w.source == "flatten"] == [
        ("view", 0.0)]
    # the forward's run carries the model's input and output bytes
    assert [w.bytes for w in eager if w.kind == "run"] == [(3 * 8 * 8 + 10) * 4]
    # one dispatch per operation launched: inference runs conv, fc and the flatten (bn and relu fused);
    # eager runs conv, bn, relu, fc and the flatten
    assert sum(w.calls for w in work_items(result, "inference", facts) if w.kind == DISPATCH) == 3
    assert sum(w.calls for w in eager if w.kind == DISPATCH) == 5
    assert {w.layer for w in eager if w.kind == DISPATCH} == {"", "conv", "bn", "act", "fc"}


def residual_block():
    paddle = _paddle()
    nn = paddle.nn

    class Block(nn.Layer):
        """conv-bn-relu, conv-bn, + the input, relu: one ReLU layer called twice."""
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2D(8, 8, 3, padding=1), nn.BatchNorm2D(8)
            self.relu = nn.ReLU()
            self.conv2, self.bn2 = nn.Conv2D(8, 8, 3, padding=1), nn.BatchNorm2D(8)

        def forward(self, x):
            y = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            return self.relu(y + x)
    return Block()


def test_inference_fuses_a_relu_called_after_each_convolution_of_its_block():
    net = residual_block()
    result = traced(net, (1, 8, 6, 6))
    facts = cal_mod.layer_facts(net)
    inf = [w for w in work_items(result, "inference", facts) if w.kind not in ("run", DISPATCH)]
    eager = [w for w in work_items(result, "eager", facts) if w.kind not in ("run", "layer_call", DISPATCH)]
    # the ReLU layer's first input is conv1's output (and bn1 is folded into conv1): fused; the residual
    # sum is run
    assert sorted(w.source for w in inf if w.kind != FUSED) == ["Conv2D", "Conv2D", "add"]
    assert sorted(w.source for w in inf if w.kind == FUSED) == ["BatchNorm2D", "BatchNorm2D", "ReLU"]
    assert not any(w.kind == FUSED for w in eager)
    assert [w.calls for w in eager if w.source == "ReLU"] == [2]
    # inference launches the two convolutions and the sum
    assert sum(w.calls for w in work_items(result, "inference", facts) if w.kind == DISPATCH) == 3


# -- the fit ---------------------------------------------------------------------

def test_nnls_matches_least_squares_when_positive_and_clips_otherwise():
    a = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    assert nnls(a, [1.0, 2.0, 3.0]) == pytest.approx([1.0, 2.0], abs=1e-9)
    # unconstrained: x = (-1, 2)-ish; constrained: x0 = 0, x1 = mean of (2, 1) -> least squares 1.5
    x = nnls([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [-1.0, 2.0, 1.0])
    assert x[0] == 0.0 and x[1] == pytest.approx(1.5)


def test_fit_recovers_per_kind_coefficients():
    truth = {"conv_3x3": KindCoefficients(20e-6, 1 / 80e9, 0.0), "matmul": KindCoefficients(5e-6, 1 / 120e9, 0.0),
             "elementwise": KindCoefficients(2e-6, 0.0, 1 / 20e9), "run": KindCoefficients(50e-6, 0.0, 0.0)}
    samples = []
    for i, (k, flops, nbytes) in enumerate([("conv_3x3", 1e8, 1e6), ("conv_3x3", 4e8, 3e6), ("conv_3x3", 1e7, 1e5),
                                            ("matmul", 2e8, 1e6), ("matmul", 1e6, 1e4), ("matmul", 5e7, 2e6),
                                            ("elementwise", 0, 4e6), ("elementwise", 0, 1e4),
                                            ("elementwise", 0, 4e5)]):
        works = [Work("", "run", 1), Work("x", k, 1, flops, nbytes)]
        secs = sum(truth[w.kind].seconds(w) for w in works)
        samples.append(Sample(f"s{i}", works, secs))
    samples.append(Sample("empty", [Work("", "run", 1)], truth["run"].per_call))
    got = fit("inference", samples, form="free")
    for k, c in truth.items():
        for f in ("per_call", "per_flop", "per_byte"):
            assert getattr(got.kinds[k], f) == pytest.approx(getattr(c, f), rel=1e-6, abs=1e-18), (k, f)
    assert max(abs(r) for r in got.residuals.values()) < 1e-6


def _chains(per_op, per_layer, run):
    """Chains of n tiny operations in one layer and of n one-operation layers: their seconds
    written out by hand (run + layers x per_layer + operations x per_op)."""
    out = []
    for n in (16, 64, 256):
        ops = [Work("", "run", 1), Work("", "layer_call", 1), Work("", "elementwise", n, float(8 * n)),
               Work("", DISPATCH, n)]
        out.append(Sample(f"ops{n}", ops, run + per_layer + n * per_op))
        lay = [Work("", "run", 1), Work("", "layer_call", n + 1)]
        lay += [w for i in range(n) for w in (Work(str(i), "elementwise", 1, 8.0), Work(str(i), DISPATCH, 1))]
        out.append(Sample(f"layers{n}", lay, run + (n + 1) * per_layer + n * per_op))
    return out


def test_overhead_form_recovers_the_shared_costs_and_each_kinds_rates():
    per_op, per_layer, run = 6e-6, 9e-6, 40e-6
    conv_flop, mm_flop, ew_byte = 1 / 90e9, 1 / 150e9, 1 / 12e9
    samples = _chains(per_op, per_layer, run)
    for i, (flops, nbytes) in enumerate([(1e8, 1e6), (4e8, 8e6), (2e7, 3e5)]):
        samples.append(Sample(f"c{i}", [Work("", "run", 1), Work("", "layer_call", 2), Work("c", "conv_3x3", 1,
                              flops, nbytes), Work("c", DISPATCH, 1)],
                              run + 2 * per_layer + per_op + flops * conv_flop))
        samples.append(Sample(f"m{i}", [Work("", "run", 1), Work("", "layer_call", 1), Work("", "matmul", 1,
                              flops / 2, nbytes), Work("", DISPATCH, 1)],
                              run + per_layer + per_op + flops / 2 * mm_flop))
        samples.append(Sample(f"e{i}", [Work("", "run", 1), Work("", "layer_call", 1), Work("", "elementwise", 1,
                              0.0, nbytes), Work("", DISPATCH, 1)], run + per_layer + per_op + nbytes * ew_byte))
    got = fit("eager", samples, form="overhead")
    assert got.form == "overhead"
    assert got.kinds[DISPATCH].per_call == pytest.approx(per_op, rel=1e-6)
    assert got.kinds["layer_call"].per_call == pytest.approx(per_layer, rel=1e-6)
    assert got.kinds["run"].per_call == pytest.approx(run, rel=1e-6)
    assert got.kinds["conv_3x3"].per_flop == pytest.approx(conv_flop, rel=1e-6)
    assert got.kinds["matmul"].per_flop == pytest.approx(mm_flop, rel=1e-6)
    assert got.kinds["elementwise"].per_byte == pytest.approx(ew_byte, rel=1e-6)
    # a work kind has no per-call term of its own in this form: the shared dispatch is its fixed cost
    assert got.kinds["conv_3x3"].per_call == 0.0 and got.kinds["elementwise"].per_call == 0.0


def test_roofline_form_prices_the_slower_of_compute_and_memory():
    per_op, run = 5e-6, 30e-6
    per_flop, per_byte = 1 / 100e9, 1 / 10e9       # ridge: 10 flops per byte
    samples = [Sample("empty", [Work("", "run", 1)], run)]
    for i, (flops, nbytes) in enumerate([(1e9, 1e6), (5e8, 4e6), (1e6, 4e6), (2e6, 8e6), (4e8, 2e7), (1e9, 9e7)]):
        items = [Work("", "run", 1), Work("x", "conv_1x1", 1, flops, nbytes), Work("x", DISPATCH, 1)]
        samples.append(Sample(f"s{i}", items, run + per_op + max(flops * per_flop, nbytes * per_byte)))
    got = fit("inference", samples, form="roofline")
    c = got.kinds["conv_1x1"]
    assert c.bound and c.per_flop == pytest.approx(per_flop, rel=1e-6) and c.per_byte == pytest.approx(per_byte,
                                                                                                       rel=1e-6)
    assert got.kinds[DISPATCH].per_call == pytest.approx(per_op, rel=1e-6)
    assert max(abs(r) for r in got.residuals.values()) < 1e-6
    # 1e9 flops over 1e6 bytes is compute bound: 10 ms; 1e6 flops over 4e6 bytes memory bound: 0.4 ms
    assert c.seconds(Work("y", "conv_1x1", 1, 1e9, 1e6)) == pytest.approx(1e-2)
    assert c.seconds(Work("y", "conv_1x1", 1, 1e6, 4e6)) == pytest.approx(4e-4)
    back = Fit.from_dict("inference", json.loads(json.dumps(got.to_dict())))
    assert back.form == "roofline" and back.kinds["conv_1x1"].bound


def test_an_unknown_form_is_refused():
    with pytest.raises(ValueError, match="form must be one of"):
        fit("eager", [], form="cubic")


def test_prediction_sums_the_items_and_says_where_it_guessed():
    net = conv_block_net()
    result = traced(net, (1, 3, 8, 8))
    fit_ = Fit("inference", {"run": KindCoefficients(100e-6), "conv_3x3": KindCoefficients(1e-3),
                             "matmul": KindCoefficients(0.0, 1e-11)})
    p = predict(result, fit_, "inference", cal_mod.layer_facts(net),
                peak={"matmul_gflops_peak": 100.0, "copy_gbps_peak": 10.0})
    fc_flops = result.find("fc").cost.flops
    assert p.seconds == pytest.approx(100e-6 + 1e-3 + fc_flops * 1e-11)
    assert p.uncalibrated == ["view (flatten)"]
    # roofline: per item max(flops / 100 GFLOP/s, bytes / 10 GB/s), fused items free
    conv = result.find("conv")
    conv_bytes = (3 * 64 + 8 * 64 + 8 * 27) * 4
    fc_bytes = (512 + 10 + 5130) * 4
    expected_roof = max(conv.cost.flops / 100e9, conv_bytes / 10e9) + max(fc_flops / 100e9, fc_bytes / 10e9)
    assert p.roofline_seconds == pytest.approx(expected_roof)


# -- the calibration run ------------------------------------------------------------

class FakeClock:
    def __init__(self, step):
        self.t, self.step = 0.0, step

    def __call__(self):
        self.t += self.step
        return self.t


TRUTH = {"run": KindCoefficients(30e-6), "conv_3x3": KindCoefficients(10e-6, 1 / 50e9),
         "matmul": KindCoefficients(4e-6, 1 / 100e9)}


def fake_works(case, mode):
    kind = {"a": "conv_3x3", "b": "matmul"}.get(case.op)
    flops = float(case.shape[0])
    works = [Work("", "run", 1)] + ([Work("l", kind, 1, flops, 0.0)] if kind else [])
    return works, works, [(1,)]


def fake_measure(net, shapes, mode):
    return sum(TRUTH[w.kind].seconds(w) for w in net)


FAKE_CASES = (MicroCase("empty", (1,)), MicroCase("a", (1e6,)), MicroCase("a", (5e8,)), MicroCase("b", (1e7,)),
              MicroCase("b", (2e9,)), MicroCase("a", (3e7,)), MicroCase("b", (4e8,)))


def test_calibrate_with_a_fake_machine_fits_and_round_trips(tmp_path):
    lines = []

    class Stream:
        def write(self, s):
            lines.append(s)

        def flush(self):
            pass
    cal = calibrate(modes=("inference",), cases=FAKE_CASES, measure=fake_measure, works=fake_works,
                    describe=lambda: {"cpu_model": "fake"}, peak=lambda: {"matmul_gflops_peak": 1.0},
                    clock=FakeClock(0.001), progress=Stream(), budget_s=100, form="free")
    assert not cal.skipped and not cal.failed and len(cal.cases) == len(FAKE_CASES)
    got = cal.fits["inference"].kinds
    for k, c in TRUTH.items():
        assert got[k].per_call == pytest.approx(c.per_call, rel=1e-6)
        assert got[k].per_flop == pytest.approx(c.per_flop, rel=1e-6)
    assert sum("[" in s for s in lines) == len(FAKE_CASES)      # one progress line per case
    path = tmp_path / "cal.json"
    cal.save(str(path))
    back = Calibration.load(str(path))
    assert back.machine == {"cpu_model": "fake"}
    assert back.fits["inference"].kinds["matmul"].per_flop == pytest.approx(1 / 100e9)
    # a refit from the stored features gives the same coefficients, with no timing
    refit = back.refit("free")
    assert refit.fits["inference"].kinds["conv_3x3"].per_flop == pytest.approx(1 / 50e9, rel=1e-6)
    assert refit.fits["inference"].form == "free" and back.fits["inference"].form == "free"


def test_calibrate_stops_at_the_budget_and_lists_what_it_left_out():
    # each clock read advances 1 s: the budget of 4 s is spent after a few cases
    cal = calibrate(modes=("inference",), cases=FAKE_CASES, measure=fake_measure, works=fake_works,
                    describe=lambda: {}, peak=lambda: None, clock=FakeClock(1.0), progress=None, budget_s=4)
    assert cal.skipped and len(cal.cases) + len(cal.skipped) == len(FAKE_CASES)
    assert cal.skipped == [c.name for c in FAKE_CASES[len(cal.cases):]]


def test_a_failing_case_is_recorded_not_fatal():
    def measure(net, shapes, mode):
        if len(net) == 1:
            raise RuntimeError("no kernel")
        return fake_measure(net, shapes, mode)
    cal = calibrate(modes=("inference",), cases=FAKE_CASES[:3], measure=measure, works=fake_works,
                    describe=lambda: {}, peak=lambda: None, clock=FakeClock(0.001), progress=None)
    assert [f["case"] for f in cal.failed] == [FAKE_CASES[0].name]
    assert "no kernel" in cal.failed[0]["error"]


def test_not_a_calibration_file(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"schema": "something else"}))
    with pytest.raises(CalibrationFileError, match="not a calibration"):
        Calibration.load(str(bad))
    with pytest.raises(CalibrationFileError, match="cannot read"):
        Calibration.load(str(tmp_path / "missing.json"))


class FakeEvent:
    """A CUDA event stand-in: times are set by the test, not read from a clock."""
    clock = [0.0]

    def record(self):
        FakeEvent.clock[0] += 2.5          # 2.5 ms between two records
        self.t = FakeEvent.clock[0]

    def synchronize(self):
        pass

    def elapsed_time(self, end):
        return end.t - self.t


def test_case_timer_times_a_real_case_with_device_events():
    from paddle_flops_ext.bench.timing import EventTimer
    net, shapes = cal_mod.build_case(MicroCase("linear", (4, 16, 8)))
    timer = cal_mod.CaseTimer(threads=1, timer=EventTimer(event_factory=FakeEvent), warmup=1, repeats=3)
    assert timer(net, shapes, "eager") == pytest.approx(2.5e-3)


def test_every_case_builds_and_traces():
    from paddle_flops_ext.estimates.latency import OTHER
    for case in cal_mod.CASES[:22]:
        works, _, _ = cal_mod.case_works(case, "eager")
        assert works and all(w.kind != OTHER for w in works), case.name


def test_a_depthwise_convolution_pays_per_plane():
    works, _, _ = cal_mod.case_works(MicroCase("conv_bn_relu", (24, 24, 8, 3, 1, 24), 2), "inference")
    assert [w.kind for w in works if w.source == "Conv2D"] == ["conv_dw", "dw_plane"]
    assert [w.calls for w in works if w.kind == "dw_plane"] == [2 * 24]        # batch x channels


@pytest.mark.parametrize("op, n", [("op_chain", 64), ("layer_chain", 16)])
def test_chains_count_one_dispatch_per_operation_and_one_call_per_layer(op, n):
    works, _, _ = cal_mod.case_works(MicroCase(op, (n,)), "eager")
    assert sum(w.calls for w in works if w.kind == DISPATCH) == n
    layers = 1 if op == "op_chain" else n + 1          # the chain's own layer (and its n children)
    assert sum(w.calls for w in works if w.kind == "layer_call") == layers


# -- between processes ------------------------------------------------------------

def test_between_process_interval_is_students_t_on_the_logs():
    medians = [0.0199, 0.0188, 0.0179]
    bp = between_process(medians)
    logs = [math.log(m) for m in medians]
    mean = sum(logs) / 3
    s = math.sqrt(sum((v - mean) ** 2 for v in logs) / 2)
    half = 4.303 * s * math.sqrt(1 + 1 / 3)          # t(0.975, 2) = 4.303
    assert bp.low == pytest.approx(math.exp(mean - half)) and bp.high == pytest.approx(math.exp(mean + half))
    assert bp.median == 0.0188 and bp.spread == pytest.approx((0.0199 - 0.0179) / 0.0188)
    assert bp.low < min(medians) and bp.high > max(medians)
    assert between_process([0.01]).low is None


def test_time_in_processes_collects_each_process_and_its_failures():
    plan = {1: ("inference", "eager"), 8: ("inference",)}
    assert parse_plan(plan_text(plan)) == plan
    outputs = iter([
        json.dumps({"batches": {"1": {"modes": {"inference": {"median_s": 0.010}, "eager": {"median_s": 0.030}}},
                                "8": {"modes": {"inference": {"median_s": 0.070}}}}}),
        RuntimeError("the timing process exited with 1: boom"),
        "noise\n" + json.dumps({"batches": {"1": {"modes": {"inference": {"median_s": 0.012},
                                                          "eager": {"error": "failed"}}},
                                           "8": {"modes": {"inference": {"median_s": 0.072}}}}}),
    ])
    commands = []

    def run(cmd):
        commands.append(cmd)
        out = next(outputs)
        if isinstance(out, Exception):
            raise out
        return out
    got = time_in_processes("resnet18", plan, n=3, run=run)
    assert len(commands) == 3 and "--plan" in commands[0]
    assert got[1].modes["inference"].medians == (0.010, 0.012)
    assert got[1].modes["eager"].medians == (0.030,)
    assert got[8].modes["inference"].median == pytest.approx(0.071)
    assert any("boom" in e for e in got[1].errors)


# -- the command line ----------------------------------------------------------------

def _parser(add):
    p = argparse.ArgumentParser(prog="paddle-flops x")
    add(p)
    return p


def test_cli_mistakes_are_one_line_and_status_2(tmp_path, capsys):
    from paddle_flops_ext.cli import latency as cli
    p = _parser(cli.add_calibrate_arguments)
    args = p.parse_args(["--precisions", "fp64", "-o", str(tmp_path / "c.json")])
    assert cli.run_calibrate(args, p) == 2
    assert "argument --precisions" in capsys.readouterr().err
    q = _parser(cli.add_predict_arguments)
    args = q.parse_args(["resnet18", "--calibration", str(tmp_path / "missing.json")])
    assert cli.run_predict(args, q) == 2
    err = capsys.readouterr().err
    assert "argument --calibration" in err and "Traceback" not in err
    args = q.parse_args(["resnet18", "--calibration", "x", "--input", "1,a"])
    assert cli.run_predict(args, q) == 2
    assert "argument --input" in capsys.readouterr().err


def test_cli_predict_prints_every_mode_within_100_columns(tmp_path, capsys):
    from paddle_flops_ext.cli import latency as cli
    fits = {m: Fit(m, {"run": KindCoefficients(1e-4), "conv_3x3": KindCoefficients(1e-4, 1e-11)})
            for m in ("inference", "eager")}
    path = tmp_path / "cal.json"
    Calibration({"cpu_model": "fake"}, {"matmul_gflops_peak": 100.0, "copy_gbps_peak": 10.0}, fits).save(str(path))
    q = _parser(cli.add_predict_arguments)
    assert cli.run_predict(q.parse_args(["mobilenet_v3_small", "--calibration", str(path), "--top", "3"]), q) == 0
    out = capsys.readouterr().out
    assert "inference" in out and "eager" in out and "roofline" in out
    assert max(len(line) for line in out.splitlines()) <= 100
    assert cli.run_predict(q.parse_args(["mobilenet_v3_small", "--calibration", str(path), "--json"]), q) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["predictions"]) == {"inference", "eager"}


# -- the validation pipeline ------------------------------------------------------------

@pytest.mark.slow
def test_three_model_validation_pipeline_writes_its_result_files(tmp_path):
    sys.path.insert(0, ROOT)
    from benchmarks import bench_latency_validation as v
    cal_path = tmp_path / "cal.json"
    calibrate(cases=cal_mod.CASES[:20], budget_s=60, progress=None,
              peak=lambda: {"matmul_gflops_peak": 50.0, "copy_gbps_peak": 10.0}).save(str(cal_path))
    assert v.main(["--calibration", str(cal_path), "--models", ",".join(v.PIPELINE_MODELS), "--processes", "2",
                   "--budget", "0.2", "--out", str(tmp_path), "--tag", "latency_pipeline"]) == 0
    doc = json.loads((tmp_path / "latency_pipeline.json").read_text())
    assert {r["model"] for r in doc["rows"]} == set(v.PIPELINE_MODELS)
    assert {(r["batch"], r["mode"]) for r in doc["rows"]} == {(1, "inference"), (1, "eager"), (8, "inference")}
    for r in doc["rows"]:
        assert r["measured_ms"] > 0 and len(r["process_medians_ms"]) == 2
        assert r["error"] == pytest.approx(r["predicted_ms"] / r["measured_ms"] - 1)
    md = (tmp_path / "latency_pipeline.md").read_text()
    assert "within +-10 %" in md and "resnet18" in md and "roofline" in md


def test_validation_reusing_measurements_times_nothing_and_keeps_the_measured_columns():
    sys.path.insert(0, ROOT)
    from benchmarks import bench_latency_validation as v
    model = next(m for m in v.MODELS if m.name == "bert_mini")
    earlier = {"rows": [{"model": "bert_mini", "batch": 1, "mode": "inference", "measured_ms": 8.0,
                         "interval_ms": [7.0, 9.0], "process_medians_ms": [7.9, 8.0, 8.2],
                         "between_process_spread": 0.04, "errors": [], "load": [None]}]}
    fits = {m: Fit(m, {"run": KindCoefficients(1e-4), "matmul": KindCoefficients(0.0, 1e-11)})
            for m in ("inference", "eager")}
    cal = Calibration({"cpu_model": "fake"}, None, fits)

    def no_timing(*a, **k):
        raise AssertionError("a reused validation must not time anything")
    got = v.validate([model], cal, plan={1: ("inference", "eager")}, timing=no_timing, progress=None,
                     reuse=v.reused_measurements(earlier))
    rows = {r["mode"]: r for r in got["rows"]}
    inf = rows["inference"]
    assert inf["measured_ms"] == 8.0 and inf["process_medians_ms"] == [7.9, 8.0, 8.2]
    assert inf["error"] == pytest.approx(inf["predicted_ms"] / 8.0 - 1)
    # eager was not measured in the earlier run: no measurement, no error, not in the summary
    assert rows["eager"]["measured_ms"] is None and rows["eager"]["error"] is None
    assert [s["n"] for s in got["summary"] if s["mode"] == "all"] == [1]
    doc = {"command": "python benchmarks/bench_latency_validation.py --reuse-measurements old.json",
           "date": "2026-12-08T02:00:00", "machine": {"cpu_model": "fake"}, "threads": 2,
           "calibration_file": "cal.json", "calibration_cases": 3, "forms": ["roofline"], "processes": 3,
           "load_before": {}, "load_after": {}, "notes": [], "errors": [],
           "measurements_reused_from": {"file": "old.json", "date": "2026-12-08T01:06:02",
                                        "command": "python benchmarks/bench_latency_validation.py --processes 3"},
           **got}
    md = v.markdown(doc)
    assert "reused from the run of 2026-12-08T01:06:02" in md and "fit form roofline" in md
