"""The README's formula tables are the registry's own rendering."""
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
