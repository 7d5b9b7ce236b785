"""The benchmark harness (paddle_flops_ext.bench) and the benchmark zoo models.

No test here asserts a wall-clock time: timing logic is checked with an
injected clock and sync callable, statistics against values worked out by
hand, the roofline on synthetic layers whose intensity is known.
"""
import json
import math
import os
import sys
import textwrap

import numpy as np
import paddle
import paddle.nn as nn
import pytest

from paddle_flops_ext.bench import modes, timing
from paddle_flops_ext.estimates import roofline
from paddle_flops_ext.bench.layers import time_layers
from paddle_flops_ext.bench.runner import SCHEMA, BenchConfig, Progress, run_benchmark
from paddle_flops_ext.formulas.registry import Cost
from paddle_flops_ext.report.result import LayerNode, ProfileResult


class Counting(nn.Layer):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.fc(x)


# -- statistics ----------------------------------------------------------------

def test_summarize_known_samples():
    st = timing.summarize([float(v) for v in range(10, 0, -1)])   # 1..10, unsorted
    assert st.n == 10
    assert st.median == pytest.approx(5.5)
    assert st.mean == pytest.approx(5.5)
    # sample std: sum of squared deviations of 1..10 is 82.5, over n-1 = 9
    assert st.std == pytest.approx(math.sqrt(82.5 / 9))
    assert (st.min, st.max) == (1.0, 10.0)
    # linear interpolation: rank (n-1)*q = 0.9 -> 1.9 and 8.1 -> 9.1
    assert st.p10 == pytest.approx(1.9)
    assert st.p90 == pytest.approx(9.1)
    assert st.spread == pytest.approx((9.1 - 1.9) / 5.5)
    assert st.noisy


def test_percentiles_agree_with_numpy_and_quiet_runs_are_not_noisy():
    xs = [0.101, 0.099, 0.1, 0.1005, 0.0995, 0.1, 0.102]
    st = timing.summarize(xs)
    assert st.p10 == pytest.approx(np.percentile(xs, 10))
    assert st.p90 == pytest.approx(np.percentile(xs, 90))
    assert st.std == pytest.approx(np.std(xs, ddof=1))
    assert not st.noisy
    one = timing.summarize([2.0])
    assert one.std == 0.0 and one.median == one.p10 == one.p90 == 2.0
    d = st.to_dict(1e3)
    assert d["median"] == pytest.approx(1e3 * st.median) and d["n"] == 7 and d["noisy"] is False
    with pytest.raises(ValueError):
        timing.summarize([])


def test_warmup_runs_are_excluded_from_samples():
    net = Counting()
    x = paddle.ones([1, 4])
    reads = []

    def clock():
        reads.append(net.calls)
        return float(len(reads))

    samples, st = timing.time_callable(lambda: net(x), warmup=3, repeats=5, clock=clock)
    assert net.calls == 8
    assert len(samples) == st.n == 5
    # the clock is first read after the three warm-up calls, then once before
    # and once after each timed call
    assert reads == [3, 4, 4, 5, 5, 6, 6, 7, 7, 8]
    assert samples == [1.0] * 5


def test_sync_is_called_once_per_timed_run_before_the_clock_is_read():
    net = Counting()
    x = paddle.ones([1, 4])
    events = []
    clock_t = [0.0]

    def sync():
        events.append(("sync", net.calls))

    def clock():
        events.append(("clock", net.calls))
        clock_t[0] += 1.0
        return clock_t[0]

    timing.time_callable(lambda: net(x), warmup=2, repeats=4, sync=sync, clock=clock)
    syncs = [c for e, c in events if e == "sync"]
    # one after the warm-up, then one after each of the 4 timed calls
    assert syncs == [2, 3, 4, 5, 6]
    # every closing clock read of a timed call comes right after that call's sync
    for i, (e, calls) in enumerate(events):
        if e == "clock" and i > 0 and events[i - 1][0] == "sync":
            assert events[i - 1][1] == calls
    closing = [i for i, (e, _) in enumerate(events) if e == "clock"][1::2]
    assert all(events[i - 1][0] == "sync" for i in closing)


def test_device_sync_choice_and_argument_checks():
    assert timing.device_sync("cpu")() is None
    assert timing.device_sync("gpu:0") is paddle.device.synchronize
    with pytest.raises(ValueError):
        timing.time_callable(lambda: None, repeats=0)
    info = timing.set_threads(1)
    assert info["threads"] == 1 and info["cpu_count"] == os.cpu_count()
    timing.set_threads(None)


# -- per-layer timing ------------------------------------------------------------

class Pair(nn.Layer):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.ReLU()

    def forward(self, x):
        return self.b(self.a(x))


def test_time_layers_inclusive_and_exclusive_with_a_ticking_clock():
    net = Pair()
    t = [0.0]

    def clock():           # advances by one per read: times count clock reads
        t[0] += 1.0
        return t[0]
    syncs = []
    res = time_layers(net, [paddle.ones([2, 4])], warmup=1, repeats=3, sync=lambda: syncs.append(1),
                      clock=clock)
    # reads: Pair pre, a pre, a post, b pre, b post, Pair post
    assert res["layers"]["a"] == {"inclusive": 1.0, "exclusive": 1.0, "calls": 1, "child_calls": 0}
    assert res["layers"]["b"]["inclusive"] == 1.0
    assert res["layers"][""]["inclusive"] == 5.0
    assert res["layers"][""]["exclusive"] == 3.0
    assert res["layers"][""]["child_calls"] == 2
    assert res["total"] == 5.0
    # passes without hooks: one clock read before and one after each
    assert res["unhooked"] == 1.0
    # hooked: one sync per pass before it and one per layer call: 4 passes x (1 + 3);
    # unhooked: one before and one after each of 4 passes
    assert len(syncs) == 16 + 8
    # hooks are removed afterwards
    assert not net._forward_pre_hooks and not net.a._forward_post_hooks


# -- roofline -----------------------------------------------------------------

PEAK = {"matmul_gflops_peak": 10.0, "copy_gbps_peak": 2.0, "ridge_flops_per_byte": 5.0}


def _synthetic():
    # bytes of each leaf: (10 in + 10 out + 5 params) x 4 = 100
    hi = LayerNode("hi", "Conv2D", 1, calls=1, input_shape=[(10,)], output_shape=[(10,)], params=5,
                   cost=Cost(500, 1000, 500))
    lo = LayerNode("lo", "Conv2D", 1, calls=1, input_shape=[(2, 5)], output_shape=[(10,)], params=5,
                   cost=Cost(50, 100, 50))
    edge = LayerNode("edge", "Linear", 1, calls=1, input_shape=[(10,)], output_shape=[(10,)], params=5,
                     cost=Cost(250, 500, 250))
    root = LayerNode("", "Net", 0, calls=1, cost=Cost(10, 40, 10), children=[hi, lo, edge])
    timings = {"layers": {"": {"exclusive": 0.002, "calls": 1}, "hi": {"exclusive": 0.001, "calls": 1},
                          "lo": {"exclusive": 0.001, "calls": 1}, "edge": {"exclusive": 0.004, "calls": 1}}}
    return ProfileResult(root=root), timings


def test_roofline_classification_on_synthetic_layers():
    assert roofline.layer_bytes([(10,)], [(10,)], 5, 4) == 100
    assert roofline.layer_bytes([[(2, 3), (3,)]], [(1,)], 0, 2) == 20
    assert roofline.classify(10.0, 5.0) == "compute"
    assert roofline.classify(1.0, 5.0) == "memory"
    assert roofline.classify(5.0, 5.0) == "compute"   # at the ridge
    assert roofline.classify(None, 5.0) is None

    result, timings = _synthetic()
    rows = {r["name"]: r for r in roofline.per_layer_rows(result, timings, PEAK)}
    assert rows["hi"]["bytes"] == 100 and rows["hi"]["intensity"] == pytest.approx(10.0)
    assert rows["hi"]["bound"] == "compute"
    assert rows["lo"]["intensity"] == pytest.approx(1.0) and rows["lo"]["bound"] == "memory"
    assert rows["edge"]["intensity"] == pytest.approx(5.0) and rows["edge"]["bound"] == "compute"
    # roofline time: max(1000 / 1e10, 100 / 2e9) s = 1e-7 s (compute side is longer);
    # for "lo": max(100 / 1e10, 100 / 2e9) = 5e-8 s (memory side)
    assert rows["hi"]["roofline_ms"] == pytest.approx(1e-4)
    assert rows["lo"]["roofline_ms"] == pytest.approx(5e-5)
    assert rows["lo"]["attainable_gflops"] == pytest.approx(2.0)   # 1 FLOP/B x 2 GB/s
    assert rows["hi"]["achieved_gflops"] == pytest.approx(1000 / 0.001 / 1e9)
    # the container's own operations: time and FLOPs, no byte estimate
    assert rows["Net"]["bytes"] is None and rows["Net"]["bound"] is None
    assert rows["Net"]["time_ms"] == pytest.approx(2.0)
    total_ms = 1 + 1 + 4 + 2
    assert rows["edge"]["time_share"] == pytest.approx(4 / total_ms)
    assert rows["hi"]["flops_share"] == pytest.approx(1000 / 1640)

    kinds = {k["kind"]: k for k in roofline.summarize_kinds(list(rows.values()), PEAK)}
    conv = kinds["Conv2D"]                      # hi + lo: 1100 FLOPs over 200 bytes
    assert conv["layers"] == 2 and conv["intensity"] == pytest.approx(5.5)
    assert conv["bound"] == "compute" and conv["time_ms"] == pytest.approx(2.0)
    assert kinds["Net (own ops)"]["bound"] is None


def _peak_doc(gf, bw, eager, l2=50.0, bf16=None):
    from paddle_flops_ext.bench.peak import finish_peak, unavailable

    def ran(g):
        return {"status": "ran", "gflops_peak": g, "gflops_median": g, "noisy": False}
    return finish_peak({
        "matmul_n": 8, "repeats": 1, "notes": [],
        "compute": {"fp32": {**ran(gf), "backend": "inference",
                             "backends": {"eager": ran(eager), "inference": ran(gf)}},
                    "bf16": ran(bf16) if bf16 else unavailable("no bf16"),
                    "int8": unavailable("not quantised")},
        "bandwidth": [{"level": "L2", "working_set_bytes": 1000, "capacity_bytes": 2000,
                       "gbps_peak": l2, "gbps_median": l2},
                      {"level": "DRAM", "working_set_bytes": 10 ** 6, "capacity_bytes": None,
                       "gbps_peak": bw, "gbps_median": bw}]})


def test_combine_peaks_keeps_the_best_roofs_and_recomputes_the_ridge():
    from paddle_flops_ext.bench.peak import combine_peaks
    p = combine_peaks(_peak_doc(100.0, 20.0, 30.0, l2=60.0), _peak_doc(80.0, 25.0, 40.0, bf16=150.0))
    assert p["matmul_gflops_peak"] == 100.0 and p["copy_gbps_peak"] == 25.0
    assert p["ridge_flops_per_byte"] == pytest.approx(4.0)
    assert p["matmul_backends"]["eager"]["gflops_peak"] == 40.0
    assert p["compute"]["bf16"]["gflops_peak"] == 150.0          # ran in one measurement only
    assert p["compute"]["int8"]["status"] == "unavailable"
    assert {b["level"]: b["gbps_peak"] for b in p["bandwidth"]} == {"L2": 60.0, "DRAM": 25.0}
    assert len(p["measurements"]) == 2


def test_layer_kind_labels_depthwise_and_pointwise_convolutions():
    assert roofline.layer_kind(nn.Conv2D(8, 8, 3, groups=8)) == "conv depthwise"
    assert roofline.layer_kind(nn.Conv2D(8, 16, 1)) == "conv 1x1"
    assert roofline.layer_kind(nn.Conv2D(8, 16, 3)) == "conv kxk"
    assert roofline.layer_kind(nn.Conv2D(8, 16, 3, groups=2)) == "conv grouped"
    assert roofline.layer_kind(nn.Linear(2, 2)) == "linear"
    assert roofline.layer_kind(nn.BatchNorm2D(3)) == "norm"


# -- modes ------------------------------------------------------------------------

class TinyCNN(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3, padding=1)
        self.dw = nn.Conv2D(4, 4, 3, padding=1, groups=4)
        self.pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        return self.fc(self.pool(self.dw(nn.functional.relu(self.conv(x)))).flatten(1))


def test_compiled_modes_compute_what_eager_computes(tmp_path):
    paddle.seed(1)
    net = TinyCNN()
    net.eval()
    x = [paddle.randn([2, 3, 8, 8])]
    ref = net(*x).numpy()
    for name in ("eager", "to_static", "inference"):
        pm = modes.prepare_mode(name, net, x, threads=1, reference=ref, workdir=str(tmp_path))
        assert pm.status == "ran", (name, pm.reason)
        out = pm.fn()
        arr = out[0] if isinstance(out, list) else out.numpy()
        np.testing.assert_allclose(np.asarray(arr), ref, rtol=1e-4, atol=1e-5)
        if name != "eager":
            assert pm.max_abs_diff is not None and pm.max_abs_diff < 1e-4
        pm.close()
    assert not os.listdir(tmp_path)          # the saved inference model is cleaned up


def test_unavailable_and_unknown_modes_say_why():
    net = TinyCNN()
    pm = modes.prepare_mode("inference_trt", net, [paddle.randn([1, 3, 8, 8])], device="cpu")
    assert pm.status == "unavailable" and "TensorRT" in pm.reason
    pm = modes.prepare_mode("nonsense", net, [paddle.randn([1, 3, 8, 8])])
    assert pm.status == "failed" and "unknown mode" in pm.reason


def test_progress_bar_writes_steps():
    import io
    buf = io.StringIO()
    bar = Progress(4, stream=buf)
    bar.step("resnet18 eager")
    bar.step("resnet18 inference", 2)
    text = buf.getvalue()
    assert "1/4" in text and "3/4" in text and "resnet18 inference" in text


# -- end to end ----------------------------------------------------------------------

TINY_MODULE = textwrap.dedent("""
    import paddle.nn as nn

    class Tiny(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2D(3, 8, 3, padding=1)
            self.bn = nn.BatchNorm2D(8)
            self.dw = nn.Conv2D(8, 8, 3, padding=1, groups=8)
            self.pool = nn.AdaptiveAvgPool2D(1)
            self.fc = nn.Linear(8, 4)

        def forward(self, x):
            x = nn.functional.relu(self.bn(self.conv(x)))
            return self.fc(self.pool(self.dw(x)).flatten(1))

    def tiny():
        return Tiny()
""")

RESULT_KEYS = {"model", "source", "batch_size", "input_size", "input_shapes", "mode", "status",
               "reason", "notes", "setup_s", "macs", "flops", "paddle_flops", "params",
               "uncounted_ops", "latency_ms", "noisy", "throughput_per_s", "achieved_gflops",
               "frac_peak", "max_abs_diff_vs_eager", "load_1min", "load_check", "samples_ms",
               "precision", "weight_bytes", "task_index", "mode_index"}


def install_module(tmp_path, monkeypatch, name, text):
    """Write module ``name`` into ``tmp_path/mods`` and make it importable (fresh)."""
    mod_dir = tmp_path / "mods"
    mod_dir.mkdir(exist_ok=True)
    (mod_dir / f"{name}.py").write_text(text)
    monkeypatch.syspath_prepend(str(mod_dir))
    sys.modules.pop(name, None)
    return name


@pytest.fixture
def tiny_module(tmp_path, monkeypatch):
    return install_module(tmp_path, monkeypatch, "pfe_bench_tiny", TINY_MODULE) + ":tiny"


@pytest.mark.slow
def test_cli_end_to_end_on_a_tiny_model(tmp_path, tiny_module, capsys):
    from paddle_flops_ext.cli import main
    out = tmp_path / "results"
    rc = main(["bench", "--models", tiny_module, "--repeats", "3", "--warmup", "1", "--out", str(out),
               "--input-sizes", "16", "--batch-sizes", "1,2", "--quick", "--load-wait", "0",
               "--modes", "eager,to_static,inference"])
    assert rc == 0
    names = set(os.listdir(out))
    assert {"bench_cpu.json", "bench_cpu.csv", "bench_cpu.md", "bench_cpu_layers.csv",
            "bench_cpu_machine.txt"} <= names
    doc = json.loads((out / "bench_cpu.json").read_text())
    assert doc["schema"] == SCHEMA
    assert {"schema", "created", "command", "machine", "config", "peak", "results", "per_layer",
            "notes"} <= set(doc)
    assert {"matmul_gflops_peak", "copy_gbps_peak", "ridge_flops_per_byte"} <= set(doc["peak"])
    assert {"cpu_model", "cpu_count", "paddle", "threads", "device"} <= set(doc["machine"])
    assert len(doc["results"]) == 2 * 3                  # 2 batch sizes x 3 modes
    assert BenchConfig().modes == ["eager", "to_static", "inference", "inference_bf16", "inference_int8"]
    for r in doc["results"]:
        assert RESULT_KEYS <= set(r)
        assert r["status"] == "ran", r["reason"]
        assert r["latency_ms"]["n"] == 3 and len(r["samples_ms"]) == 3
        assert {"median", "mean", "std", "min", "max", "p10", "p90", "spread", "noisy", "ci_low", "ci_high",
                "ci_rel", "converged", "stop"} <= set(r["latency_ms"])
    # conv 3*8*9*16*16 + dw 8*9*16*16 + fc 8*4 MACs per sample
    per_sample = 3 * 8 * 9 * 256 + 8 * 9 * 256 + 32
    assert {r["batch_size"]: r["macs"] for r in doc["results"]} == {1: per_sample, 2: 2 * per_sample}
    pl = doc["per_layer"][0]
    kinds = {row["name"]: row["kind"] for row in pl["layers"]}
    assert kinds["dw"] == "conv depthwise" and kinds["conv"] == "conv kxk"
    assert {"kind", "time_share", "flops_share", "bound"} <= set(pl["by_kind"][0])
    md = (out / "bench_cpu.md").read_text()
    assert "| Model | Batch |" in md and "Per layer" in md
    csv_lines = (out / "bench_cpu.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + 6 and csv_lines[0].startswith("model,")
    assert {"unhooked_ms", "sum_exclusive_ms", "sum_exclusive_raw_ms", "hook_overhead_us"} <= set(pl)
    printed = capsys.readouterr()
    assert "wrote" in printed.out and "/" in printed.err     # progress bar on stderr
    assert "median" in printed.out and "95% CI" in printed.out and "GFLOP/s" in printed.out   # the summary


def test_plots_are_skipped_with_a_message_without_matplotlib(tmp_path, tiny_module, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)      # import matplotlib -> ImportError
    doc = run_benchmark(BenchConfig(models=[tiny_module], input_sizes=[8], modes=["eager"], repeats=2,
                                    warmup=0, quick=True, out=str(tmp_path), progress=False,
                                    per_layer=False, load_wait_s=0))
    assert "matplotlib" in doc["files"]["plots_skipped"]
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".png")]


def test_unknown_model_name_is_an_error():
    with pytest.raises(ValueError, match="unknown model"):
        run_benchmark(BenchConfig(models=["no_such_model"], out=None, progress=False))


# -- zoo models -------------------------------------------------------------------------

def _vit_params(img, patch, dim, depth, classes, mlp=4):
    n = (img // patch) ** 2
    block = 2 * (2 * dim) + (dim * 3 * dim + 3 * dim) + (dim * dim + dim) \
        + (dim * mlp * dim + mlp * dim) + (mlp * dim * dim + dim)
    return (3 * patch * patch * dim + dim) + dim + (n + 1) * dim + depth * block + 2 * dim \
        + dim * classes + classes


def test_zoo_lists_the_transformers_and_vit_params_match_the_formula():
    from paddle_flops_ext.bench.zoo import default_zoo
    zoo, notes = default_zoo()
    assert {"resnet18", "resnet50", "mobilenet_v2", "vgg16", "vit_b16", "swin_t"} <= set(zoo)
    from paddle_flops_ext.models import vit_tiny_test, vit_base_patch16
    net = vit_tiny_test()
    assert sum(int(np.prod(p.shape)) for p in net.parameters()) == _vit_params(32, 8, 32, 2, 10)
    assert list(net(paddle.randn([2, 3, 32, 32])).shape) == [2, 10]
    with paddle.LazyGuard():
        big = vit_base_patch16()
    n = sum(int(np.prod(p.shape)) for p in big.parameters())
    assert n == _vit_params(224, 16, 768, 12, 1000) == 86_567_656   # published ViT-B/16 size


def test_swin_shift_mask_and_tiny_forward():
    from paddle_flops_ext.models import swin_tiny, swin_tiny_test
    from paddle_flops_ext.models.swin import relative_position_index, shift_mask
    m = shift_mask(8, 8, 4, 2)
    assert m.shape == (4, 16, 16)
    assert not m[0].any()                     # top-left window lies in one region
    # bottom-right window holds 4 regions of 4 tokens: 16*16 - 4*(4*4) pairs are masked
    assert (m[3] != 0).sum() == 256 - 4 * 16
    idx = relative_position_index(3)
    assert idx.shape == (9, 9) and idx.min() == 0 and idx.max() == 24 and (np.diag(idx) == 12).all()
    net = swin_tiny_test()
    net.eval()
    assert list(net(paddle.randn([2, 3, 32, 32])).shape) == [2, 10]
    with paddle.LazyGuard():
        big = swin_tiny()
    # published Swin-T size
    assert sum(int(np.prod(p.shape)) for p in big.parameters()) == 28_288_354
