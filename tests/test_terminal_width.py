"""Every terminal output fits the terminal: run as a user would, with
COLUMNS=80 and COLUMNS=100, no line of stdout or stderr is wider, and the
figures that matter are still there."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIDTHS = (80, 100)


def run(columns, *args, cwd=None):
    env = {**os.environ, "PYTHONPATH": ROOT, "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, "-m", "paddle_flops_ext", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def widest(proc) -> int:
    return max(len(line) for line in (proc.stdout + proc.stderr).splitlines())


@pytest.mark.parametrize("columns", WIDTHS)
@pytest.mark.parametrize("command", ["--help", "profile --help", "compare --help", "bench --help", "llm --help",
                                     "formulas --help", "bench-train --help", "bench-generation --help"])
def test_help_fits(columns, command):
    proc = run(columns, *command.split())
    assert proc.returncode == 0, proc.stderr
    assert widest(proc) <= columns


@pytest.mark.parametrize("columns", WIDTHS)
def test_profile_of_a_transformer_fits_and_keeps_the_totals(columns):
    proc = run(columns, "vit_b16")
    assert proc.returncode == 0, proc.stderr
    assert widest(proc) <= columns
    text = " ".join(proc.stdout.split())
    assert "86,567,656" in text                       # ViT-B/16's parameters, exact, still in the footer
    assert len(proc.stdout.splitlines()) < 80         # a compact tree, not one row per layer
    assert "--depth all lists every layer" in text


@pytest.mark.parametrize("columns", WIDTHS)
def test_llm_report_fits_with_parameters_in_billions(columns):
    proc = run(columns, "llm", "llama-2-7b", "--seq-len", "64", "--generate", "16,2", "--peaks", "200,15")
    assert proc.returncode == 0, proc.stderr
    assert widest(proc) <= columns
    text = " ".join(proc.stdout.split())
    assert "Total params: 6.74 B (6,738,415,616)" in text
    assert " GB " not in text and " MB " not in text and "GiB" in text


@pytest.mark.parametrize("columns", WIDTHS)
def test_errors_fit(columns):
    proc = run(columns, "resnet5", "--input", "1,3,224,224")
    assert proc.returncode == 2 and widest(proc) <= columns
