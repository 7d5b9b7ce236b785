"""Adaptive, interleaved timing; the confidence interval of the median; the
CUDA-event timer; the load check; GPU peaks. Fake clocks, timers, events and
matmuls only: nothing here depends on how fast the machine is."""
import math

import pytest

from paddle_flops_ext.bench import machine, peak, timing


def _coverage(n, k):
    return sum(math.comb(n, i) for i in range(k, n - k + 1)) / 2 ** n


@pytest.mark.parametrize("n,ranks", [(5, None), (6, (1, 6)), (10, (2, 9)), (20, (6, 15)), (100, (40, 61))])
def test_median_ci_ranks_match_the_binomial_table(n, ranks):
    assert timing.median_ci_ranks(n) == ranks


def test_median_ci_ranks_are_the_tightest_with_95_percent_coverage():
    for n in range(6, 200):
        k, u = timing.median_ci_ranks(n)
        assert u == n + 1 - k
        assert _coverage(n, k) >= 0.95
        assert k + 1 > u - 1 or _coverage(n, k + 1) < 0.95


def test_summarize_reports_the_interval_and_its_relative_half_width():
    xs = [10.0 + i for i in range(10)]            # 10..19, median 14.5
    st = timing.summarize(xs)
    assert (st.ci_low, st.ci_high) == (11.0, 18.0)   # ranks 2 and 9
    assert st.ci_rel == pytest.approx(3.5 / 14.5)
    assert timing.summarize([1.0] * 5).ci_low is None
    d = st.to_dict(1e3)
    assert d["ci_low"] == 11000.0 and d["ci_rel"] == st.ci_rel


class FakeTimer:
    """Returns the next duration scripted for the callable being timed."""
    kind = "fake"

    def __init__(self, scripts):
        self.scripts = {k: iter(v) for k, v in scripts.items()}
        self.order = []
        self.syncs = 0

    def sync(self):
        self.syncs += 1

    def __call__(self, fn):
        fn()
        self.order.append(fn.name)
        return next(self.scripts[fn.name])


def _fn(name, log):
    def f():
        log.append(name)
    f.name = name
    return f


def test_interleaved_rounds_rotate_the_order_and_stop_each_mode_on_its_own():
    log = []
    fns = {"a": _fn("a", log), "b": _fn("b", log)}
    # "a" is constant (CI width 0: converges at min_repeats); "b" alternates 1/2 and never converges
    timer = FakeTimer({"a": [1.0] * 100, "b": [1.0, 2.0] * 50})
    rule = timing.Adaptive(target=0.02, min_repeats=6, max_repeats=10, budget_s=1e9, per_round=1, rewarm=0)
    out = timing.time_interleaved(fns, warmup=2, rule=rule, timer=timer)
    assert log[:4] == ["a", "a", "b", "b"]          # warm-up, untimed
    assert timer.order[:6] == ["a", "b", "b", "a", "a", "b"]
    assert out["a"].stats.n == 6 and out["a"].stats.converged and out["a"].stats.stop == "converged"
    assert out["b"].stats.n == 10 and not out["b"].stats.converged and out["b"].stats.stop == "max repeats"
    assert out["a"].stats.ci_rel == 0.0


def test_interleaved_budget_failures_and_before_hooks():
    log, hooks = [], []
    fns = {"slow": _fn("slow", log), "bad": _fn("bad", log)}

    def boom():
        raise RuntimeError("kernel exploded")
    boom.name = "bad"
    fns["bad"] = boom
    timer = FakeTimer({"slow": [1.0, 3.0] * 50})
    rule = timing.Adaptive(target=0.01, min_repeats=6, max_repeats=1000, budget_s=12.0, per_round=1, rewarm=0)
    out = timing.time_interleaved(fns, warmup=1, rule=rule, timer=timer,
                                  before={"slow": lambda: hooks.append(1)})
    assert "kernel exploded" in out["bad"].error and out["bad"].stats is None
    st = out["slow"].stats
    assert st.stop == "time budget" and not st.converged
    assert st.n == 6 and out["slow"].spent == 12.0   # 3 x (1 + 3) s, checked once 6 samples exist
    assert len(hooks) == 1 + 6                        # before the warm-up call and each timed call


def test_parallelism_is_process_cpu_time_per_wall_second_of_the_timed_calls():
    timer = FakeTimer({"a": [2.0] * 10})
    cpu = iter([0.0, 3.0, 3.0, 6.0, 6.0, 9.0, 9.0, 12.0, 12.0, 15.0, 15.0, 18.0])   # 3 CPU s per 2 s call
    out = timing.time_interleaved({"a": _fn("a", [])}, warmup=0, rule=timing.Adaptive.fixed(6),
                                  timer=timer, cpu_clock=lambda: next(cpu))
    assert out["a"].spent == 12.0 and out["a"].cpu == 18.0
    assert out["a"].parallelism == pytest.approx(1.5)
    assert timing.Measurement().parallelism is None


def test_each_turn_rewarms_untimed_then_times_a_block_of_calls():
    log = []
    fns = {"a": _fn("a", log), "b": _fn("b", log)}
    timer = FakeTimer({"a": [1.0, 2.0] * 50, "b": [1.0, 2.0] * 50})       # never within the target
    rule = timing.Adaptive(min_repeats=6, max_repeats=7, budget_s=1e9, per_round=3, rewarm=1, target=0.01)
    out = timing.time_interleaved(fns, warmup=0, rule=rule, timer=timer)
    # round 1: a (1 untimed + 3 timed), b (same); round 2 starts with b
    assert log[:8] == ["a"] * 4 + ["b"] * 4 and log[8:12] == ["b"] * 4
    assert timer.order[:6] == ["a"] * 3 + ["b"] * 3
    # the last turn is cut at max_repeats: 3 + 3 + 1 timed calls
    assert out["a"].stats.n == 7 and out["b"].stats.n == 7
    with pytest.raises(ValueError):
        timing.Adaptive(per_round=0)


def test_fixed_rule_takes_exactly_n_samples():
    timer = FakeTimer({"a": [1.0, 5.0] * 10})
    out = timing.time_interleaved({"a": _fn("a", [])}, warmup=0, rule=timing.Adaptive.fixed(3), timer=timer)
    assert out["a"].stats.n == 3 and out["a"].stats.ci_low is None and not out["a"].stats.converged
    with pytest.raises(ValueError):
        timing.Adaptive(min_repeats=5, max_repeats=4)


def test_wall_timer_reads_the_clock_after_sync():
    events = []
    t = [0.0]

    def clock():
        events.append("clock")
        t[0] += 0.5
        return t[0]
    timer = timing.WallTimer(sync=lambda: events.append("sync"), clock=clock)
    assert timer(lambda: events.append("fn")) == 0.5
    assert events == ["clock", "fn", "sync", "clock"]


class FakeEvent:
    def __init__(self, log, stamps):
        self.log, self.stamps, self.t = log, stamps, None

    def record(self):
        self.t = next(self.stamps)
        self.log.append("record")

    def synchronize(self):
        self.log.append("synchronize")

    def elapsed_time(self, end):          # milliseconds, like paddle.device.cuda.Event
        return end.t - self.t


def test_event_timer_records_around_the_call_and_waits_for_the_end_event():
    log = []
    stamps = iter([10.0, 35.0])
    timer = timing.EventTimer(event_factory=lambda: FakeEvent(log, stamps))
    secs = timer(lambda: log.append("fn"))
    assert secs == pytest.approx(0.025)
    assert log == ["record", "fn", "record", "synchronize"]
    shared = iter([0.0, 2.0] * 2)
    _, st = timing.time_callable(lambda: None, warmup=0, repeats=2,
                                 timer=timing.EventTimer(lambda: FakeEvent([], shared)))
    assert st.median == pytest.approx(0.002)


def test_cpu_gets_the_wall_clock_timer():
    assert isinstance(timing.make_timer("cpu"), timing.WallTimer)


def test_load_check_waits_for_a_quiet_machine_then_gives_up():
    t = [0.0]

    def clock():
        return t[0]
    readings = iter([0.9, 0.5, 0.1])

    def measure():
        t[0] += 1.0
        return next(readings)
    r = machine.load_check(threshold=0.15, max_wait_s=10, measure=measure, clock=clock)
    assert r["busy_fraction"] == 0.1 and not r["busy"] and r["waited_s"] == 3.0
    t[0] = 0.0
    r = machine.load_check(threshold=0.15, max_wait_s=2.5, measure=lambda: (t.__setitem__(0, t[0] + 1), 0.8)[1],
                           clock=clock)
    assert r["busy"] and r["busy_fraction"] == 0.8 and r["waited_s"] == 3.0


def test_busy_fraction_from_proc_stat_readings():
    stats = iter([(100, 1000), (150, 1100)])
    assert machine.busy_fraction(0.0, read_stat=lambda: next(stats), sleep=lambda s: None) == 0.5


def test_gpu_peaks_per_precision_with_a_fake_matmul():
    flags = []
    calls = []

    def matmul(n, dtype):
        if dtype == "bfloat16":
            raise RuntimeError("bf16 matmul is not supported on this GPU\nmore text")
        return lambda: calls.append(dtype)
    t = [0.0]

    def clock():
        t[0] += 0.001           # every timed call reads 1 ms
        return t[0]
    timer = timing.WallTimer(sync=lambda: None, clock=clock)
    out = peak.gpu_compute(100, repeats=3, warmup=1, timer=timer, matmul=matmul, set_flags=flags.append)
    assert set(out) == {"fp32", "tf32", "fp16", "bf16"}
    for p in ("fp32", "tf32", "fp16"):
        assert out[p]["status"] == "ran"
        assert out[p]["gflops_peak"] == pytest.approx(2 * 100 ** 3 / 1e-3 / 1e9)
    assert out["bf16"] == {"status": "unavailable",
                           "reason": "RuntimeError: bf16 matmul is not supported on this GPU"}
    # tensor-op math (TF32) switched on for the tf32 run only, and off again afterwards
    tf = [f["FLAGS_enable_cublas_tensor_op_math"] for f in flags]
    assert tf == [False, True, False, False, False]


def test_bandwidth_working_sets_follow_the_caches():
    caches = [{"level": "L1", "size_bytes": 48 * 1024, "shared_by": 1},
              {"level": "L2", "size_bytes": 1 << 20, "shared_by": 1},
              {"level": "L3", "size_bytes": 32 << 20, "shared_by": 2}]
    ws = peak.working_sets(caches, threads=2, dram_bytes=256 << 20)
    assert ws == [("L1", 24 * 1024, 96 * 1024), ("L2", 512 * 1024, 2 << 20),
                  ("L3", 4 << 20, 32 << 20), ("DRAM", 128 << 20, None)]
    t = [0.0]

    def clock():
        t[0] += 0.5
        return t[0]
    best, med = peak.cpu_copy_gbps(1000, threads=2, repeats=3, clock=clock,
                                   make_copy=lambda ws: ((lambda: None), 1e9))
    assert best == med == pytest.approx(4.0)        # 2 x 1e9 bytes in 0.5 s


def test_pin_malloc_sets_both_glibc_thresholds_and_reports_failure():
    calls = []

    class Libc:
        def __init__(self, ret):
            self.ret = ret

        def mallopt(self, param, value):
            calls.append((param, value))
            return self.ret
    r = timing.pin_malloc(32 << 20, 1 << 30, libc=Libc(1))
    assert r == {"applied": True, "mmap_threshold": 32 << 20, "trim_threshold": 1 << 30}
    assert calls == [(timing.M_MMAP_THRESHOLD, 32 << 20), (timing.M_TRIM_THRESHOLD, 1 << 30)]
    assert not timing.pin_malloc(libc=Libc(0))["applied"]
    assert "no glibc mallopt" in timing.pin_malloc(libc=object())["reason"]
