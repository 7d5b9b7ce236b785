"""Saved models as users hold them: ``paddle.jit.save`` round trips (PIR
``.json``, fixed and -1 batch), old-format ``.pdmodel`` inference programs
and inference folders, from Python and from the CLI. Counts come from the
layer formulas written out here; a saved model never counts 0 for work that
ran, and shapes no count reads never make it INEXACT."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import paddle
import pytest

import paddle_flops_ext as pfe

C_IN, C_OUT, SIDE, CLASSES = 3, 8, 8, 10


def _net():
    paddle.seed(0)
    net = paddle.nn.Sequential(paddle.nn.Conv2D(C_IN, C_OUT, 3, padding=1), paddle.nn.BatchNorm2D(C_OUT),
                               paddle.nn.ReLU(), paddle.nn.Flatten(),
                               paddle.nn.Linear(C_OUT * SIDE * SIDE, CLASSES))
    net.eval()
    return net


def _macs(batch: int) -> int:
    conv = batch * C_OUT * SIDE * SIDE * C_IN * 3 * 3
    linear = batch * C_OUT * SIDE * SIDE * CLASSES
    return conv + linear


PARAMS = (C_IN * C_OUT * 9 + C_OUT) + 4 * C_OUT + (C_OUT * SIDE * SIDE * CLASSES + CLASSES)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("saved")
    net = _net()
    paddle.jit.save(net, str(root / "fixed" / "inference"),
                    input_spec=[paddle.static.InputSpec([2, C_IN, SIDE, SIDE], "float32")])
    paddle.jit.save(net, str(root / "variable" / "inference"),
                    input_spec=[paddle.static.InputSpec([None, C_IN, SIDE, SIDE], "float32")])
    # the old format (.pdmodel), as Paddle 2.x and older inference folders hold it
    script = textwrap.dedent(f"""
        import paddle
        paddle.seed(0)
        net = paddle.nn.Sequential(paddle.nn.Conv2D({C_IN}, {C_OUT}, 3, padding=1), paddle.nn.BatchNorm2D({C_OUT}),
                                   paddle.nn.ReLU(), paddle.nn.Flatten(), paddle.nn.Linear({C_OUT * SIDE * SIDE}, {CLASSES}))
        net.eval()
        paddle.jit.save(net, {str(root / "old" / "inference")!r},
                        input_spec=[paddle.static.InputSpec([1, {C_IN}, {SIDE}, {SIDE}], "float32")])
    """)
    env = dict(os.environ, FLAGS_enable_pir_api="0")
    subprocess.run([sys.executable, "-c", script], check=True, env=env, capture_output=True)
    assert (root / "old" / "inference.pdmodel").exists()
    return root


@pytest.mark.parametrize("mode", ["auto", "eager", "trace"])
def test_a_loaded_model_is_counted_in_every_mode_never_zero(saved, mode):
    m = paddle.jit.load(str(saved / "fixed" / "inference"))
    r = pfe.profile(m, [2, C_IN, SIDE, SIDE], mode=mode, strict=True)
    assert r.macs == _macs(2)
    assert r.flops == pfe.profile(_net(), [2, C_IN, SIDE, SIDE]).flops
    assert r.params == PARAMS
    assert r.exact and not r.inexact
    assert any("no Python forward" in n for n in r.notes) == (mode == "eager")


def test_batch_norm_statistics_outputs_of_unknown_shape_do_not_make_a_count_inexact(saved):
    m = paddle.jit.load(str(saved / "fixed" / "inference"))
    r = pfe.profile(m)                       # the saved shapes, nothing given
    assert r.macs == _macs(2) and r.exact and r.inexact == []


def test_a_variable_batch_is_sized_from_input_size_and_said_inexact(saved):
    m = paddle.jit.load(str(saved / "variable" / "inference"))
    r = pfe.profile(m, [4, C_IN, SIDE, SIDE])
    assert r.macs == _macs(4)
    assert not r.exact and "saved program" in r.inexact[0] and "fixed InputSpec" in r.inexact[0]
    with pytest.raises(pfe.StrictError):
        pfe.profile(m, [4, C_IN, SIDE, SIDE], strict=True)
    with pytest.raises(ValueError, match=r"\[-1, 3, 8, 8\].*give input_size"):
        pfe.profile(m)


@pytest.mark.parametrize("where", ["folder", "json", "pdiparams"])
def test_profile_takes_the_path_of_a_saved_model(saved, where):
    path = {"folder": saved / "fixed", "json": saved / "fixed" / "inference.json",
            "pdiparams": saved / "fixed" / "inference.pdiparams"}[where]
    r = pfe.profile(str(path))
    assert r.macs == _macs(2) and r.params == PARAMS and r.exact


def test_an_old_format_inference_program_is_counted_and_global_scope_left_alone(saved):
    before = list(paddle.static.global_scope().local_var_names())
    r = pfe.profile(str(saved / "old"), [1, C_IN, SIDE, SIDE])
    assert r.macs == _macs(1) and r.params == PARAMS
    assert paddle.in_dynamic_mode()
    assert list(paddle.static.global_scope().local_var_names()) == before


def test_a_folder_with_several_programs_names_them(tmp_path, saved):
    for stem in ("a", "b"):
        (tmp_path / f"{stem}.json").write_text("{}")
    with pytest.raises(ValueError, match="several saved programs.*a.json, b.json"):
        pfe.profile(str(tmp_path))


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "paddle_flops_ext", *args], capture_output=True, text=True,
                          timeout=300)


def test_cli_counts_an_inference_folder_at_its_saved_shapes_and_strict_passes(saved):
    proc = _cli(str(saved / "fixed"), "--strict", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    import json
    doc = json.loads(proc.stdout)
    assert doc["total"]["macs"] == _macs(2) and doc["total"]["params"] == PARAMS


def test_cli_sizes_a_variable_batch_from_input_size_and_refuses_dtype(saved):
    proc = _cli(str(saved / "variable"))
    assert proc.returncode == 2 and "give --input" in proc.stderr and "Traceback" not in proc.stderr
    proc = _cli(str(saved / "variable"), "--input-size", f"3,{C_IN},{SIDE},{SIDE}", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert f'"macs": {_macs(3)}' in proc.stdout
    proc = _cli(str(saved / "fixed"), "--dtype", "float32")
    assert proc.returncode == 2 and "--dtype" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_mode_defaults_to_auto_and_eager_on_a_saved_model_still_counts(saved):
    proc = _cli(str(saved / "fixed"), "--mode", "eager", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert f'"macs": {_macs(2)}' in proc.stdout and "no Python forward" in proc.stdout
    help_text = _cli("profile", "--help").stdout
    assert "{auto,eager,trace}" in help_text and "default: auto" in help_text


def test_cli_strict_fails_on_an_inexact_count(saved):
    proc = _cli(str(saved / "variable"), "--input-size", f"3,{C_IN},{SIDE},{SIDE}", "--strict")
    assert proc.returncode == 1
    assert "--strict: the counts are not exact" in proc.stderr and "Traceback" not in proc.stderr
