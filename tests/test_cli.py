"""The command line as a user meets it: run like the console script (the
package imported from a script outside the working directory, so the current
directory is not importable by accident) in a subprocess, from a temporary
directory holding the user's model file. Each mistake ends in a message
naming the flag (wrapped to the terminal), exit status 2, no traceback; every
command a hint gives works; output fits 80 and 100 columns."""
import csv
import io
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

    class ImageAndTokens(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2D(3, 8, 3)
            self.emb = nn.Embedding(100, 8)
            self.fc = nn.Linear(8, 4)

        def forward(self, image, ids):
            return self.fc(self.conv(image).mean(axis=[2, 3]) + self.emb(ids).mean(axis=1))

    class Deep(nn.Layer):
        def __init__(self, blocks=24):
            super().__init__()
            self.blocks = nn.LayerList([nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8))
                                        for _ in range(blocks)])

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x
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


def run(workdir, *args, script=CONSOLE_SCRIPT, columns=200):
    """The command as the console script runs it: sys.path[0] is the
    script's folder, not the working directory; a terminal ``columns`` wide."""
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, str(workdir / "bin" / "paddle_flops_script.py"), *args],
                          cwd=workdir / "work", env=env, capture_output=True, text=True, timeout=300)


def assert_usage_error(proc, message):
    """Exit status 2, the message (however it was wrapped), at most the
    '--help' line after it, no traceback, nothing on stdout."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    body = [line for line in lines if line != HELP_LINE]
    assert " ".join(" ".join(body).split()) == PROG + message
    assert "Traceback" not in proc.stderr
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
    (["--depth", "-1"], "argument --depth: must be an integer >= 0 (0 = the model only) or 'all', got '-1'"),
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
    assert proc.stderr.strip().splitlines()[-1] == HELP_LINE


def test_unknown_dtype_names_the_choices(workdir):
    proc = run(workdir, "mymod:Conv", "--dtype", "float42")
    assert_usage_error(proc, "argument --dtype: unknown dtype 'float42' (did you mean float64?); one of float32, "
                             "float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool")
    proc = run(workdir, "mymod:Conv", "--input", "1,3,8,8:int46")
    assert_usage_error(proc, "argument --input: unknown dtype 'int46' in '1,3,8,8:int46' (did you mean int64?); "
                             "one of float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool")


def test_wrong_rank_names_the_layer_and_the_flag(workdir):
    proc = run(workdir, "mymod:Conv", "--input", "1,3,8")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert max(map(len, proc.stderr.splitlines())) <= 200        # wrapped to the terminal
    assert " ".join(proc.stderr.split()).startswith(
        PROG + "--input: forward failed in layer 'conv' (Conv2D) called with input shape(s) [1, 3, 8]")
    assert "Check --input" in proc.stderr


def _hinted_command(stderr: str) -> list[str]:
    """The flags after 'try ' in an error message."""
    return " ".join(stderr.split()).split("try ", 1)[1].split()


def test_token_model_without_int_dtype_gets_a_hint_that_works(workdir):
    proc = run(workdir, "mymod:Tokens", "--input", "2,16")
    assert_usage_error(proc, "--input: an Embedding got float32 input; token ids are integers: try "
                             "--input 2,16:int64")
    fixed = run(workdir, "mymod:Tokens", *_hinted_command(proc.stderr), "--format", "json")
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(fixed.stdout)["total"]["macs"] == 2 * 16 * 8 * 4      # the Linear after the lookup
    proc = run(workdir, "mymod:Tokens")                  # no input given: the default image shape fails
    fixed = run(workdir, "mymod:Tokens", *_hinted_command(proc.stderr))
    assert proc.returncode == 2 and fixed.returncode == 0, fixed.stderr


def test_two_input_model_from_a_file_with_per_input_dtypes(workdir):
    """An image and token ids: one --input each; the float-only attempt's
    hint and the older --dtype 'a;b' both lead to this command."""
    conv_macs = 3 * 9 * 8 * 30 * 30
    fc_macs = 8 * 4
    for model in ("mymod.py:ImageAndTokens", "mymod:ImageAndTokens"):
        proc = run(workdir, model, "--input", "1,3,32,32", "--input", "1,16:int64", "--format", "json")
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["total"]["macs"] == conv_macs + fc_macs
        assert doc["inputs"] == [[1, 3, 32, 32], [1, 16]]
    proc = run(workdir, "mymod.py:ImageAndTokens", "--input", "1,3,32,32", "--input", "1,16")
    assert_usage_error(proc, "--input: an Embedding got float32 input; token ids are integers: try "
                             "--input 1,3,32,32 --input 1,16:int64")
    assert run(workdir, "mymod.py:ImageAndTokens", *_hinted_command(proc.stderr)).returncode == 0
    proc = run(workdir, "mymod.py:ImageAndTokens", "--input-size", "1,3,32,32;1,16", "--dtype", "float32;int64")
    assert_usage_error(proc, "argument --dtype: one dtype for every input; give each input its own with --input "
                             "SHAPE:DTYPE; write --input 1,3,32,32 --input 1,16:int64")
    proc = run(workdir, "mymod.py:ImageAndTokens", "--input", "1,3,32,32", "--input-size", "1,16")
    assert_usage_error(proc, "argument --input: replaces --input-size and --dtype; drop --input-size")


def test_two_input_model_with_one_shape_names_each_input(workdir):
    proc = run(workdir, "mymod:TwoInputs", "--input", "2,16")
    assert_usage_error(proc, "--input: TwoInputs.forward takes 2 inputs (x, y) but 1 was given; give one --input "
                             "per input, in this order: --input <x shape>[:dtype] --input <y shape>[:dtype]")


def test_model_errors_name_model_and_suggest_close_names(workdir):
    assert_usage_error(run(workdir, "mymod:Nope"), "MODEL: module 'mymod' has no attribute 'Nope'")
    proc = run(workdir, "resnet5")
    assert proc.returncode == 2 and "did you mean 'resnet50' or 'resnet18'?" in proc.stderr
    assert run(workdir, "resnet50", "--format", "json").returncode == 0     # the suggestion works
    proc = run(workdir, "--depth", "1", "bench")
    assert_usage_error(proc, "argument MODEL: 'bench' is a command, not a model: paddle-flops bench --help")
    proc = run(workdir, "compre", "resnet18")
    assert proc.returncode == 2 and "did you mean the command 'compare' (paddle-flops compare --help)?" in \
        " ".join(proc.stderr.split())


def test_error_lines_are_wrapped_to_the_terminal(workdir):
    for columns in (80, 100):
        proc = run(workdir, "resnet5", columns=columns)
        assert proc.returncode == 2 and len(proc.stderr.splitlines()) > 2
        assert max(map(len, proc.stderr.splitlines())) <= columns


def test_traceback_flag_shows_the_trace(workdir):
    proc = run(workdir, "mymod:Tokens", "--input-size", "2,16", "--traceback")
    assert proc.returncode != 0 and "Traceback (most recent call last)" in proc.stderr


def test_zoo_names_are_models_everywhere(workdir):
    proc = run(workdir, "vit_b16", "--format", "json", "--depth", "0")
    assert proc.returncode == 0, proc.stderr
    total = json.loads(proc.stdout)["total"]
    assert total["params"] == 86_567_656          # ViT-B/16 at 1000 classes: 86.57 M, the published size


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
    totals = workdir / "work" / "report.totals.csv"
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [f"wrote {out} (csv)", f"wrote {totals} (totals, memory, reconciliation: "
                                                              f"section,name,detail,value)"]
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [row["name"] for row in rows] == ["Linear"]      # the only type doing arithmetic
    assert int(rows[0]["macs"]) == 2 * 16 * 8 * 4
    summary = {(r["section"], r["name"]): int(r["value"]) for r in csv.DictReader(io.StringIO(totals.read_text()))}
    assert summary[("total", "params")] == 100 * 8 + 8 * 4 + 4


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
    assert "--input SHAPE[:DTYPE]" in text and "--input 1,3,224,224 --input 1,16:int64" in text
    assert "--time-layers" in text
    proc = run(workdir, "bench", "--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: paddle-flops bench")
    proc = run(workdir, "--version")
    assert proc.returncode == 0 and proc.stdout.startswith("paddle-flops ")
    assert time.perf_counter() - start < 60


def test_formulas_prints_the_tables(workdir):
    proc = run(workdir, "formulas")
    assert proc.returncode == 0 and proc.stdout.startswith("### Layers") and proc.stderr == ""


def test_deep_model_gets_a_compact_view_and_the_full_one_is_one_flag_away(workdir):
    proc = run(workdir, "mymod:Deep", "--input", "2,8", columns=100)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) < 60 and max(map(len, lines)) <= 100
    assert "--depth all lists every layer" in " ".join(proc.stdout.split())
    full = run(workdir, "mymod:Deep", "--input", "2,8", "--depth", "all", "--format", "json")
    rows = json.loads(full.stdout)["layers"]
    assert len(rows) == 24 * 3 and sum(r["macs"] for r in rows) == 24 * 2 * 2 * 8 * 8


def test_writing_a_file_keeps_every_column(workdir):
    out = workdir / "work" / "wide.txt"
    proc = run(workdir, "mymod:Conv", "--input", "1,3,8,8", "-o", str(out), columns=60)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "Input shape" in text and "Output shape" in text and "Left out" not in text


def test_a_trace_profile_from_python_prints_nothing_at_the_file_descriptor_level(workdir):
    """Paddle's C++ glog warning while tracing (written to fd 2, past
    sys.stderr) is kept out; what the user's own code prints still shows."""
    script = textwrap.dedent("""
        import os, sys
        import paddle
        import paddle_flops_ext as pfe
        net = paddle.vision.models.resnet18()
        os.write(1, b"<start>"); os.write(2, b"<start>")
        r = pfe.profile(net, [1, 3, 32, 32], mode="trace")
        os.write(1, b"<end>"); os.write(2, b"<end>")
        print(r.params == sum(int(p.size) for p in net.parameters()))
    """)
    (workdir / "bin" / "trace_probe.py").write_text(script)
    env = {**os.environ, "PYTHONPATH": ROOT}
    proc = subprocess.run([sys.executable, str(workdir / "bin" / "trace_probe.py")], cwd=workdir / "work",
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for stream in (proc.stdout, proc.stderr):
        assert "<start><end>" in stream, stream           # nothing at all between the markers
    assert proc.stdout.endswith("True\n")
