"""The README and the documentation site say what the code does.

- Every code block runs: each ``python`` and ``bash`` block of README.md and
  docs/ runs as written, from an empty folder, unless an
  ``<!-- illustrative: REASON -->`` line above it says why not (the
  convention is in tests/doc_blocks.py and docs/contributing.md); output shown
  under ``<!-- output of the block above -->`` is a real excerpt of it.
- The formula and gradient tables of docs/formulas.md are the registry's own
  rendering; the Validation page's ecosystem table is results.md's.
- The command-line reference is generated from the parser and lists every
  subcommand; every page is in the site's navigation.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from doc_blocks import (FORMULAS_PAGE, RUNNABLE, ROOT, SHOWN, blocks_of, documentation_files,
                        generated_formula_sections, marked_section)

FILES = documentation_files()


def _read(path: str) -> str:
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def test_every_fence_names_a_language_and_every_illustrative_block_a_reason():
    problems = []
    for path in FILES:
        for block in blocks_of(path):
            if block.language not in RUNNABLE + SHOWN:
                problems.append(f"{block.where}: fence language {block.language!r} "
                                f"(use one of {RUNNABLE + SHOWN})")
            if block.illustrative is not None and block.language not in RUNNABLE:
                problems.append(f"{block.where}: only python/bash blocks can be illustrative")
            if block.checked_output and block.language != "text":
                problems.append(f"{block.where}: checked output must be a text block")
    assert not problems, "\n".join(problems)


def _run(block, folder) -> str:
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
           "COLUMNS": "100"}
    command = [sys.executable, "-c", block.code] if block.language == "python" else \
        ["bash", "-euo", "pipefail", "-c", block.code]
    proc = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (f"{block.where}: {block.language} block failed "
                                  f"(exit {proc.returncode}):\n{block.code}\n{proc.stderr[-3000:]}")
    return proc.stdout


@pytest.mark.parametrize("path", [p for p in FILES if any(b.runs for b in blocks_of(p))])
def test_code_blocks_run_as_written(path, tmp_path):
    """Each runnable block of one file, in order, each in its own empty folder;
    a checked output block holds only lines the block above it printed."""
    printed = None
    for i, block in enumerate(blocks_of(path)):
        if block.runs:
            folder = tmp_path / f"block_{i}"
            folder.mkdir()
            printed = _run(block, folder)
        elif block.checked_output:
            assert printed is not None, f"{block.where}: checked output with no block run above it"
            lines = {line.rstrip() for line in printed.splitlines()}
            missing = [line for line in block.code.splitlines() if line.rstrip() not in lines]
            assert not missing, (f"{block.where}: shown output is not what the block above printed; "
                                 f"missing lines:\n" + "\n".join(missing) + f"\n--- printed:\n{printed}")


def test_formula_tables_are_the_registrys_rendering():
    page = _read(FORMULAS_PAGE)
    for name, content in generated_formula_sections().items():
        assert marked_section(page, name) == content, \
            f"{FORMULAS_PAGE}'s {name} table differs from the registry: run python tests/doc_blocks.py"


def test_validation_table_is_results_md():
    """Rendered from tests/ecosystem/results.md (regenerate with
    ``python tests/ecosystem/report.py --docs``); needs no ecosystem package."""
    path = os.path.join(ROOT, "tests", "ecosystem", "validation_table.py")
    spec = importlib.util.spec_from_file_location("ecosystem_validation_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.page_block(_read("docs/validation.md")) == module.validation_table(_read(
        "tests/ecosystem/results.md")), "run python tests/ecosystem/report.py --docs"


def _hook(name: str):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "docs", "_hooks", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_generated_from_the_parser_with_every_subcommand():
    from paddle_flops_ext.cli.parser import build_parser
    hook = _hook("cli_reference")
    assert hook.MARKER in _read("docs/cli.md")
    page = hook.on_page_markdown(_read("docs/cli.md"), None, None, None)
    listed = [name for name, _, _ in hook._subcommands(build_parser())]
    assert "profile" in listed and "llm" in listed
    for name in listed:
        assert f"## paddle-flops {name}\n" in page
        assert f"usage: paddle-flops {name}" in page
    assert hook.MARKER not in page


def test_every_page_is_in_the_navigation_and_every_navigation_entry_exists():
    import re
    config = _read("mkdocs.yml")
    in_nav = set(re.findall(r"^\s+- (?:[^:\n]+: )?([\w/-]+\.md)\s*$", config, flags=re.M))
    pages = {os.path.relpath(p, "docs") for p in FILES if p.startswith("docs/")}
    assert in_nav == pages, f"only in nav: {sorted(in_nav - pages)}; not in nav: {sorted(pages - in_nav)}"
