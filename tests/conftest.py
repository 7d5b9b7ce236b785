"""Test-session plumbing.

Slow tests: ``@pytest.mark.slow`` marks a test that takes more than about 20
seconds on the 2-core development machine. ``python -m pytest -q tests`` (the
README's test command) leaves them out, reported as deselected, so it stays
within a few minutes; ``-m slow`` runs only them, ``--run-slow`` runs
everything. ``.ci/run`` runs both.

Paddle 3.3.1 can segfault in its C++ destructors while the Python interpreter
shuts down (seen once in about twenty full runs here, after every test had
passed and before pytest's buffered summary reached the terminal). We flush and
leave with pytest's own exit status before that teardown, so a green run stays
green and a red one stays red.
"""
import os
import sys

import pytest

_exit_status = {}


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true",
                     help="also run the tests marked slow (left out by default)")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than about 20 s here; run with -m slow or --run-slow")


def pytest_collection_modifyitems(config, items):
    """Leave the slow tests out unless asked for by --run-slow or a -m
    expression (``-m slow`` selects them; ``-m "not slow"`` is explicit)."""
    if config.getoption("--run-slow") or config.getoption("markexpr"):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


def pytest_sessionfinish(session, exitstatus):
    _exit_status["code"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    if "code" not in _exit_status:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status["code"])


@pytest.fixture
def jit_saved(tmp_path):
    """``save(net_expr, shape) -> path``: ``paddle.jit.save`` the layer that
    ``net_expr`` builds (``nn`` is ``paddle.nn``) in a fresh interpreter.

    Late in a full run of this suite, ``paddle.jit.save`` itself segfaulted
    now and then (Paddle 3.3.1, inside its C++ program building); saving in a
    clean process keeps that out of the tests, which are about loading and
    counting the saved model."""
    import subprocess

    def save(net_expr, shape):
        path = str(tmp_path / "model")
        code = ("import paddle, paddle.nn as nn\n"
                f"net = {net_expr}\n"
                f"paddle.jit.save(net, {path!r}, input_spec=[paddle.static.InputSpec({list(shape)!r}, 'float32')])\n")
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        return path

    return save
