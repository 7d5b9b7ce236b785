"""The process profiling runs in: signals, forks, deep models, the CLI under
faults. Each case runs in a fresh interpreter where the process itself is
what is tested."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python(code: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


INTERRUPTED_MODEL = """
    import os, signal, paddle, paddle_flops_ext as pfe
    class Interrupted(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.fc = paddle.nn.Linear(4, 4)
        def forward(self, x):
            os.kill(os.getpid(), signal.SIGINT)      # Ctrl-C while the trace is built
            return self.fc(x)
"""


def test_trace_leaves_an_ignored_sigint_ignored():
    proc = _python(INTERRUPTED_MODEL + """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    r = pfe.profile(Interrupted(), [1, 4], mode="trace")
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    print("MACS", r.macs)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "MACS 16" in proc.stdout


def test_trace_calls_the_callers_own_handler_once_after_restoring_it():
    proc = _python(INTERRUPTED_MODEL + """
    calls = []
    def mine(signum, frame):
        calls.append(signum)
    signal.signal(signal.SIGINT, mine)
    r = pfe.profile(Interrupted(), [1, 4], mode="trace")
    assert signal.getsignal(signal.SIGINT) is mine
    print("CALLS", calls, "MACS", r.macs)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "CALLS [2] MACS 16" in proc.stdout


def test_trace_raises_keyboard_interrupt_under_pythons_default_handler():
    proc = _python(INTERRUPTED_MODEL + """
    try:
        pfe.profile(Interrupted(), [1, 4], mode="trace")
    except KeyboardInterrupt:
        print("INTERRUPTED", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "INTERRUPTED True" in proc.stdout


# ---------------------------------------------------------------- the CLI under faults

MODULE = """
import os, signal, paddle
class Interrupted(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.fc = paddle.nn.Linear(4, 4)
    def forward(self, x):
        os.kill(os.getpid(), signal.SIGINT)
        return self.fc(x)
def build():
    return Interrupted()
"""


def _cli(cwd, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "paddle_flops_ext", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env)


def test_cli_answers_ctrl_c_with_one_line_and_status_130(tmp_path):
    (tmp_path / "interrupted.py").write_text(MODULE)
    proc = _cli(tmp_path, "interrupted:build", "--input-size", "1,4")
    assert proc.returncode == 130, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1].endswith("interrupted")
    assert "Traceback" not in proc.stderr


def test_cli_refuses_an_output_path_that_is_a_folder_before_any_work(tmp_path):
    (tmp_path / "interrupted.py").write_text(MODULE)      # would interrupt if it ran: it must not
    proc = _cli(tmp_path, "interrupted:build", "--input-size", "1,4", "-o", str(tmp_path))
    assert proc.returncode == 2
    assert "-o/--output" in proc.stderr and "is a folder" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_cli_refuses_an_unwritable_output_before_any_work(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        proc = _cli(tmp_path, "paddle.vision.models:resnet18", "-o", str(locked / "r.md"))
    finally:
        locked.chmod(0o700)
    assert proc.returncode == 2 and "cannot be written" in proc.stderr


@pytest.mark.parametrize("workload", [["--train"], ["--generate", "4,2"]])
@pytest.mark.parametrize("tag", ["../escape", "/tmp/abs", "a/b"])
def test_every_bench_path_checks_tag_as_a_file_name(tmp_path, workload, tag):
    proc = _cli(tmp_path, "bench", *workload, "--out", str(tmp_path / "out"), "--tag", tag)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "--tag" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "escape.json").exists() and not any(tmp_path.glob("**/*.json"))


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary(tmp_path):
    from paddle_flops_ext.files import write_text

    target = tmp_path / "result.json"
    write_text(str(target), "old")

    with pytest.raises(UnicodeEncodeError):            # fails half-way: the first part is written
        write_text(str(target), "new " * 10000 + "\ud800")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]
    write_text(str(target), "new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_processes_remove_their_temporary_folder_even_when_no_process_produced_results(tmp_path, monkeypatch):
    from paddle_flops_ext.bench import session

    class Config:
        out = str(tmp_path)

    monkeypatch.setattr(session.subprocess, "run", lambda *a, **k: None)    # children that write nothing
    with pytest.raises(SystemExit):
        session.run_processes(["--models", "resnet18"], 2, Config())
    assert list(tmp_path.iterdir()) == []
