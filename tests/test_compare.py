"""Several models in one table (``pfe.compare`` and ``paddle-flops compare``):
one row per model with exact counts that match what the models are, the
same rows in the terminal table, Markdown, LaTeX, CSV and JSON, each model at
its own inputs, latency from the bench harness."""
import csv
import io
import json
import os
import statistics
import subprocess
import sys

import pytest

import paddle_flops_ext as pfe
from paddle_flops_ext.bench import compare as compare_mod
from paddle_flops_ext.bench.timing import Measurement, summarize
from paddle_flops_ext.models.zoo import InputShape
from test_cli import MODEL_FILE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TWO_INPUTS = MODEL_FILE     # holds ImageAndTokens: an image and token ids
# forward work of ImageAndTokens at a 1x3x32x32 image: the convolution's and the head's products
TWO_INPUT_MACS = 3 * 9 * 8 * 30 * 30 + 8 * 4
TWO_INPUT_PARAMS = (3 * 9 * 8 + 8) + 100 * 8 + (8 * 4 + 4)


def _numel(model, trainable_only=False):
    return sum(int(p.size) for p in model.parameters() if not (trainable_only and p.stop_gradient))


@pytest.fixture(scope="module")
def three():
    return pfe.compare(["resnet18", "mobilenet_v2", "vit_b16"])


def test_one_row_per_model_with_parameter_sums_and_published_sizes(three):
    import paddle
    rows = {m.model: m for m in three.models}
    assert list(rows) == ["resnet18", "mobilenet_v2", "vit_b16"]
    vision = paddle.vision.models
    for name, build in (("resnet18", vision.resnet18), ("mobilenet_v2", vision.mobilenet_v2)):
        model = build()
        assert rows[name].params == _numel(model)
        assert rows[name].trainable_params == _numel(model, trainable_only=True)
    assert rows["resnet18"].trainable_params == 11_689_512          # published: 11.69 M
    assert rows["vit_b16"].params == 86_567_656                      # published: 86.57 M (ViT-B/16)
    assert abs(rows["resnet18"].macs / 1.8e9 - 1) < 0.02             # published: about 1.8 GMACs
    assert abs(rows["mobilenet_v2"].macs / 300e6 - 1) < 0.02          # published: 300 M multiply-adds
    for m in three.models:
        assert m.inputs == "1x3x224x224" and m.memory > 4 * m.params and not m.inexact
        assert m.flops >= 2 * m.macs and m.latency_s is None


def test_every_format_carries_the_same_rows(three):
    names = [m.model for m in three.models]
    md = three.to_markdown().splitlines()
    assert md[0] == "| Model | Input | Params | Trainable | MACs | FLOPs | paddle.flops | Memory |"
    assert [line.split("|")[1].strip().strip("`") for line in md[2:5]] == names
    table = str(three)
    assert all(f" {n} " in table for n in names)
    rows = list(csv.DictReader(io.StringIO(three.to_csv())))
    assert [r["model"] for r in rows] == names
    for row, m in zip(rows, three.models):
        for key in ("params", "trainable_params", "macs", "flops", "paddle_flops", "memory"):
            assert int(row[key]) == getattr(m, key)                  # integers, exact
    doc = json.loads(three.to_json())
    assert [r["model"] for r in doc["models"]] == names and doc["exact"] is True
    assert doc["models"][2]["flops"] == three.models[2].flops


def test_latex_is_a_booktabs_tabular_ready_for_input(three):
    tex = three.to_latex()
    body = [line for line in tex.splitlines() if not line.startswith("%")]
    assert body[0] == "\\begin{tabular}{llrrrrrr}" and body[-1] == "\\end{tabular}"
    assert body[1] == "\\toprule" and body[3] == "\\midrule" and body[-2] == "\\bottomrule"
    assert body[2] == "Model & Input & Params & Trainable & MACs & FLOPs & paddle.flops & Memory \\\\"
    rows = body[4:-2]
    assert len(rows) == 3 and all(r.count(" & ") == 7 and r.endswith(" \\\\") for r in rows)
    assert rows[1].startswith("mobilenet\\_v2 & ") and rows[2].startswith("vit\\_b16 & ")
    assert "{" not in "".join(rows).replace("\\_", "")                 # nothing unescaped to trip TeX


def test_each_model_at_its_own_inputs_from_a_file(tmp_path, monkeypatch):
    (tmp_path / "two.py").write_text(TWO_INPUTS)
    monkeypatch.chdir(tmp_path)
    c = pfe.compare(["two.py:ImageAndTokens", "resnet18"],
                    {"two.py:ImageAndTokens": [[1, 3, 32, 32], ([1, 16], "int64")]})
    two, resnet = c.models
    assert (two.macs, two.params) == (TWO_INPUT_MACS, TWO_INPUT_PARAMS)
    assert two.inputs == "1x3x32x32 + 1x16 int64" and resnet.inputs == "1x3x224x224"
    small, large = pfe.compare([("resnet18", [1, 3, 112, 112]), ("resnet18", [1, 3, 224, 224])]).models
    assert large.macs == resnet.macs and (small.params, small.inputs) == (large.params, "1x3x112x112")
    assert 3.5 < large.macs / small.macs < 4.0          # convolutions scale with the area (odd maps round up)
    with pytest.raises(ValueError, match="did you mean 'resnet50'"):
        pfe.compare(["resnet5"])


def test_language_models_get_parameters_in_billions_and_millions():
    from paddle_flops_ext.report.comparison import ComparedModel, Comparison
    c = pfe.compare(["llama_small", "gpt2_small"], mode="trace")
    assert c.language_model
    row = [line for line in str(c).splitlines() if "llama_small" in line][0]
    assert row.split("|")[3].strip() == f"{c.models[0].params / 1e6:.2f} M"
    big = 405_853_388_800
    table = str(Comparison([ComparedModel("llama-3.1-405b", "1x128 int64", big, big, 1, 2, 1)],
                           language_model=True))
    assert "405.85 B" in table and "405.85 G" not in table


def test_latency_from_the_bench_harness_with_interval(tmp_path, monkeypatch):
    (tmp_path / "two.py").write_text(TWO_INPUTS)
    monkeypatch.chdir(tmp_path)
    c = pfe.compare(["two.py:ImageAndTokens"], [InputShape((1, 3, 32, 32)), InputShape((1, 16), "int64")],
                    latency=True, budget_s=0.3)
    (m,) = c.models
    assert m.timed_runs >= 10 and m.ci_low_s <= m.latency_s <= m.ci_high_s
    assert "Latency" in str(c) and "95% CI" in c.to_markdown()
    row = next(csv.DictReader(io.StringIO(c.to_csv())))
    assert float(row["latency_s"]) == m.latency_s and int(row["timed_runs"]) == m.timed_runs


def test_a_busy_machine_is_said_plainly():
    samples = [0.010, 0.011, 0.010, 0.012, 0.010, 0.011, 0.010, 0.010, 0.011, 0.010]
    busy = Measurement(samples=samples, spent=sum(samples), cpu=0.04 * sum(samples), stats=summarize(samples))

    class Result:
        params = trainable_params = macs = flops = paddle_flops = 1
        memory, inexact, uncounted, inputs = None, [], [], [(1, 4)]
    named = compare_mod.NamedModel("m:f", None, [InputShape((1, 4))])
    notes = []
    row = compare_mod._row(named, Result(), busy, notes)
    assert row.latency_s == statistics.median(samples) and row.timed_runs == 10
    assert notes == ["m:f: the machine was too busy to trust this timing (CPU/wall 0.04: the process was off "
                     "the CPU most of the time)"]


def _cli(*args, cwd, columns=100):
    env = {**os.environ, "PYTHONPATH": ROOT, "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, "-m", "paddle_flops_ext", "compare", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_paper_table_in_one_command(tmp_path, three):
    proc = _cli("resnet18", "mobilenet_v2", "vit_b16", "--format", "markdown", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.strip() == three.to_markdown().strip()
    proc = _cli("resnet18", "mobilenet_v2", "vit_b16", "-o", "table.tex", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == "wrote table.tex (latex)\n"
    assert (tmp_path / "table.tex").read_text().strip() == three.to_latex().strip()
    for columns in (80, 100):
        proc = _cli("resnet18", "mobilenet_v2", "vit_b16", cwd=tmp_path, columns=columns)
        lines = proc.stdout.splitlines()
        assert proc.returncode == 0 and max(map(len, lines)) <= columns
        assert all(n in proc.stdout for n in ("resnet18", "mobilenet_v2", "vit_b16"))


def test_cli_per_model_inputs_and_mistakes(tmp_path):
    (tmp_path / "two.py").write_text(TWO_INPUTS)
    proc = _cli("two.py:ImageAndTokens@1,3,32,32+1,16:int64", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)["models"]
    assert (row["macs"], row["params"]) == (TWO_INPUT_MACS, TWO_INPUT_PARAMS)
    proc = _cli("resnet18", "two.py:ImageAndTokens@", cwd=tmp_path)
    assert proc.returncode == 2 and "give the inputs after '@'" in proc.stderr
    proc = _cli("resnet18", "mobilenet_v22", cwd=tmp_path)
    assert proc.returncode == 2 and "did you mean 'mobilenet_v2'" in " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr
