"""The sweep keeps going and loses nothing: arguments are checked before any
work (one line naming the flag, exit status 2), a failing model gets failed
rows with its message while the others are timed, results are on disk after
each model, the exit status says when runs failed. Also the cache-aware
roofline, the hooks' overhead correction, the summary table and the plots.
No wall-clock assertions."""
import json
import os
import sys
import textwrap

import pytest

from paddle_flops_ext.bench import layers, runner
from paddle_flops_ext.cli import benchmarks as cli
from paddle_flops_ext.estimates import roofline
from paddle_flops_ext.bench.report import summary_table
from test_bench import install_module

MODULE = textwrap.dedent("""
    import json, os
    import paddle.nn as nn

    SEEN = {}

    class Good(nn.Layer):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(12, 3)

        def forward(self, x):
            return self.fc(x.flatten(1))

    class Broken(nn.Layer):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(12, 3)

        def forward(self, x):
            raise RuntimeError("this model is broken on purpose")

    def good():
        return Good()

    def broken():
        return Broken()

    def spy():
        # built after "good": its results must already be on disk
        path = os.environ["PFE_SPY_FILE"]
        SEEN["doc"] = json.load(open(path)) if os.path.exists(path) else None
        return Good()
""")


@pytest.fixture
def mods(tmp_path, monkeypatch):
    return install_module(tmp_path, monkeypatch, "pfe_runner_mods", MODULE)


FAST = ["--input-shape", "3,2,2", "--modes", "eager", "--repeats", "2", "--warmup", "0", "--quick",
        "--no-plots", "--no-progress", "--load-wait", "0", "--no-per-layer"]


@pytest.mark.parametrize("args,flag", [
    (["--threads", "-2"], "--threads"), (["--threads", "0"], "--threads"),
    (["--per-layer-repeats", "0"], "--per-layer-repeats"), (["--noise-threshold", "-1"], "--noise-threshold"),
    (["--noise-threshold", "0"], "--noise-threshold"), (["--models", ","], "--models"),
    (["--tag", "../../x"], "--tag"), (["--tag", "a/b"], "--tag"), (["--modes", "fast"], "--modes"),
    (["--models", "no_such_model"], "--models"), (["--min-repeats", "3"], "--min-repeats"),
    (["--budget", "0"], "--budget"), (["--ci-target", "0"], "--ci-target"), (["--processes", "0"], "--processes"),
    (["--device", "tpu"], "--device"),
])
def test_bad_arguments_name_the_flag_and_exit_2_before_any_work(args, flag, tmp_path, capsys):
    out = tmp_path / "never"
    rc = cli.main(args + ["--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert flag in err and "Traceback" not in err
    lines = err.strip().splitlines()
    assert all(line.startswith("  ") for line in lines[1:])      # one message, wrapped to the terminal
    assert not out.exists() or not os.listdir(out)


def test_unwritable_out_is_found_before_the_sweep(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc = cli.main(["--models", "resnet18", "--out", str(blocker / "sub")])
    err = " ".join(capsys.readouterr().err.split())     # the message is wrapped to the terminal
    assert rc == 2 and "--out" in err and "not writable" in err and "Traceback" not in err


def test_gpu_request_on_a_cpu_build_says_so():
    with pytest.raises(runner.ConfigError, match="--device.*no CUDA support"):
        runner.resolve_device("gpu", compiled_with_cuda=False, gpu_count=0)
    with pytest.raises(runner.ConfigError, match="sees 1 GPU"):
        runner.resolve_device("gpu:1", compiled_with_cuda=True, gpu_count=1)
    assert runner.resolve_device("gpu", compiled_with_cuda=True, gpu_count=2) == "gpu:0"
    assert runner.resolve_device("auto", compiled_with_cuda=True, gpu_count=0) == "cpu"
    assert runner.resolve_device("auto", compiled_with_cuda=False, gpu_count=0) == "cpu"


def test_cli_gpu_on_this_build(tmp_path, capsys):
    import paddle
    if paddle.device.is_compiled_with_cuda():
        pytest.skip("a CUDA build")
    rc = cli.main(["--device", "gpu", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "--device" in err and "CUDA" in err and "re.Match" not in err


def test_a_failing_model_keeps_everyone_elses_results(tmp_path, mods, monkeypatch, capsys):
    out = tmp_path / "out"
    monkeypatch.setenv("PFE_SPY_FILE", str(out / "bench_cpu.json"))
    rc = cli.main(["--models", f"{mods}:good,{mods}:broken,{mods}:spy", "--out", str(out)] + FAST)
    printed = capsys.readouterr()
    assert rc == 1                                     # a run failed
    doc = json.loads((out / "bench_cpu.json").read_text())
    status = {r["model"].split(":")[1]: (r["status"], r["reason"]) for r in doc["results"]}
    assert status["good"][0] == "ran" and status["spy"][0] == "ran"
    assert status["broken"][0] == "failed"
    assert "RuntimeError" in status["broken"][1] and "broken on purpose" in status["broken"][1]
    assert doc["complete"] and doc["peak"]["matmul_gflops_peak"] > 0
    # written after each model: when "spy" was built, good's and broken's rows were on disk
    seen = sys.modules["pfe_runner_mods"].SEEN["doc"]
    assert seen is not None and not seen["complete"]
    assert [r["model"].split(":")[1] for r in seen["results"]] == ["good", "broken"]
    assert "broken on purpose" in printed.out          # the summary table names it
    assert "failed" in printed.err and "Traceback" not in printed.err


def test_default_output_is_a_new_timestamped_directory(tmp_path, mods, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rc = cli.main(["--models", f"{mods}:good"] + FAST)
    assert rc == 0
    (stamp,) = os.listdir(tmp_path / "paddle_flops_bench")
    assert len(stamp) == len("20250101-120000") and stamp[8] == "-"
    assert "bench_cpu.json" in os.listdir(tmp_path / "paddle_flops_bench" / stamp)
    assert runner.default_out_dir().startswith("paddle_flops_bench" + os.sep)
    out = capsys.readouterr().out
    assert "median" in out and "GFLOP/s" in out and f"{mods}:good" in out


@pytest.mark.slow
def test_processes_merge_fresh_interpreters(tmp_path, mods, monkeypatch, capsys):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "mods"), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "out"
    rc = cli.main(["--models", f"{mods}:good", "--out", str(out), "--processes", "2"] + FAST)
    assert rc == 0, capsys.readouterr()
    doc = json.loads((out / "bench_cpu.json").read_text())
    (row,) = doc["results"]
    assert doc["processes"] == 2
    assert len(row["between_process"]["medians_ms"]) == 2 and row["latency_ms"]["n"] == 4
    assert "between-proc" in capsys.readouterr().out


# -- roofline with cache roofs ----------------------------------------------------------

PEAK = {"matmul_gflops_peak": 100.0, "copy_gbps_peak": 10.0, "ridge_flops_per_byte": 10.0,
        "bandwidth": [{"level": "L1", "capacity_bytes": 1_000, "gbps_peak": 20.0},   # below L2: not used
                      {"level": "L2", "capacity_bytes": 10_000, "gbps_peak": 50.0},
                      {"level": "DRAM", "capacity_bytes": None, "gbps_peak": 10.0}]}


def test_each_layer_is_judged_against_the_roof_for_its_working_set():
    roofs = roofline.bandwidth_roofs(PEAK)
    assert roofline.roof_for(500, roofs) == ("L2", 50.0)      # fits L1 too, L2 is faster
    assert roofline.roof_for(5_000, roofs) == ("L2", 50.0)
    assert roofline.roof_for(50_000, roofs) == ("DRAM", 10.0)
    rows = [{"intensity": 5.0, "bytes": 5_000, "flops": 25_000, "achieved_gflops": 1.0},
            {"intensity": 5.0, "bytes": 50_000, "flops": 250_000, "achieved_gflops": 1.0}]
    small, big = roofline.apply_peak(rows, PEAK)
    # same intensity: the L2-resident layer is compute-bound? no: ridge at L2 is 100/50 = 2 FLOP/B
    assert (small["roof_level"], small["bound"], small["attainable_gflops"]) == ("L2", "compute", 100.0)
    assert (big["roof_level"], big["bound"], big["attainable_gflops"]) == ("DRAM", "memory", 50.0)
    assert big["roofline_ms"] == pytest.approx(50_000 / 10e9 * 1e3)
    # a document without per-level measurements has the DRAM roof only
    assert roofline.bandwidth_roofs({"copy_gbps_peak": 7.0}) == [("DRAM", None, 7.0)]


def test_hook_overhead_is_split_between_the_layer_and_its_parent():
    # 4 do-nothing children: hooked pass 10 us, unhooked 2 us, each child's own interval 0.5 us
    t = {"total": 10e-6, "unhooked": 2e-6,
         "layers": {"": {"inclusive": 10e-6}, **{f"n{i}": {"inclusive": 0.5e-6} for i in range(4)}}}
    ov = layers.overhead_from_timing(t, 4)
    assert ov["per_call"] == pytest.approx((10e-6 - 2e-6 - 0.5e-6) / 4)
    assert ov["a"] == pytest.approx(0.5e-6) and ov["b"] == pytest.approx(ov["per_call"] - 0.5e-6)
    timing = {"layers": {"": {"exclusive": 20e-6, "calls": 1, "child_calls": 3},
                         "conv": {"exclusive": 30e-6, "calls": 2, "child_calls": 0},
                         "tiny": {"exclusive": 0.1e-6, "calls": 1, "child_calls": 0}}}
    corr = layers.correct_overhead(timing, {"a": 1e-6, "b": 2e-6})
    assert corr[""] == pytest.approx(20e-6 - 1e-6 - 3 * 2e-6)
    assert corr["conv"] == pytest.approx(30e-6 - 2 * 1e-6)
    assert corr["tiny"] == 0.0                          # never negative


def test_summary_table_lists_every_run_with_its_interval():
    doc = {"results": [
        {"model": "resnet18", "batch_size": 1, "input_size": 224, "mode": "eager", "status": "ran",
         "latency_ms": {"median": 80.0, "ci_low": 79.0, "ci_high": 81.5, "ci_rel": 0.019, "n": 40,
                        "converged": True}},
        {"model": "resnet18", "batch_size": 1, "input_size": 224, "mode": "inference_int8",
         "status": "unavailable", "reason": "needs a quantised model", "latency_ms": None}]}
    text = summary_table(doc)
    assert "±1.9%" in text and "±1.9%*" not in text and "80 ms" in text
    assert "resnet18 / inference_int8: unavailable: needs a quantised model" in text
    assert text.splitlines()[-1].startswith("1 of 2 runs timed; 1 converged")


def test_plots_attribute_every_point_and_draw_cache_roofs(tmp_path):
    pytest.importorskip("matplotlib")
    from paddle_flops_ext.bench import plots

    def res(model, mode, flops, med):
        return {"model": model, "mode": mode, "status": "ran", "flops": flops, "batch_size": 1,
                "input_size": 224, "latency_ms": {"median": med, "p10": med * 0.9, "p90": med * 1.2}}
    layer = {"name": "c", "kind": "conv 1x1", "flops": 1e6, "time_ms": 0.1, "intensity": 3.0,
             "achieved_gflops": 10.0}
    doc = {"results": [res("a", "eager", 1e9, 10.0), res("a", "inference", 1e9, 3.0),
                       res("b", "eager", 1.1e9, 12.0)],
           "peak": dict(PEAK, compute={"bf16": {"status": "ran", "gflops_peak": 200.0}}),
           "machine": {"device": "cpu", "cpu_model": "x", "threads": {"threads": 2}},
           "config": {"batch_sizes": [1]},
           "per_layer": [{"model": m, "batch_size": 1, "input_size": 224, "layers": [layer]} for m in "ab"]}
    assert plots.model_markers(["a", "b"]) == {"a": "o", "b": "s"}
    made, skipped = plots.write_plots(doc, str(tmp_path), "t")
    assert skipped is None and set(made) == {"plot_flops_vs_latency", "plot_layers"}
    made, _ = plots.write_plots(doc, str(tmp_path), "one", plot_model="b")
    assert os.path.getsize(made["plot_layers"]) > 0


def _ran(mode, precision, flops, median_ms, parallelism=2.0):
    return {"model": "resnet18", "batch_size": 1, "input_size": 224, "mode": mode, "precision": precision,
            "status": "ran", "flops": flops, "parallelism": parallelism,
            "latency_ms": {"median": median_ms, "ci_low": median_ms * 0.99, "ci_high": median_ms * 1.01,
                           "ci_rel": 0.01, "n": 30, "converged": True}}


def test_percent_of_peak_uses_the_peak_of_the_modes_precision():
    peak = dict(PEAK, compute={"fp32": {"status": "ran", "gflops_peak": 100.0},
                               "bf16": {"status": "ran", "gflops_peak": 400.0},
                               "int8": {"status": "unavailable"}})
    doc = {"peak": peak, "per_layer": [], "results": [_ran("inference", "fp32", 3_600_000_000, 40.0),
                                                      _ran("inference_bf16", "bf16", 3_600_000_000, 20.0),
                                                      _ran("inference_int8", "int8", 3_600_000_000, 20.0)]}
    for row in doc["results"]:
        row["achieved_gflops"] = row["flops"] / (row["latency_ms"]["median"] / 1e3) / 1e9
    runner.reapply_peak(doc)
    fp32, bf16, int8 = (r["frac_peak"] for r in doc["results"])
    assert fp32 == pytest.approx(90.0 / 100.0)        # 3.6 GFLOP in 40 ms = 90 GFLOP/s of a 100 peak
    assert bf16 == pytest.approx(180.0 / 400.0)       # below 100 %: divided by the bf16 peak, not fp32's
    assert int8 == pytest.approx(180.0 / 100.0)       # no int8 peak measured: the fp32 one


def test_summary_shows_counts_throughput_peak_share_verdict_and_a_busy_warning():
    layer = {"time_ms": 3.0, "bound": "memory"}
    doc = {"results": [_ran("eager", "fp32", 3_633_892_840, 40.0),
                       _ran("inference", "fp32", 3_633_892_840, 20.0, parallelism=0.04)],
           "per_layer": [{"model": "resnet18", "batch_size": 1, "input_size": 224,
                          "layers": [layer, {"time_ms": 1.0, "bound": "compute"}]}]}
    doc["results"][0].update(achieved_gflops=3.633892840 / 0.040, frac_peak=0.9)
    doc["results"][1].update(achieved_gflops=3.633892840 / 0.020, frac_peak=1.8)
    text = summary_table(doc)
    assert "3.63 G" in text and "40 ms" in text and "90.8" in text and "181.7" in text
    assert "90.0%" in text and "180.0%" in text
    assert "memory 75%" in text                       # memory-bound layers took 3 of the 4 ms
    warning = [line for line in text.splitlines() if line.startswith("WARNING")]
    assert warning and "resnet18 / inference (CPU/wall 0.04)" in warning[0] and "eager" not in warning[0]
    doc["results"][0]["load_check"] = {"busy": True, "busy_fraction": 1.0}
    doc["results"][0]["latency_ms"]["converged"] = False
    text = summary_table(doc)
    assert "resnet18 / eager (other processes used 100% of the CPUs)" in text and "±1.0%*" in text
    for width in (80, 100):
        fitted = summary_table(doc, width)
        assert max(map(len, fitted.splitlines())) <= width
        assert "WARNING: the machine was too busy" in fitted and "median" in fitted
        assert "95% CI" in fitted and "% peak" in fitted and "GFLOP/s" in fitted


def test_default_run_is_quick_and_thorough_is_a_flag():
    from paddle_flops_ext.bench.session import config_from_args
    from paddle_flops_ext.cli.parser import build_parser
    from paddle_flops_ext.models.zoo import BENCH_MODELS

    def config(*argv):
        args = build_parser().parse_args(["bench", *argv, "--out", "x"])
        return config_from_args(args, list(argv), env={})
    quick = config()
    assert quick.quick and quick.models == ["resnet18", "mobilenet_v3_small"] and quick.modes == ["eager", "inference"]
    thorough = config("--thorough")
    assert not thorough.quick and thorough.models is None and "inference_bf16" in thorough.modes
    assert [e.name for e in runner.resolve(None)[0]] == list(BENCH_MODELS)
    assert config("--models", "vgg16", "--modes", "eager").models == ["vgg16"]
