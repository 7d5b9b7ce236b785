"""Print the ecosystem results as a Markdown table (run inside a family env).

    python tests/ecosystem/report.py test_clas test_seg > part.md
    python tests/ecosystem/report.py --docs    # docs/validation.md's table from results.md

Columns: family, model, input, params, MACs, FLOPs (paddle_flops_ext eager),
paddle.flops itself (numpy < 2 and one float input only; else why not),
eager == trace (macs, flops and params), and the expected MACs from our own
hooks (_expected.py) with whether they agree. Errors are shown, not hidden.
``--docs`` needs no family env: it rewrites the ecosystem table of the docs'
Validation page from results.md (validation_table.py).
"""
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
warnings.filterwarnings("ignore")


def _short(exc):
    text = f"{type(exc).__name__}: {exc}".replace("|", "/").replace("\n", " ")
    return text[:90] + ("..." if len(text) > 90 else "")


def row(mod_name, spec):
    import contextlib
    import io

    import paddle

    import _harness
    try:
        m = _harness.get(spec)
    except Exception as exc:  # noqa: BLE001
        return [spec.family, spec.id, "-", f"build failed: {_short(exc)}", "", "", "", "", "", "", "", ""]
    inp = spec.input_desc()
    try:
        exp = m.expected
        exp_txt = f"{exp['macs']:,}"
    except Exception as exc:  # noqa: BLE001
        exp, exp_txt = None, f"error: {_short(exc)}"
    try:
        r = m.eager
        params, macs, flops = f"{r.params:,}", f"{r.macs:,}", f"{r.flops:,}"
        if exp is not None:
            exp_txt += " (=)" if exp["macs"] == r.macs else " (differs)"
    except Exception as exc:  # noqa: BLE001
        r, params, macs, flops = None, f"error: {_short(exc)}", "", ""
    if r is not None:
        printed = f"{r.paddle_flops_reported:,} / {r.paddle_params_reported:,}"
        corrected = f"{r.paddle_flops:,}"
        recon = "; ".join(f"{line['figure']} {line['delta']:+,} {line['line'].split(' (')[0]}"
                          for line in r.reconciliation) or "-"
    else:
        printed = corrected = recon = ""
    # paddle.flops itself
    if _harness.NUMPY2:
        pf = "n/a (numpy 2)"
    elif spec.inputs()[1] or len(m.args) != 1 or not isinstance(m.args[0], paddle.Tensor) \
            or m.args[0].dtype != paddle.float32:
        pf = "n/a (not one float input)"
    else:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                pf = f"{int(paddle.flops(m.net, list(m.args[0].shape))):,}"
        except Exception as exc:  # noqa: BLE001
            pf = f"error: {_short(exc)}"
    # eager == trace
    if r is None:
        et = "n/a (eager failed)"
    else:
        try:
            if spec.trace == "subprocess":
                t = _harness.trace_in_subprocess(mod_name, spec)
            else:
                t = _harness.summary(_harness.trace_profile(m))
            e = _harness.summary(r)
            keys = ("macs", "flops", "params")
            et = "yes" if all(t[k] == e[k] for k in keys) else \
                "no: trace " + ", ".join(f"{k} {t[k]:,}" for k in keys if t[k] != e[k])
        except Exception as exc:  # noqa: BLE001
            et = f"no: {_short(exc)}"
        if spec.xfail.get("trace"):
            et += " (strict xfail: a known gap)" if et != "yes" else " (xfail marked but agrees: remove it)"
    return [spec.family, spec.id, inp, params, macs, flops, printed, pf, corrected, recon, et, exp_txt]


def main(modules):
    import importlib
    print("| family | model | input | params | MACs | FLOPs | paddle.flops prints (reproduced: FLOPs / params) "
          "| paddle.flops run | paddle_flops corrected | reconciliation (from what it prints) | eager == trace "
          "| expected MACs (hooks) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---|---|---:|")
    for name in modules:
        mod = importlib.import_module(name)
        for spec in mod.SPECS:
            print("| " + " | ".join(str(c) for c in row(name, spec)) + " |", flush=True)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    if sys.argv[1:] == ["--docs"]:
        import validation_table
        changed = validation_table.write_page()
        print(f"{validation_table.PAGE}: ecosystem table " + ("rewritten" if changed else "already up to date"))
    else:
        main(sys.argv[1:] or ["test_clas"])
