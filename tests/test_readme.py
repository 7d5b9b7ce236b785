"""The README reads in five minutes and stays true: at most 250 lines, the
two set-up commands a newcomer copies, output no wider than 100 columns,
every recipe a command the parser accepts, and every link a file that exists.
(Its code blocks run in tests/test_docs.py, with the docs' blocks.)"""
import os
import re
import shlex

from doc_blocks import ROOT, blocks_of

README = "README.md"


def _text() -> str:
    with open(os.path.join(ROOT, README), encoding="utf-8") as f:
        return f.read()


def test_readme_is_at_most_250_lines():
    assert len(_text().splitlines()) <= 250


def test_readme_has_the_two_setup_commands():
    text = _text()
    assert "pip install -e . && paddle-flops paddle.vision.models:resnet50 --input-size 1,3,224,224" in text
    assert 'pip install -e ".[test]" && python -m pytest -q tests' in text


def test_readme_code_and_output_fit_100_columns():
    wide = [f"{block.where}: {line}" for block in blocks_of(README)
            for line in block.code.splitlines() if len(line) > 100]
    assert not wide, "\n".join(wide)


def _recipe_commands() -> list[str]:
    section = _text().split("## Recipes", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`" in line]
    return [cell for row in rows for cell in re.findall(r"`(paddle-flops [^`]*)`", row)]


def test_every_recipe_command_is_accepted_by_the_parser(tmp_path):
    """Each ``paddle-flops ...`` of the recipes table parses, with its
    placeholders (MODEL, path/to/model_dir) standing for a real spec and a
    saved model's folder."""
    from paddle_flops_ext.cli import parser as cli_parser
    (tmp_path / "inference.json").write_text("{}")
    commands = _recipe_commands()
    assert len(commands) >= 10
    parser = cli_parser.build_parser()
    for command in commands:
        command = command.replace("MODEL", "mymodule:build").replace("path/to/model_dir", str(tmp_path))
        argv = shlex.split(command)[1:]
        if argv[0] not in cli_parser.COMMANDS:
            argv = ["profile"] + argv
        parser.parse_args(argv)     # a flag it does not know exits with status 2


def test_readme_links_point_to_files_that_exist():
    targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", _text())
    assert targets
    missing = [t for t in targets if not os.path.exists(os.path.join(ROOT, t))]
    assert not missing, missing
