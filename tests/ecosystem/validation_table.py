"""The ecosystem table of the docs' Validation page, rendered from
``tests/ecosystem/results.md``.

    python tests/ecosystem/report.py --docs    # rewrite docs/validation.md's table

The page shows every row of results.md, in its order, with fewer columns:
model (as "family: model"), params, MACs, FLOPs, the FLOPs paddle.flops
prints, paddle_flops corrected and eager == trace. ``tests/test_docs.py``
keeps the block between ``<!-- ecosystem:start -->`` and
``<!-- ecosystem:end -->`` equal to :func:`validation_table`, so regenerate
results.md (report.py in each family environment), then run ``--docs``.

Standard library only: the main test suite imports this file without any
ecosystem package.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results.md")
PAGE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "docs", "validation.md")
START = "<!-- ecosystem:start -->\n"
END = "<!-- ecosystem:end -->"

# (page column, results.md column, alignment); the "paddle.flops prints"
# cell of results.md is "FLOPs / params" and the page keeps the FLOPs.
COLUMNS = (
    ("params", "params", "---:"),
    ("MACs", "MACs", "---:"),
    ("FLOPs", "FLOPs", "---:"),
    ("paddle.flops prints", "paddle.flops prints (reproduced: FLOPs / params)", "---:"),
    ("paddle_flops corrected", "paddle_flops corrected", "---:"),
    ("eager == trace", "eager == trace", "---"),
)


def _cells(line):
    return [cell.strip() for cell in line.strip()[1:-1].split(" | ")]


def results_rows(text):
    """The rows of results.md's table, each a dict keyed by its header."""
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    if not lines or _cells(lines[0])[:2] != ["family", "model"]:
        raise ValueError("results.md has no table starting with '| family | model |'")
    header = _cells(lines[0])
    rows = []
    for line in lines[1:]:
        cells = _cells(line)
        if len(cells) != len(header):
            raise ValueError(f"results.md row has {len(cells)} cells, the header {len(header)}: {line}")
        rows.append(dict(zip(header, cells)))
    return rows


def validation_table(results_text):
    """The Markdown table the Validation page shows between its ecosystem markers."""
    out = ["| model | " + " | ".join(c[0] for c in COLUMNS) + " |",
           "|---|" + "|".join(c[2] for c in COLUMNS) + "|"]
    for row in results_rows(results_text):
        cells = [f"{row['family']}: {row['model']}"]
        for name, source, _ in COLUMNS:
            cell = row[source]
            cells.append(cell.split(" / ")[0] if name == "paddle.flops prints" else cell)
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def page_block(page_text):
    """What the page has between its ecosystem markers."""
    return page_text.split(START, 1)[1].split(END, 1)[0]


def write_page(page=PAGE, results=RESULTS):
    """Rewrite the page's ecosystem block from results.md; True if it changed."""
    with open(results, encoding="utf-8") as f:
        table = validation_table(f.read())
    with open(page, encoding="utf-8") as f:
        text = f.read()
    head, rest = text.split(START, 1)
    new = head + START + table + END + rest.split(END, 1)[1]
    if new == text:
        return False
    with open(page, "w", encoding="utf-8") as f:
        f.write(new)
    return True
