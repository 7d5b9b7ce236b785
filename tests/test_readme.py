"""The README's formula tables are the registry's own rendering, and its
ecosystem table is tests/ecosystem/results.md's."""
import os

import paddle_flops_ext  # noqa: F401  (registers the formulas)
from paddle_flops_ext.report.conventions import conventions_markdown

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_formula_section_matches_registry():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = text.split("<!-- formulas:start -->\n", 1)[1].split("<!-- formulas:end -->", 1)[0]
    assert section == conventions_markdown()


def test_readme_has_the_two_setup_commands():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    assert "pip install -e . && paddle-flops paddle.vision.models:resnet50" in text
    assert 'pip install -e ".[test]" && python -m pytest -q tests' in text


def _python_blocks(text):
    return [block.split("\n```", 1)[0] for block in text.split("```python\n")[1:]]


def test_readme_python_examples_run_as_written(tmp_path):
    """Every ```python block of the README, run in a fresh interpreter from
    an empty folder, finishes without an error."""
    import subprocess
    import sys
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    blocks = _python_blocks(text)
    assert blocks, "the README has no ```python block"
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for i, code in enumerate(blocks):
        script = tmp_path / f"readme_block_{i}.py"
        script.write_text(code, encoding="utf-8")
        proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"README python block {i} failed:\n{code}\n{proc.stderr[-2000:]}"


def test_readme_gradient_table_matches_registry():
    from paddle_flops_ext.report.conventions import gradient_table
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = text.split("<!-- gradients:start -->\n", 1)[1].split("<!-- gradients:end -->", 1)[0]
    assert section == gradient_table()


def test_readme_ecosystem_table_matches_results_md():
    """The README's ecosystem table is rendered from tests/ecosystem/results.md
    (regenerate with ``python tests/ecosystem/report.py --readme``); this needs
    neither the ecosystem packages nor their environments."""
    import importlib.util
    path = os.path.join(ROOT, "tests", "ecosystem", "readme_table.py")
    spec = importlib.util.spec_from_file_location("ecosystem_readme_table", path)
    readme_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(readme_table)
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    results = open(os.path.join(ROOT, "tests", "ecosystem", "results.md"), encoding="utf-8").read()
    assert readme_table.readme_block(text) == readme_table.readme_table(results), \
        "README's ecosystem table differs from results.md: run python tests/ecosystem/report.py --readme"
