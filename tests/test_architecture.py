"""The package's layout holds: layers import only from below, no import
cycle (function-local imports included), local imports say why, one
exception base, and ARCHITECTURE.md names exactly the modules that exist."""
from __future__ import annotations

import ast
import builtins
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "paddle_flops_ext")

# Layer of each top-level part of the package: a module may import only from
# its own part or from parts of a lower layer.
LAYERS = {
    "errors": 0, "quiet": 0, "files": 0,
    "formulas": 1, "models": 1,
    "collect": 2,
    "estimates": 3,
    "report": 4,
    "loading": 1,    # a model from a spec or a saved file: imports nothing of ours
    "api": 5, "lazy": 5,
    "__init__": 5,   # the package's lazy facade over api (and the public types)
    "llm": 6,
    "bench": 7,
    "cli": 8,
    "__main__": 9,
}
# The one import that goes up, by module: with no peaks given, the generation
# roofline measures this machine's peaks with the bench harness (a local
# import, made only then).
UPWARD = {("paddle_flops_ext.llm.generation", "paddle_flops_ext.bench.peak"),
          ("paddle_flops_ext.llm.generation", "paddle_flops_ext.bench.timing")}


def _modules() -> dict[str, str]:
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                found[rel[: -len(".__init__")] if rel.endswith(".__init__") else rel] = path
    return found


MODULES = _modules()


class Import:
    def __init__(self, source: str, target: str, line: int, local: bool, text: str):
        self.source, self.target, self.line, self.local, self.text = source, target, line, local, text

    def __repr__(self):
        return f"{self.source}:{self.line} -> {self.target}"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    is_package = MODULES[module].endswith("__init__.py")
    parts = module.split(".") if is_package else module.split(".")[:-1]
    if node.level:
        parts = parts[: len(parts) - (node.level - 1)]
        return ".".join(parts + ([node.module] if node.module else []))
    return node.module or ""


def _own(name: str) -> str | None:
    while name and name not in MODULES:
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]
    return name or None


def _imports() -> list[Import]:
    out = []
    for module, path in MODULES.items():
        text = open(path, encoding="utf-8").read()
        lines = text.splitlines()
        tree = ast.parse(text)
        local = {id(sub) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                 for sub in ast.walk(fn) if isinstance(sub, (ast.Import, ast.ImportFrom))}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = _resolve(module, node)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            context = lines[node.lineno - 1] + "\n" + (lines[node.lineno - 2] if node.lineno > 1 else "")
            for target in targets:
                out.append(Import(module, target, node.lineno, id(node) in local, context))
    return out


IMPORTS = _imports()


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_part_of_the_package_has_a_layer():
    assert {_part(m) for m in MODULES} <= set(LAYERS), {_part(m) for m in MODULES} - set(LAYERS)


def test_no_import_cycle_among_the_package_modules_function_local_imports_included():
    graph: dict[str, set] = {m: set() for m in MODULES}
    for imp in IMPORTS:
        target = _own(imp.target)
        if target and target != imp.source and not target.startswith(imp.source + "."):
            graph[imp.source].add(target)
    # a package's __init__ may import its own submodules: that is not a cycle of behaviour
    state: dict[str, int] = {}
    cycles = []

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_each_layer_imports_only_from_itself_or_below():
    wrong = []
    for imp in IMPORTS:
        target = _own(imp.target)
        if target is None or _part(imp.source) == "__init__":
            continue
        source_part, target_part = _part(imp.source), _part(target)
        if source_part == target_part:
            continue
        below = LAYERS[target_part] < LAYERS[source_part]
        if not (below or (imp.source, target) in UPWARD):
            wrong.append(imp)
    assert not wrong, wrong


def test_presentation_reads_results_and_never_imports_engines_llm_or_bench():
    allowed = ("paddle_flops_ext.report.", "paddle_flops_ext.formulas", "paddle_flops_ext.estimates.",
               "paddle_flops_ext.collect.records", "paddle_flops_ext.collect.params", "paddle_flops_ext.errors")
    wrong = [imp for imp in IMPORTS if _part(imp.source) == "report" and _own(imp.target)
             and not _own(imp.target).startswith(allowed)]
    assert not wrong, wrong


def test_function_local_imports_of_the_package_say_why():
    """A function-local import of one of our modules hides the dependency;
    each one left carries a ``# local:`` comment giving its reason (mostly:
    keeping Paddle out of ``paddle-flops --help``)."""
    silent = [imp for imp in IMPORTS if imp.local and _own(imp.target) and "local:" not in imp.text]
    assert not silent, silent


def test_every_public_exception_has_the_common_base_and_its_builtin():
    import paddle_flops_ext as pfe
    from paddle_flops_ext import errors

    classes = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, BaseException)]
    assert len(classes) >= 8
    for cls in classes:
        assert issubclass(cls, errors.PaddleFlopsError), cls
        if cls is not errors.PaddleFlopsError:
            assert any(issubclass(cls, b) for b in (ValueError, TypeError, RuntimeError)), cls
    for name in ("HandlerError", "ForwardError", "ModelChanged", "ProfilingBusy", "TraceError", "StrictError"):
        assert getattr(pfe, name) is getattr(errors, name)
    # no exception class defined anywhere else in the package
    elsewhere = []
    for module, path in MODULES.items():
        if module.endswith(".errors"):
            continue
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Name) and (b.id.endswith(("Error", "Exception")) or b.id in vars(builtins)
                                                 and isinstance(vars(builtins)[b.id], type)
                                                 and issubclass(vars(builtins)[b.id], BaseException))
                    for b in node.bases):
                elsewhere.append(f"{module}.{node.name}")
    assert not elsewhere, elsewhere


def test_a_strict_failure_is_caught_by_the_base_and_by_runtime_error():
    import paddle

    import paddle_flops_ext as pfe

    class Scaled(paddle.nn.Layer):   # a leaf with no formula: with count_functional=False nothing counts it
        def forward(self, x):
            return x * 2.0

    net = paddle.nn.Sequential(paddle.nn.Linear(4, 4), Scaled())
    pfe.profile(net, [1, 4], strict=True)   # counted through its operations: exact, no error
    for catch in (pfe.PaddleFlopsError, RuntimeError, pfe.StrictError):
        with pytest.raises(catch, match="no counting formula"):
            pfe.profile(net, [1, 4], strict=True, count_functional=False)


def _architecture_page() -> str:
    return open(os.path.join(ROOT, "ARCHITECTURE.md"), encoding="utf-8").read()


def test_architecture_page_names_every_module_and_only_modules_that_exist():
    page = _architecture_page()
    named = set(re.findall(r"`(paddle_flops_ext(?:/[\w]+)*(?:/[\w]+\.py|/))`", page))
    paths = {os.path.relpath(p, ROOT).replace(os.sep, "/") for p in MODULES.values()}
    folders = {os.path.dirname(p) + "/" for p in paths}
    missing_on_disk = sorted(n for n in named if n not in paths and n not in folders)
    assert not missing_on_disk, f"ARCHITECTURE.md names modules that do not exist: {missing_on_disk}"
    unnamed = sorted(p for p in paths if p not in named and not p.endswith("__init__.py"))
    assert not unnamed, f"modules missing from ARCHITECTURE.md: {unnamed}"
