"""The command line as a user meets it: run like the console script (the
package imported from a script outside the working directory, so the current
directory is not importable by accident) in a subprocess, from a temporary
directory holding the user's model file. Each mistake of issue 10 ends in
one or two lines naming the flag, exit status 2, no traceback."""
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROG = "paddle-flops profile: error: "

MODEL_FILE = textwrap.dedent("""
    from paddle import nn

    class Conv(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2D(3, 4, 3)

        def forward(self, x):
            return self.conv(x)

    class Tokens(nn.Layer):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(100, 8)
            self.fc = nn.Linear(8, 4)

        def forward(self, ids):
            return self.fc(self.emb(ids))

    class TwoInputs(nn.Layer):
        def __init__(self, hidden=8):
            super().__init__()
            self.a = nn.Linear(16, hidden)
            self.b = nn.Linear(4, hidden)

        def forward(self, x, y):
            return self.a(x) + self.b(y)

    class Scale(nn.Layer):
        def forward(self, x):
            return x * 2.0

    class Scaled(nn.Layer):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)
            self.scale = Scale()

        def forward(self, x):
            return self.scale(self.fc(x))

    class Noisy(nn.Layer):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            print("printed inside forward")
            return self.fc(x)
""")

CONSOLE_SCRIPT = "import sys\nfrom paddle_flops_ext.cli import main\nsys.exit(main())\n"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    (base / "bin").mkdir()
    (base / "bin" / "paddle_flops_script.py").write_text(CONSOLE_SCRIPT)
    (base / "work").mkdir()
    (base / "work" / "mymod.py").write_text(MODEL_FILE)
    return base


def run(workdir, *args, script=CONSOLE_SCRIPT):
    """The command as the console script runs it: sys.path[0] is the
    script's folder, not the working directory."""
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, str(workdir / "bin" / "paddle_flops_script.py"), *args],
                          cwd=workdir / "work", env=env, capture_output=True, text=True, timeout=300)


def assert_usage_error(proc, message):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0] == PROG + message
    assert len(lines) <= 2 and "Traceback" not in proc.stderr
    assert proc.stdout == ""


HELP_LINE = "(see 'paddle-flops profile --help')"


@pytest.mark.parametrize("args,message", [
    (["--input-size", ""],
     "argument --input-size: is empty; give the input shape, e.g. 1,3,224,224, or 2,16;2,4 for a forward "
     "taking two inputs"),
    (["--input-size", "0,3,8,8"],
     "argument --input-size: dimension 0 in '0,3,8,8': every dimension must be >= 1"),
    (["--input-size=-1,3,8,8"],
     "argument --input-size: -1 (a dynamic size) in '-1,3,8,8': give the actual size, e.g. 1 for the batch"),
    (["--input-size", "1,3,x,8"],
     "argument --input-size: 'x' in '1,3,x,8' is not an integer; e.g. 1,3,224,224, or 2,16;2,4 for a forward "
     "taking two inputs"),
    (["--depth", "-1"], "argument --depth: must be an integer >= 0 (0 = the model only), got '-1'"),
    (["--top", "0"], "argument --top: must be an integer >= 1 (how many rows to keep), got '0'"),
    (["--model-kwargs", "{hidden: 10}"],
     "argument --model-kwargs: is not valid JSON (Expecting property name enclosed in double quotes); "
     """give a JSON object, e.g. '{"num_classes": 10}' (keys and strings in double quotes)"""),
    (["--model-kwargs", "[1]"],
     """argument --model-kwargs: must be a JSON object, got list; e.g. '{"num_classes": 10}' """
     "(keys and strings in double quotes)"),
    (["--by", "type", "--depth", "1"], "argument --depth: applies to --by layer only (got --by type); drop --depth"),
])
def test_bad_flags_are_rejected_before_any_work(workdir, args, message):
    proc = run(workdir, "mymod:Conv", *args)
    assert_usage_error(proc, message)
    assert proc.stderr.strip().splitlines()[1] == HELP_LINE


def test_unknown_dtype_names_the_choices(workdir):
    proc = run(workdir, "mymod:Conv", "--dtype", "float42")
    assert_usage_error(proc, "argument --dtype: invalid choice: 'float42' (choose from 'float32', 'float64', "
                             "'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool')")


def test_wrong_rank_names_the_layer_and_the_flag(workdir):
    proc = run(workdir, "mymod:Conv", "--input-size", "1,3,8")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith(PROG + "--input-size: forward failed in layer 'conv' (Conv2D) called with "
                                         "input shape(s) [1, 3, 8]")
    assert "Check --input-size / --dtype" in proc.stderr


def test_token_model_without_int_dtype_gets_the_hint(workdir):
    proc = run(workdir, "mymod:Tokens", "--input-size", "2,16")
    assert_usage_error(proc, "--dtype: an Embedding got float32 input — try --dtype int64 "
                             "(token ids; the first shape is then batch,sequence)")


def test_two_input_model_with_one_shape_gets_the_hint(workdir):
    proc = run(workdir, "mymod:TwoInputs", "--input-size", "2,16")
    assert_usage_error(proc, "--input-size: TwoInputs.forward takes 2 inputs (x, y) but 1 shape was given; "
                             "give one shape per input, separated by ';', e.g. --input-size \"2,16;2,16\"")


def test_model_errors_name_model(workdir):
    assert_usage_error(run(workdir, "mymod:Nope"), "MODEL: module 'mymod' has no attribute 'Nope'")
    proc = run(workdir, "resnet50")
    assert_usage_error(proc, "argument MODEL: 'resnet50' is not module:callable, path/to/file.py:callable or a "
                             "saved model (e.g. paddle.vision.models:resnet50, or a folder with inference.json)")
    proc = run(workdir, "--depth", "1", "bench")
    assert_usage_error(proc, "argument MODEL: 'bench' is not module:callable, path/to/file.py:callable or a "
                             "saved model (e.g. paddle.vision.models:resnet50, or a folder with inference.json); "
                             "to run the benchmark harness: paddle-flops bench --help")


def test_traceback_flag_shows_the_trace(workdir):
    proc = run(workdir, "mymod:Tokens", "--input-size", "2,16", "--traceback")
    assert proc.returncode != 0 and "Traceback (most recent call last)" in proc.stderr


def test_current_directory_module_and_file_path_load(workdir):
    hidden = 6
    two_inputs = ["--input-size", "2,16;2,4", "--model-kwargs", json.dumps({"hidden": hidden}),
                  "--format", "json"]
    for model in ("mymod:TwoInputs", "mymod.py:TwoInputs", str(workdir / "work" / "mymod.py") + ":TwoInputs"):
        proc = run(workdir, model, *two_inputs)
        assert proc.returncode == 0, proc.stderr
        total = json.loads(proc.stdout)["total"]
        assert total["macs"] == 2 * 16 * hidden + 2 * 4 * hidden
        assert total["params"] == (16 + 1) * hidden + (4 + 1) * hidden
        assert total["flops"] == 2 * total["macs"] + 2 * 2 * hidden + 2 * hidden   # bias adds + the sum


def test_profile_subcommand_views_and_output_file(workdir):
    out = workdir / "work" / "report.csv"
    proc = run(workdir, "profile", "mymod:Tokens", "--input-size", "2,16", "--dtype", "int64",
               "--by", "type", "--top", "1", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == f"wrote {out} (csv)\n"
    rows = out.read_text().splitlines()
    assert rows[0].startswith("row,name,")
    assert rows[1].startswith("type,Linear,")      # the only type doing arithmetic
    assert any(line.startswith("total,") for line in rows)


def test_quiet_by_default_and_verbose_shows_prints(workdir):
    proc = run(workdir, "mymod:Noisy", "--input-size", "2,4")
    assert proc.returncode == 0
    assert proc.stderr == ""                          # no ccache warning, no glog
    assert "printed inside forward" not in proc.stdout and "Linear" in proc.stdout
    proc = run(workdir, "mymod:Noisy", "--input-size", "2,4", "--verbose")
    assert "printed inside forward" in proc.stdout


def test_strict_exits_1_and_names_the_uncounted_work(workdir):
    proc = run(workdir, "mymod:Scaled", "--input-size", "2,4", "--no-functional")
    assert proc.returncode == 0 and "Uncounted (ran, no formula): Scale x1 in scale" in proc.stdout
    proc = run(workdir, "mymod:Scaled", "--input-size", "2,4", "--no-functional", "--strict")
    assert proc.returncode == 1
    assert "Uncounted (ran, no formula): Scale x1 in scale" in proc.stdout
    assert proc.stderr == ("paddle-flops profile: --strict: these ran with no counting formula: Scale (x1); "
                           "register a handler (paddle_flops_ext.register) or drop --strict\n")
    proc = run(workdir, "mymod:Scaled", "--input-size", "2,4", "--strict")   # x * 2.0 counted as an op
    assert proc.returncode == 0, proc.stderr


def test_help_is_fast_and_does_not_import_paddle(workdir):
    script = ("import sys, time\nstart = time.perf_counter()\nfrom paddle_flops_ext.cli import main\n"
              "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
              "print('SECONDS', time.perf_counter() - start)\nprint('PADDLE', 'paddle' in sys.modules)\n")
    (workdir / "bin" / "help_probe.py").write_text(script)
    env = {**os.environ, "PYTHONPATH": ROOT}
    proc = subprocess.run([sys.executable, str(workdir / "bin" / "help_probe.py")], cwd=workdir / "work",
                          env=env, capture_output=True, text=True, timeout=60)
    assert "PADDLE False" in proc.stdout, proc.stdout + proc.stderr
    seconds = float(proc.stdout.split("SECONDS ")[1].split()[0])
    assert seconds < 0.5
    assert proc.stderr == ""


def test_subcommands_have_their_own_help_and_version(workdir):
    start = time.perf_counter()
    proc = run(workdir, "--help")
    assert proc.returncode == 0 and "profile" in proc.stdout and "bench" in proc.stdout
    proc = run(workdir, "formulas", "--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: paddle-flops formulas")
    assert "| layer types |" not in proc.stdout
    proc = run(workdir, "profile", "--help")
    text = " ".join(proc.stdout.split())
    assert "(default: 1,3,224,224)" in text and "(default: float32)" in text and "--time-layers" in text
    proc = run(workdir, "bench", "--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: paddle-flops bench")
    proc = run(workdir, "--version")
    assert proc.returncode == 0 and proc.stdout.startswith("paddle-flops ")
    assert time.perf_counter() - start < 60


def test_formulas_prints_the_tables(workdir):
    proc = run(workdir, "formulas")
    assert proc.returncode == 0 and proc.stdout.startswith("### Layers") and proc.stderr == ""
