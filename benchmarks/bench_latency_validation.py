"""Is the latency predicted from the counts right? Predicted vs measured on
models the calibration never timed.

1. A calibration of this machine (``--calibration FILE`` reuses one; else
   ``paddle-flops calibrate`` runs first, within ``--calibrate-budget``): it
   times only micro-benchmarks (single convolutions, Linears, attention
   products, norms, ...), never a whole model.
2. For every model of :data:`MODELS` (CNNs, mobile networks, vision
   transformers, transformer encoders, detection and segmentation
   backbones): the prediction from a trace (the model is not run), per
   mode and batch, with the roofline estimate beside it.
3. The measurement: the model timed in ``--processes`` fresh interpreters
   (:func:`paddle_flops_ext.bench.processes.time_in_processes`), batch 1 in
   Paddle Inference and eager, batch 8 in Paddle Inference; the median of
   the process medians, their spread and the 95 % prediction interval of
   the next process.
4. Error = predicted / measured - 1; the share within +-10 %, the error
   distribution, the roofline's error beside it; the machine's load before
   and after. Writes ``benchmarks/results/latency_validation.{md,json}``.

    python benchmarks/bench_latency_validation.py                       # calibrate, then all models
    python benchmarks/bench_latency_validation.py --calibration benchmarks/results/latency_calibration.json
    python benchmarks/bench_latency_validation.py --models resnet18,bert_mini --processes 2
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shlex
import sys
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from paddle_flops_ext.bench.machine import busy_fraction, cpu_pressure, load_average  # noqa: E402
from paddle_flops_ext.estimates.latency import FORMS  # noqa: E402
from paddle_flops_ext.files import write_text  # noqa: E402

RESULTS = os.path.join(ROOT, "benchmarks", "results")
TOLERANCE = 0.10
TARGET_SHARE = 0.90
THIS = "benchmarks.bench_latency_validation"


@dataclass(frozen=True)
class ValidationModel:
    name: str
    family: str
    spec: str                  # zoo name or module:callable
    shape: tuple | None = None  # per-sample input shape (module:callable models)


def _vit(embed_dim, depth, heads):
    from paddle_flops_ext.models.vit import VisionTransformer
    return VisionTransformer(img_size=224, patch_size=16, embed_dim=embed_dim, depth=depth, num_heads=heads)


def vit_tiny():
    return _vit(192, 12, 3)


def vit_small():
    return _vit(384, 12, 6)


def _encoder(d_model, layers, heads):
    import paddle.nn as nn
    layer = nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0, activation="gelu")
    return nn.TransformerEncoder(layer, layers)


def bert_mini():
    return _encoder(256, 4, 4)


def bert_small():
    return _encoder(512, 4, 8)


def bert_medium():
    return _encoder(512, 8, 8)


def _features(net):
    import paddle.nn as nn
    return nn.Sequential(*[m for name, m in net.named_children() if name not in ("fc", "avgpool", "classifier",
                                                                                  "pool2d_avg", "flatten")])


def resnet18_backbone():
    import paddle.vision.models as vm
    return _features(vm.resnet18(pretrained=False))


def resnet50_backbone():
    import paddle.vision.models as vm
    return _features(vm.resnet50(pretrained=False))


def mobilenet_v3_backbone():
    import paddle.vision.models as vm
    return _features(vm.mobilenet_v3_large(pretrained=False))


def seg_mobilenet_v2():
    """MobileNetV2 features, a 1x1 head and a learned x2 upsampling (a transposed convolution: Paddle
    3.3.1's oneDNN predictor rejects interpolation, "ConvertPirAttribute2RuntimeAttribute not support")."""
    import paddle.nn as nn
    import paddle.vision.models as vm
    return nn.Sequential(vm.mobilenet_v2(pretrained=False).features, nn.Conv2D(1280, 256, 1),
                         nn.Conv2DTranspose(256, 21, 4, stride=2, padding=1))


def _vision(name):
    return f"paddle.vision.models:{name}"


MODELS = (
    ValidationModel("resnet18", "CNN", "resnet18"),
    ValidationModel("resnet34", "CNN", _vision("resnet34")),
    ValidationModel("resnet50", "CNN", "resnet50"),
    ValidationModel("densenet121", "CNN", _vision("densenet121")),
    ValidationModel("googlenet", "CNN", _vision("googlenet")),
    ValidationModel("squeezenet1_1", "CNN", _vision("squeezenet1_1")),
    ValidationModel("mobilenet_v1", "mobile", _vision("mobilenet_v1")),
    ValidationModel("mobilenet_v2", "mobile", "mobilenet_v2"),
    ValidationModel("mobilenet_v3_small", "mobile", "mobilenet_v3_small"),
    ValidationModel("mobilenet_v3_large", "mobile", "mobilenet_v3_large"),
    ValidationModel("shufflenet_v2_x0_5", "mobile", _vision("shufflenet_v2_x0_5")),
    ValidationModel("shufflenet_v2_x1_0", "mobile", "shufflenet_v2_x1_0"),
    ValidationModel("vit_tiny", "ViT", f"{THIS}:vit_tiny", (3, 224, 224)),
    ValidationModel("vit_small", "ViT", f"{THIS}:vit_small", (3, 224, 224)),
    ValidationModel("swin_t", "ViT", "swin_t"),
    ValidationModel("bert_mini", "encoder", f"{THIS}:bert_mini", (128, 256)),
    ValidationModel("bert_small", "encoder", f"{THIS}:bert_small", (128, 512)),
    ValidationModel("bert_medium", "encoder", f"{THIS}:bert_medium", (128, 512)),
    ValidationModel("resnet18_backbone_320", "detection backbone", f"{THIS}:resnet18_backbone", (3, 320, 320)),
    ValidationModel("resnet50_backbone_320", "detection backbone", f"{THIS}:resnet50_backbone", (3, 320, 320)),
    ValidationModel("mobilenet_v3_backbone_320", "detection backbone", f"{THIS}:mobilenet_v3_backbone",
                    (3, 320, 320)),
    ValidationModel("seg_mobilenet_v2_256", "segmentation", f"{THIS}:seg_mobilenet_v2", (3, 256, 256)),
)
PIPELINE_MODELS = ("mobilenet_v3_small", "bert_mini", "resnet18")
PLAN = {1: ("inference", "eager"), 8: ("inference",)}


def _load() -> dict:
    la = load_average()
    return {"load_1min": la[0] if la else None, "busy_fraction_others": busy_fraction(1.0),
            "cpu_pressure_avg10": cpu_pressure()}


def predictions(model: ValidationModel, calibration, plan: dict) -> dict:
    """``{(batch, mode): Prediction}`` from a trace of ``model``."""
    from paddle_flops_ext.bench.calibrate import predict_latency
    from paddle_flops_ext.bench.processes import build_for_timing
    from paddle_flops_ext.quiet import quiet
    out = {}
    for batch, modes in plan.items():
        with quiet(True):
            net, inputs = build_for_timing(model.spec, batch, model.shape)
            preds = predict_latency(net, [tuple(t.shape) for t in inputs][0], calibration, modes=modes)
        for m, p in preds.items():
            out[(batch, m)] = p
    return out


def _err(pred: float, meas: float | None) -> float | None:
    return None if not meas else pred / meas - 1.0


MEASURED_FIELDS = ("measured_ms", "interval_ms", "process_medians_ms", "between_process_spread", "errors", "load")


def _measured_fields(timing, mode: str) -> dict:
    """The measured columns of one row from a :class:`ProcessTiming`."""
    bp = timing.modes.get(mode)
    meas = bp.median if bp else None
    return {"measured_ms": meas * 1e3 if meas else None,
            "interval_ms": [bp.low * 1e3, bp.high * 1e3] if bp and bp.low else None,
            "process_medians_ms": [m * 1e3 for m in bp.medians] if bp else None,
            "between_process_spread": bp.spread if bp else None,
            "errors": timing.errors, "load": [r.get("load") for r in timing.runs]}


def reused_measurements(doc: dict) -> dict:
    """``{(model, batch, mode): measured columns}`` of an earlier validation's rows."""
    return {(r["model"], int(r["batch"]), r["mode"]): {f: r.get(f) for f in MEASURED_FIELDS} for r in doc["rows"]}


def validate(models, calibration, *, processes: int = 3, budget_s: float = 1.0, plan=None,
             timing=None, progress=sys.stderr, reuse: dict | None = None) -> dict:
    """Rows of predicted vs measured, and the summary; ``timing`` is
    :func:`time_in_processes` unless a test gives a fake; with ``reuse``
    (:func:`reused_measurements`) nothing is timed and a row not measured
    before has no measurement."""
    from paddle_flops_ext.bench.processes import time_in_processes
    timing = timing or time_in_processes
    plan = plan or PLAN
    rows, errors = [], []
    for i, model in enumerate(models):
        try:
            preds = predictions(model, calibration, plan)
        except Exception as e:  # a model the tracer cannot take is reported, not fatal
            errors.append(f"{model.name}: prediction failed: {type(e).__name__}: {e}"[:300])
            continue
        measured = None if reuse is not None else timing(model.spec, plan=plan, n=processes, budget_s=budget_s,
                                                          shape=model.shape)
        for (batch, mode), p in preds.items():
            if reuse is not None:
                got = reuse.get((model.name, batch, mode)) or {f: None for f in MEASURED_FIELDS}
            else:
                got = _measured_fields(measured[batch], mode)
            meas = got["measured_ms"] / 1e3 if got["measured_ms"] else None
            rows.append({"model": model.name, "family": model.family, "batch": batch, "mode": mode,
                         "predicted_ms": p.seconds * 1e3, "roofline_ms": p.roofline_seconds * 1e3,
                         **got, "error": _err(p.seconds, meas), "roofline_error": _err(p.roofline_seconds, meas),
                         "uncalibrated": p.uncalibrated})
        if measured is not None:
            errors += [f"{model.name} b{b}: {e}" for b, t in measured.items() for e in t.errors]
        if progress is not None:
            done = [r for r in rows if r["model"] == model.name and r["error"] is not None]
            print(f"[{i + 1}/{len(models)}] {model.name}: " + ", ".join(
                f"{r['mode']} b{r['batch']} {r['error']:+.0%}" for r in done), file=progress, flush=True)
    return {"rows": rows, "errors": errors, "summary": summarize(rows)}


def _quantile(xs: list, q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarize(rows: list) -> list[dict]:
    """Per mode and batch, and over all: how many rows, the share within
    +-10 %, the median and 90th percentile of |error|, the same for the roofline."""
    groups: dict = {}
    for r in rows:
        if r["error"] is None:
            continue
        for key in ((r["mode"], r["batch"]), ("all", "all")):
            groups.setdefault(key, []).append(r)
    out = []
    for (mode, batch), rs in groups.items():
        errs = [abs(r["error"]) for r in rs]
        roof = [abs(r["roofline_error"]) for r in rs if r["roofline_error"] is not None]
        within = sum(e <= TOLERANCE for e in errs)
        out.append({"mode": mode, "batch": batch, "n": len(rs), "within_10pct": within,
                    "share_within_10pct": within / len(rs), "median_abs_error": _quantile(errs, 0.5),
                    "p90_abs_error": _quantile(errs, 0.9), "mean_signed_error": sum(r["error"] for r in rs) / len(rs),
                    "roofline_median_abs_error": _quantile(roof, 0.5),
                    "roofline_share_within_10pct": (sum(e <= TOLERANCE for e in roof) / len(roof)) if roof else None})
    return out


def _pct(v) -> str:
    return "-" if v is None else f"{v * 100:+.1f} %"


def markdown(doc: dict) -> str:
    s = doc["summary"]
    allrow = next((r for r in s if r["mode"] == "all"), None)
    lines = ["# Latency predicted from the counts vs measured", "",
             f"Command: `{doc['command']}`  ", f"Date: {doc['date']}  ",
             f"Machine: {doc['machine'].get('cpu_model')}, {doc['threads']} threads, "
             f"Paddle {doc['machine'].get('paddle')}  ",
             f"Calibration: `{doc['calibration_file']}` ({doc['calibration_cases']} micro-benchmark timings, "
             f"no whole model; fit form {', '.join(doc.get('forms') or ['free'])}); "
             f"{doc['processes']} fresh processes per model  "]
    reused = doc.get("measurements_reused_from")
    if reused:
        lines += [f"Measured: not in this run; the measured columns are reused from the run of {reused['date']}  ",
                  f"(`{reused['command']}`, file `{reused['file']}`); only the predictions are new  "]
    lines += [f"Load {'during the measurement ' if reused else ''}before: {doc['load_before']}; "
              f"after: {doc['load_after']}", ""]
    if allrow:
        lines += [f"**{allrow['within_10pct']} of {allrow['n']} predictions "
                  f"({allrow['share_within_10pct'] * 100:.0f} %) within +-10 %** of the measured median "
                  f"(target {TARGET_SHARE * 100:.0f} %); the roofline alone: "
                  f"{(allrow['roofline_share_within_10pct'] or 0) * 100:.0f} %.", ""]
    lines += ["| mode | batch | n | within +-10 % | median abs err | p90 abs err | mean signed | roofline median abs err |",
              "|---|---|---|---|---|---|---|---|"]
    for r in s:
        lines.append(f"| {r['mode']} | {r['batch']} | {r['n']} | {r['within_10pct']} "
                     f"({r['share_within_10pct'] * 100:.0f} %) | {r['median_abs_error'] * 100:.1f} % | "
                     f"{r['p90_abs_error'] * 100:.1f} % | {_pct(r['mean_signed_error'])} | "
                     f"{(r['roofline_median_abs_error'] or 0) * 100:.1f} % |")
    lines += ["", "| model | family | batch | mode | predicted ms | measured ms | next-process interval ms | "
                  "spread | error | roofline ms | roofline error |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in doc["rows"]:
        iv = f"{r['interval_ms'][0]:.2f} - {r['interval_ms'][1]:.2f}" if r["interval_ms"] else "-"
        meas = f"{r['measured_ms']:.2f}" if r["measured_ms"] else "-"
        spread = f"{r['between_process_spread'] * 100:.0f} %" if r["between_process_spread"] is not None else "-"
        lines.append(f"| {r['model']} | {r['family']} | {r['batch']} | {r['mode']} | {r['predicted_ms']:.2f} | "
                     f"{meas} | {iv} | {spread} | {_pct(r['error'])} | {r['roofline_ms']:.3f} | "
                     f"{_pct(r['roofline_error'])} |")
    if doc["errors"]:
        lines += ["", "Errors:", ""] + [f"- {e}" for e in doc["errors"]]
    lines += ["", "Error = predicted / measured - 1, against the median of the per-process medians. "
                  "The interval is the 95 % prediction interval of the next process's median "
                  "(log scale, Student t over the processes).", ""]
    lines += [f"- {n}" for n in doc.get("notes", [])]
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calibration", default=None, help="an existing calibration file (else calibrate first)")
    p.add_argument("--calibrate-budget", type=float, default=300.0)
    p.add_argument("--models", default=None, help="comma-separated names from MODELS (default: all)")
    p.add_argument("--processes", type=int, default=3)
    p.add_argument("--budget", type=float, default=1.0, help="timed seconds per mode per process")
    p.add_argument("--out", default=RESULTS)
    p.add_argument("--tag", default="latency_validation")
    p.add_argument("--note", action="append", default=[], help="a line for the notes")
    p.add_argument("--reuse-measurements", default=None, metavar="FILE",
                   help="an earlier validation JSON: re-predict only, take its measured columns (no timing)")
    p.add_argument("--form", default=None, choices=FORMS,
                   help="refit the calibration's stored micro-benchmarks in this form (default: as in the file)")
    a = p.parse_args(argv)
    from paddle_flops_ext.quiet import import_paddle_quietly
    import_paddle_quietly()
    from paddle_flops_ext.bench.calibrate import Calibration, calibrate
    names = a.models.split(",") if a.models else [m.name for m in MODELS]
    by_name = {m.name: m for m in MODELS}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(by_name)}")
    reused = None
    if a.reuse_measurements:
        try:
            with open(a.reuse_measurements, encoding="utf-8") as f:
                reused = json.load(f)
            reuse = reused_measurements(reused)
        except (OSError, ValueError, KeyError, TypeError) as e:
            p.error(f"argument --reuse-measurements: cannot read a validation result from "
                    f"{a.reuse_measurements} ({type(e).__name__}: {e})")
    load_before = _load()
    if a.calibration:
        cal_path = a.calibration
        try:
            cal = Calibration.load(cal_path)
        except ValueError as e:
            p.error(f"argument --calibration: {e}")
        if a.form:
            cal = cal.refit(a.form)
    else:
        cal = calibrate(budget_s=a.calibrate_budget, **({"form": a.form} if a.form else {}))
        cal.machine_load = load_before
        cal_path = os.path.join(a.out, f"{a.tag}_calibration.json")
        cal.save(cal_path)
    processes = reused.get("processes", a.processes) if reused else a.processes
    result = validate([by_name[n] for n in names], cal, processes=processes, budget_s=a.budget,
                      reuse=reuse if reused else None)
    doc = {"command": "python benchmarks/bench_latency_validation.py " + shlex.join(argv or sys.argv[1:]),
           "date": _dt.datetime.now().isoformat(timespec="seconds"), "machine": cal.machine,
           "threads": (cal.machine.get("threads") or {}).get("threads"),
           "calibration_file": os.path.relpath(cal_path, ROOT) if os.path.isabs(cal_path) else cal_path,
           "calibration_cases": len(cal.cases), "forms": sorted({f.form for f in cal.fits.values()}),
           "processes": processes, "budget_s": reused.get("budget_s", a.budget) if reused else a.budget,
           "load_before": reused["load_before"] if reused else load_before,
           "load_after": reused["load_after"] if reused else _load(), "notes": a.note, **result}
    if reused:
        # a re-prediction of a re-prediction still names the run that measured
        doc["measurements_reused_from"] = reused.get("measurements_reused_from") or {
            "file": a.reuse_measurements, "date": reused.get("date"), "command": reused.get("command")}
        if reused.get("errors"):
            doc["errors"] = list(reused["errors"]) + [e for e in doc["errors"] if e not in reused["errors"]]
    os.makedirs(a.out, exist_ok=True)
    write_text(os.path.join(a.out, f"{a.tag}.json"), json.dumps(doc, indent=1, default=str) + "\n")
    write_text(os.path.join(a.out, f"{a.tag}.md"), markdown(doc))
    print(f"wrote {os.path.join(a.out, a.tag)}.md and .json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
