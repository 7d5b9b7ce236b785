"""Execution modes a Paddle user deploys with, each prepared into a callable
that runs one forward pass.

- ``eager``: dygraph, ``model.eval()`` under ``paddle.no_grad()``.
- ``to_static``: ``paddle.jit.to_static(model.forward, input_spec=...,
  full_graph=True)`` (AST conversion to a static program run by Paddle's
  executor); the model itself is left untouched.
- ``inference``: ``paddle.jit.save`` to a temporary directory, then a
  ``paddle.inference`` predictor on the saved model. On the CPU it enables
  oneDNN (when Paddle is built with it) and IR optimisation, and
  the same thread count as the other modes
  (``set_cpu_math_library_num_threads``). On a GPU it calls
  ``enable_use_gpu``.
- ``inference_bf16``: as ``inference`` at bfloat16 -- on the CPU oneDNN's
  ``enable_onednn_bfloat16()`` (needs ``avx512_bf16`` or ``amx_bf16``), on a
  GPU ``enable_use_gpu(..., PrecisionType.Bfloat16)``.
- ``inference_int8``: always unavailable: an int8 predictor needs a model
  quantised beforehand (PaddleSlim post-training quantisation); the harness
  does not quantise, and says so.
- ``inference_trt``: as ``inference`` on a GPU with the TensorRT subgraph
  engine (FP32); unavailable on CPU or without TensorRT in the build.

:data:`PRECISION` gives each mode's precision and bytes per weight element,
which the runner reports next to the mode's time (``weight_bytes``).

A timed call of an inference mode is ``predictor.run()`` plus copying the
outputs to host memory (the copy is what waits for a GPU to finish; on the
CPU it costs a memcpy of the logits). Inputs are copied in once, before
timing.

Every mode reports ``status`` = ``ran`` | ``unavailable`` | ``failed`` with
the reason, and for compiled modes the largest difference of its output from
the eager output (a converted program that computes something else would
otherwise be timed without notice).
"""
from __future__ import annotations

import inspect
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .machine import cpu_has_bf16

MODES = ("eager", "to_static", "inference", "inference_bf16", "inference_int8", "inference_trt")
# what `paddle-flops bench` runs without --modes: every precision the CPU may
# have (unavailable ones are reported as such, at no cost)
DEFAULT_MODES = ("eager", "to_static", "inference", "inference_bf16", "inference_int8")
QUICK_MODES = ("eager", "inference")    # the quick default run: the dygraph forward and the deployed one
PRECISION = {"eager": ("fp32", 4), "to_static": ("fp32", 4), "inference": ("fp32", 4),
             "inference_bf16": ("bf16", 2), "inference_int8": ("int8", 1), "inference_trt": ("fp32", 4)}
INT8_REASON = ("an int8 predictor needs a model quantised beforehand (PaddleSlim post-training "
               "quantisation); the harness does not quantise")

# Paddle Inference passes that broke a model of the zoo; a predictor whose
# creation fails is built again with these deleted and the run says so.
# operator_reshape_onednn_fuse_pass (Paddle 3.3.1, CPU): a Linear followed by
# reshape([-1, n, 3, heads, d]) (Swin's window attention) fails predictor
# creation with "input's second dimension ... is 512, weight's first
# dimension is 16".
PASS_WORKAROUNDS = ("operator_reshape_onednn_fuse_pass",)


@dataclass
class PreparedMode:
    name: str
    status: str                          # ran | unavailable | failed
    reason: str = ""
    fn: Callable[[], object] | None = None
    notes: list = field(default_factory=list)
    setup_seconds: float = 0.0
    max_abs_diff: float | None = None    # vs the eager output
    cleanup: Callable[[], None] | None = None

    def close(self) -> None:
        if self.cleanup is not None:
            try:
                self.cleanup()
            finally:
                self.cleanup = None


def _first_tensor(out):
    import paddle
    if isinstance(out, paddle.Tensor):
        return out
    if isinstance(out, (list, tuple)):
        for o in out:
            t = _first_tensor(o)
            if t is not None:
                return t
    if isinstance(out, dict):
        for o in out.values():
            t = _first_tensor(o)
            if t is not None:
                return t
    return None


def output_array(out) -> np.ndarray | None:
    t = _first_tensor(out)
    return None if t is None else np.asarray(t.numpy())


def _diff(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    if a is None or b is None or a.shape != b.shape:
        return None
    return float(np.max(np.abs(a.astype("float64") - b.astype("float64")))) if a.size else 0.0


def input_specs(model, inputs) -> list:
    """One ``InputSpec`` per input tensor, named after ``forward``'s parameters."""
    import paddle
    try:
        names = [p for p in inspect.signature(model.forward).parameters
                 if p not in ("self", "args", "kwargs")]
    except (TypeError, ValueError):
        names = []
    specs = []
    for i, t in enumerate(inputs):
        name = names[i] if i < len(names) else f"x{i}"
        specs.append(paddle.static.InputSpec(list(t.shape), t.dtype, name=name))
    return specs


def is_gpu(device: str) -> bool:
    return str(device).startswith("gpu")


def prepare_mode(name: str, model, inputs: list, *, device: str = "cpu", threads: int = 1,
                 reference: np.ndarray | None = None, workdir: str | None = None) -> PreparedMode:
    """Build mode ``name`` for ``model`` on ``inputs`` (tensors on ``device``).
    Never raises for a mode that cannot run: the result says why."""
    if name not in MODES:
        return PreparedMode(name, "failed", f"unknown mode {name!r}; choose from {', '.join(MODES)}")
    t0 = time.perf_counter()
    try:
        if name == "eager":
            pm = _eager(model, inputs)
        elif name == "to_static":
            pm = _to_static(model, inputs, reference)
        elif name == "inference_int8":
            pm = PreparedMode(name, "unavailable", INT8_REASON)
        else:
            pm = _inference(model, inputs, device=device, threads=threads, trt=name == "inference_trt",
                            reference=reference, workdir=workdir,
                            bf16=name == "inference_bf16")
    except Exception as e:  # a mode that fails to build is reported, not fatal
        msg = str(e).strip().splitlines()
        return PreparedMode(name, "failed", f"{type(e).__name__}: {msg[0][:300] if msg else ''}",
                            setup_seconds=time.perf_counter() - t0)
    pm.setup_seconds = time.perf_counter() - t0
    return pm


def _eager(model, inputs) -> PreparedMode:
    import paddle
    model.eval()

    def fn():
        with paddle.no_grad():
            return model(*inputs)
    return PreparedMode("eager", "ran", fn=fn)


def _to_static(model, inputs, reference) -> PreparedMode:
    import paddle
    model.eval()
    static_forward = paddle.jit.to_static(model.forward, input_spec=input_specs(model, inputs),
                                          full_graph=True)

    def fn():
        with paddle.no_grad():
            return static_forward(*inputs)
    out = fn()  # converts and builds the program once
    return PreparedMode("to_static", "ran", fn=fn, max_abs_diff=_diff(output_array(out), reference),
                        notes=["paddle.jit.to_static(full_graph=True)"])


def _inference(model, inputs, *, device, threads, trt, reference, workdir, bf16=False) -> PreparedMode:
    import paddle
    import paddle.inference as pinf
    from paddle.base import core

    name = "inference_trt" if trt else ("inference_bf16" if bf16 else "inference")
    gpu = is_gpu(device)
    if bf16 and not gpu:
        if not core.is_compiled_with_onednn():
            return PreparedMode(name, "unavailable", "bf16 on the CPU needs a Paddle build with oneDNN")
        if not cpu_has_bf16():
            return PreparedMode(name, "unavailable", "the CPU has neither avx512_bf16 nor amx_bf16")
    if trt:
        if not gpu or not paddle.device.is_compiled_with_cuda():
            return PreparedMode(name, "unavailable", "TensorRT needs a CUDA build of Paddle and a GPU device")
        if tuple(pinf.get_trt_compile_version()) == (0, 0, 0):
            return PreparedMode(name, "unavailable", "this Paddle build has no TensorRT")
    if gpu and not paddle.device.is_compiled_with_cuda():
        return PreparedMode(name, "unavailable", "device is gpu but Paddle is not built with CUDA")

    model.eval()
    tmp = tempfile.mkdtemp(prefix="pfe_bench_", dir=workdir)
    cleanup = lambda: shutil.rmtree(tmp, ignore_errors=True)  # noqa: E731
    try:
        prefix = os.path.join(tmp, "model")
        paddle.jit.save(model, prefix, input_spec=input_specs(model, inputs))
        model_file = next((prefix + ext for ext in (".json", ".pdmodel") if os.path.exists(prefix + ext)), None)
        if model_file is None:
            raise RuntimeError(f"paddle.jit.save wrote no model file under {tmp}: {os.listdir(tmp)}")
        notes = [f"saved {os.path.basename(model_file)}"]

        def make_config(deleted=()):
            cfg = pinf.Config(model_file, prefix + ".pdiparams")
            cfg.disable_glog_info()
            cfg.switch_ir_optim(True)
            # no enable_memory_optim(): with Paddle 3.3 PIR models, a second
            # predictor in one process fails on "Not find predictor_id 1 and
            # pass_name memory_optimize_pass"
            if gpu:
                dev_id = int(str(device).split(":")[1]) if ":" in str(device) else 0
                if bf16:
                    cfg.enable_use_gpu(256, dev_id, pinf.PrecisionType.Bfloat16)
                else:
                    cfg.enable_use_gpu(256, dev_id)
                if trt:
                    batch = int(inputs[0].shape[0]) if inputs and len(inputs[0].shape) else 1
                    cfg.enable_tensorrt_engine(workspace_size=1 << 30, max_batch_size=batch,
                                               min_subgraph_size=3,
                                               precision_mode=pinf.PrecisionType.Float32,
                                               use_static=False, use_calib_mode=False)
            else:
                cfg.disable_gpu()
                cfg.set_cpu_math_library_num_threads(int(threads))
                if core.is_compiled_with_onednn():
                    cfg.enable_onednn()
                    if bf16:
                        cfg.enable_onednn_bfloat16()
            for p in deleted:
                cfg.delete_pass(p)
            return cfg

        try:
            predictor = pinf.create_predictor(make_config())
            first = _bind_and_run(predictor, inputs)
        except Exception as e:
            first_error = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            predictor = pinf.create_predictor(make_config(PASS_WORKAROUNDS))
            first = _bind_and_run(predictor, inputs)
            notes.append(f"default predictor failed ({first_error}); ran with pass(es) deleted: "
                         + ", ".join(PASS_WORKAROUNDS))
        if not gpu:
            notes.append(("oneDNN on" + (", bfloat16" if bf16 else "")) if core.is_compiled_with_onednn()
                         else "Paddle built without oneDNN")
        else:
            notes.append("GPU" + (" + TensorRT FP32" if trt else "") + (" bfloat16" if bf16 else ""))
        outputs = [predictor.get_output_handle(n) for n in predictor.get_output_names()]

        def fn():
            predictor.run()
            return [h.copy_to_cpu() for h in outputs]
        diff = _diff(first, reference)
        return PreparedMode(name, "ran", fn=fn, notes=notes, max_abs_diff=diff, cleanup=cleanup)
    except Exception:
        cleanup()
        raise


def _bind_and_run(predictor, inputs) -> np.ndarray | None:
    for n, t in zip(predictor.get_input_names(), inputs):
        h = predictor.get_input_handle(n)
        arr = np.ascontiguousarray(t.numpy())
        h.reshape(list(arr.shape))
        h.copy_from_cpu(arr)
    predictor.run()
    names = predictor.get_output_names()
    return np.asarray(predictor.get_output_handle(names[0]).copy_to_cpu()) if names else None
