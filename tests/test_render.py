"""Every format says the same thing: the same rows, totals, uncounted work,
layers not called and notes; views (top-k, per type, per operation, the
depth tree) and their percentages; compact JSON."""
import csv
import io
import json

import pytest

from paddle_flops_ext.formulas.registry import Cost
from paddle_flops_ext.report.result import LayerNode, ProfileResult

# A hand-built profile with known numbers: a model with a convolution, a
# block holding a linear layer and an exp without a formula, and a head that
# was never called.
CONV = Cost(macs=3 * 8 * 9 * 64, flops=2 * 3 * 8 * 9 * 64 + 8 * 64, paddle_flops=3 * 8 * 9 * 64 + 8 * 64)
LINEAR = Cost(macs=2 * 16 * 4, flops=2 * 2 * 16 * 4 + 2 * 4, paddle_flops=2 * 16 * 4)
ADD = Cost(macs=0, flops=2 * 4, paddle_flops=0)
CONV_PARAMS, LINEAR_PARAMS, HEAD_PARAMS = 8 * 3 * 9 + 8, 16 * 4 + 4, 4 * 2 + 2
NOTE = "batch statistics: counted as in eval"


def _profile() -> ProfileResult:
    conv = LayerNode("conv", "Conv2D", 1, calls=1, input_shape=[(1, 3, 10, 10)], output_shape=[(1, 8, 8, 8)],
                     params=CONV_PARAMS, trainable_params=CONV_PARAMS, cost=CONV, counted_by="formula",
                     seconds=0.002)
    fc = LayerNode("block.fc", "Linear", 2, calls=1, input_shape=[(2, 16)], output_shape=[(2, 4)],
                   params=LINEAR_PARAMS, trainable_params=LINEAR_PARAMS, cost=LINEAR, counted_by="formula",
                   seconds=0.001)
    block = LayerNode("block", "Block", 1, calls=1, input_shape=[(2, 16)], output_shape=[(2, 4)], cost=ADD,
                      ops={"add": {"calls": 1, "macs": 0, "flops": ADD.flops}}, unknown_ops={"exp": 2},
                      children=[fc], seconds=0.0015)
    head = LayerNode("head", "Linear", 1, called=False, params=HEAD_PARAMS, trainable_params=HEAD_PARAMS)
    root = LayerNode("", "Net", 0, calls=1, input_shape=[(1, 3, 10, 10)], output_shape=[(2, 4)],
                     children=[conv, block, head], seconds=0.004)
    return ProfileResult(root=root, inputs=[(1, 3, 10, 10)], notes=[NOTE])


TOTAL_MACS = CONV.macs + LINEAR.macs
TOTAL_FLOPS = CONV.flops + LINEAR.flops + ADD.flops
TOTAL_PADDLE = CONV.paddle_flops + LINEAR.paddle_flops
TOTAL_PARAMS = CONV_PARAMS + LINEAR_PARAMS + HEAD_PARAMS


def _csv_rows(text):
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("depth", [None, 0, 1, 2])
def test_every_format_has_the_same_totals_uncounted_not_called_and_notes(depth):
    r = _profile()
    assert (r.macs, r.flops, r.paddle_flops, r.params) == (TOTAL_MACS, TOTAL_FLOPS, TOTAL_PADDLE, TOTAL_PARAMS)
    exact = [f"{TOTAL_MACS:,}", f"{TOTAL_FLOPS:,}", f"{TOTAL_PADDLE:,}", f"{TOTAL_PARAMS:,}"]
    for text in (r.table(depth), r.to_markdown(depth)):
        for figure in exact:
            assert figure in text
        assert "Uncounted (ran, no formula): exp x2 in block" in text
        assert "Not called in forward (parameters still counted): head" in text
        assert f"Note: {NOTE}" in text

    doc = json.loads(r.to_json(depth=depth))
    assert doc["total"] == {"macs": TOTAL_MACS, "flops": TOTAL_FLOPS, "paddle_flops": TOTAL_PADDLE,
                            "params": TOTAL_PARAMS, "trainable_params": TOTAL_PARAMS,
                            "paddle_flops_reported": 0, "paddle_params_reported": 0}
    assert doc["uncounted"] == [{"name": "exp", "kind": "op", "calls": 2, "layers": ["block"]}]
    assert doc["not_called"] == ["head"] and doc["notes"] == [NOTE]

    summary = _csv_rows(r.summary_csv())
    total = {row["name"]: int(row["value"]) for row in summary if row["section"] == "total"}
    assert [total[k] for k in ("macs", "flops", "paddle_flops", "params")] == \
        [TOTAL_MACS, TOTAL_FLOPS, TOTAL_PADDLE, TOTAL_PARAMS]
    assert [(row["name"], row["value"]) for row in summary if row["section"] == "uncounted"] == [("exp", "2")]
    assert [row["name"] for row in summary if row["section"] == "not_called"] == ["head"]


@pytest.mark.parametrize("depth", [None, 1])
def test_every_format_has_the_same_rows(depth):
    r = _profile()
    names = [row["name"] for row in json.loads(r.to_json(depth=depth))["layers"]]
    assert names == [row["name"] for row in _csv_rows(r.to_csv(depth))]
    md_rows = r.to_markdown(depth).split("\n| **Total**")[0].splitlines()[2:]
    table_lines = r.table(depth).splitlines()
    rules = [i for i, line in enumerate(table_lines) if line.startswith("+")]
    table_rows = table_lines[rules[1] + 1:rules[2]]
    assert len(md_rows) == len(table_rows) == len(names)
    for name, md, tb in zip(names, md_rows, table_rows):
        label = name or "Net"
        assert f"`{label}" in md and f" {label}" in tb


def test_own_rows_sum_to_the_totals_and_headers_say_own():
    r = _profile()
    rows = json.loads(r.to_json())["layers"]
    assert [row["name"] for row in rows] == ["conv", "block", "block.fc", "head"]
    assert sum(row["macs"] for row in rows) == TOTAL_MACS
    assert sum(row["flops"] for row in rows) == TOTAL_FLOPS
    assert sum(row["params"] for row in rows) == TOTAL_PARAMS
    header = r.table().splitlines()[1]
    assert "MACs (own)" in header and "FLOPs (own)" in header and "(total)" not in header


def test_depth_view_rows_are_subtree_totals_under_full_dotted_names():
    r = _profile()
    content = r.report(depth=2)
    assert content.counts == "total"
    assert [row.name for row in content.rows] == ["", "conv", "block", "block.fc", "head"]
    for row in content.rows:
        assert r.find(row.name).total_cost.flops == row.flops    # every row name can be looked up
    block = next(row for row in content.rows if row.name == "block")
    assert (block.macs, block.flops) == (LINEAR.macs, LINEAR.flops + ADD.flops)
    table = r.table(depth=2)
    assert "MACs (total)" in table and "    block.fc" in table and "head (not called)" in table
    assert [row.name for row in r.report(depth=0).rows] == [""]


def test_top_ranks_layers_with_percentages():
    r = _profile()
    top = r.top(2, by="flops")
    assert [row.name for row in top.rows] == ["conv", "block.fc"]
    assert top.rows[0].share == pytest.approx(100.0 * CONV.flops / TOTAL_FLOPS, abs=1e-3)
    assert top.rows_left_out == 2
    assert f"{100.0 * CONV.flops / TOTAL_FLOPS:.1f}%" in str(top)
    by_params = r.top(1, by="params")
    assert [row.name for row in by_params.rows] == ["conv"]
    assert by_params.rows[0].share == pytest.approx(100.0 * CONV_PARAMS / TOTAL_PARAMS, abs=1e-3)
    with pytest.raises(ValueError, match="rank"):
        r.top(3, by="seconds")


def test_by_type_sums_own_counts_per_layer_type():
    rows = {row.name: row for row in _profile().by_type().rows}
    assert set(rows) == {"Net", "Conv2D", "Block", "Linear"}
    assert (rows["Linear"].layers, rows["Linear"].calls) == (2, 1)
    assert rows["Linear"].params == LINEAR_PARAMS + HEAD_PARAMS
    assert rows["Linear"].flops == LINEAR.flops
    assert sum(row.flops for row in rows.values()) == TOTAL_FLOPS


def test_by_operator_splits_ops_from_layers_counted_whole():
    rows = {(row.name, row.type): row for row in _profile().by_operator().rows}
    assert rows[("add", "operation")].flops == ADD.flops
    assert rows[("exp", "no formula")].calls == 2
    assert rows[("Conv2D", "layer formula")].macs == CONV.macs
    assert sum(row.flops for row in rows.values()) == TOTAL_FLOPS
    assert sum(row.macs for row in rows.values()) == TOTAL_MACS


def test_time_layers_appear_in_every_format():
    r = _profile()
    assert "Time ms" in r.table() and "Time ms" in r.to_markdown()
    assert json.loads(r.to_json())["layers"][0]["seconds"] == 0.002
    assert _csv_rows(r.to_csv())[0]["seconds"] == "0.002"
    assert "2.000" in r.table()      # milliseconds


def test_json_puts_one_row_per_line():
    r = _profile()
    text = r.to_json()
    rows = json.loads(text)["layers"]
    row_lines = [line for line in text.splitlines() if line.strip().startswith('{"name"') and '"depth"' in line]
    assert len(row_lines) == len(rows)
    assert len(text.splitlines()) < 30
    assert json.loads(r.to_json(indent=None)) == json.loads(text)


def test_real_profile_lists_uncounted_layer_in_every_format():
    import paddle
    import paddle_flops_ext as pfe
    from paddle import nn

    class Scale(nn.Layer):
        def forward(self, x):
            return x * 2.0

    r = pfe.profile(nn.Sequential(nn.Linear(4, 3), Scale()), [2, 4], count_functional=False)
    linear_macs = 2 * 4 * 3
    assert r.macs == linear_macs
    assert "Scale x1" in r.table() and "Scale x1" in r.to_markdown()
    assert json.loads(r.to_json())["uncounted"][0]["name"] == "Scale"
    assert [row["name"] for row in _csv_rows(r.summary_csv()) if row["section"] == "uncounted"] == ["Scale"]
    assert paddle.__version__


def test_durations_carry_the_unit_their_size_calls_for():
    from paddle_flops_ext.report.render import duration
    assert duration(0.0123) == "12.3 ms"
    assert duration(0.367511) == "368 ms"
    assert duration(34.293559) == "34.29 s"
    assert duration(1644.661554) == "1,644.66 s"
    assert duration(None) == "-"


# --------------------------------------------------------------------------- tidy CSV, LaTeX, units, width

COUNT_FIELDS = ("params", "trainable_params", "macs", "flops", "paddle_flops", "calls", "depth")


@pytest.mark.parametrize("depth", [None, 1])
def test_csv_holds_only_rows_with_integer_counts(depth):
    r = _profile()
    rows = _csv_rows(r.to_csv(depth))
    assert [row["name"] for row in rows] == [row.name for row in r.report(depth=depth).rows]
    for row in rows:
        for key in COUNT_FIELDS:
            assert row[key] == str(int(row[key]))      # present on every line, an integer
    assert sum(int(row["macs"]) for row in rows if depth is None) == (TOTAL_MACS if depth is None else 0)
    for view in (r.by_type(), r.by_operator()):
        for row in _csv_rows(view.to_csv()):
            assert row["macs"] == str(int(row["macs"])) and row["flops"] == str(int(row["flops"]))


def test_csv_counts_past_two_to_the_53_stay_exact():
    big = 2 ** 53 + 1
    root = LayerNode("", "Net", 0, calls=1, children=[LayerNode("fc", "Linear", 1, calls=1, params=big,
                                                                trainable_params=big,
                                                                cost=Cost(big, 2 * big + 1, big))])
    r = ProfileResult(root=root, inputs=[(1, 4)])
    (row,) = _csv_rows(r.to_csv())
    assert int(row["flops"]) == 2 * big + 1 and int(row["params"]) == big
    total = {row["name"]: int(row["value"]) for row in _csv_rows(r.summary_csv()) if row["section"] == "total"}
    assert total["flops"] == 2 * big + 1


def test_inexact_counts_are_said_on_every_csv_line():
    r = _profile()
    r.notes.append("INEXACT: a size was computed at run time")
    assert all(row["inexact"].startswith("INEXACT") for row in _csv_rows(r.to_csv()))


def test_latex_is_a_booktabs_tabular_with_escaped_cells():
    r = _profile()
    tex = r.to_latex()
    lines = [line for line in tex.splitlines() if not line.startswith("%")]
    assert lines[0].startswith("\\begin{tabular}{") and lines[-1] == "\\end{tabular}"
    spec = lines[0][len("\\begin{tabular}{"):-1]
    columns = r.report().columns
    assert spec == "".join("l" if c.kind in ("text", "shape") else "r" for c in columns)
    assert lines[1] == "\\toprule" and lines[3] == "\\midrule" and lines[-2] == "\\bottomrule"
    body = lines[4:lines.index("\\bottomrule")]
    rows = [line for line in body if line.endswith("\\\\")]
    for line in [lines[2]] + rows:
        assert line.endswith(" \\\\") and line.count(" & ") == len(columns) - 1
    assert "block.fc" in tex and "\\%" in lines[2]          # "% of FLOPs" escaped in the heading
    assert all(line.startswith("% ") for line in tex.splitlines() if NOTE in line)


def test_latex_escapes_every_special_character():
    from paddle_flops_ext.report.render import latex_escape
    assert latex_escape("a_b & 50% $x #1 {y} ~ ^ \\") == \
        "a\\_b \\& 50\\% \\$x \\#1 \\{y\\} \\textasciitilde{} \\textasciicircum{} \\textbackslash{}"


def test_language_model_parameters_are_in_billions_and_memory_in_binary_units():
    from paddle_flops_ext.report.render import human_bytes, human_params
    assert human_params(405_853_388_800, language_model=True) == "405.85 B"
    assert human_params(124_439_808, language_model=True) == "124.44 M"
    assert human_params(405_853_388_800) == "405.85 G"
    assert human_bytes(3 * 2 ** 30, 2) == "3.00 GiB" and human_bytes(1536) == "1.5 KiB"
    r = _profile()
    r.memory = {"parameters": 5 * 2 ** 20, "peak": 6 * 2 ** 20, "by_dtype": {"parameters": {"float32": 5 * 2 ** 20}}}
    assert "parameters 5.00 MiB   peak 6.00 MiB" in r.table()
    assert "MB" not in r.table().replace("MiB", "")


@pytest.mark.parametrize("width", [60, 80, 100])
def test_table_fits_the_width_leaving_out_columns_in_the_documented_order(width):
    from paddle_flops_ext.report.render import render_table
    r = _profile()
    full = r.table()
    assert max(map(len, full.splitlines())) > 100      # the full table is wider than any of these
    fitted = render_table(r.report(), width)
    assert max(map(len, fitted.splitlines())) <= width
    heading = fitted.splitlines()[1]
    order = ["Input shape", "Output shape", "%", "Type"]     # the first left out first
    gone = [h for h in order if f" {h} " not in heading]
    assert gone == order[:len(gone)] and gone
    assert "Left out to fit" in fitted and "Params" in heading and "FLOPs" in heading
    assert f"{TOTAL_FLOPS:,}" in fitted.replace("\n  ", " ")
