"""The deployment side of `kir-export`: int8 options, --eval accuracy, Triton, --target, metadata.

Kept apart from kir/cli/export.py (argument parsing and the plain export) so each file has one job.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np


class DeployUsageError(Exception):
    """A bad deployment flag combination (kir-export turns it into a usage error)."""


def export_options(args: argparse.Namespace) -> dict[str, Any]:
    """export() keywords from the deployment flags."""
    from kir.backends.onnx.metadata import load_labels, parse_metadata

    if args.quantize is None:
        for flag, value in (("--calibration", args.calibration), ("--quantize-exclude", args.quantize_exclude),
                            ("--eval", args.eval)):
            if value:
                raise DeployUsageError(f"{flag} needs --quantize dynamic|static|auto")
    if args.quantize and args.fp16:
        raise DeployUsageError("--quantize and --fp16 exclude each other (int8 starts from the float32 file)")
    exclude = [name for item in args.quantize_exclude for name in item.split(",") if name]
    guard = args.guard_ids if args.guard_ids is not None else bool(args.triton)
    options: dict[str, Any] = {"metadata": parse_metadata(args.metadata) or None,
                               "labels": load_labels(args.labels), "guard_ids": guard}
    if args.quantize:
        options.update(quantize=args.quantize, calibration=args.calibration, quantize_exclude=exclude or None,
                       quantize_sample=args.eval and _eval_inputs(args.eval))
    return options


def _eval_arrays(path: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    from kir.errors import ConfigError

    with np.load(path, allow_pickle=False) as npz:
        data = {k: npz[k] for k in npz.files}
    if "y" not in data:
        raise ConfigError(f"--eval file '{path}' has no labels 'y' (keys: {', '.join(data)}); save it with "
                          f"np.savez(path, x=inputs, y=labels)")
    y = data.pop("y")
    return data, y


def _eval_inputs(path: str) -> dict[str, np.ndarray]:
    return _eval_arrays(path)[0]


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy: argmax for several classes, > 0.5 for one sigmoid unit; y as ids or one-hot."""
    truth = y.argmax(-1) if y.ndim == pred.ndim and y.shape[-1] > 1 else y.reshape(len(y), -1)[:, 0]
    if pred.shape[-1] == 1:
        guess = (pred.reshape(len(pred)) > 0.5).astype(truth.dtype)
    else:
        guess = pred.argmax(-1)
    return float(np.mean(guess.reshape(-1) == truth.reshape(-1)))


def eval_lines(model: Any, path: str, int8_path: str) -> list[str]:
    """float vs int8 accuracy on the --eval file (float: the model in onnxruntime, in memory)."""
    from kir.backends.onnx import Runtime
    from kir.backends.onnx.quantize import load_arrays

    data, y = _eval_arrays(path)
    quantized = Runtime(int8_path, providers="CPUExecutionProvider")
    arrays = load_arrays(data, quantized.input_names, "eval")
    floats = Runtime(model, providers="CPUExecutionProvider").run(arrays)[0]
    ints = quantized.run(arrays)[0]
    a, b = accuracy(floats, y), accuracy(ints, y)
    return [f"  eval    accuracy on {len(y)} samples: float {a:.2%}, int8 {b:.2%} ({(b - a) * 100:+.2f} points)"]


def triton_export(args: argparse.Namespace, model: Any, export: Callable[..., Any],
                  options: dict[str, Any]) -> tuple[Any, list[str]]:
    """Write the Triton repository; returns the export result and the report lines."""
    import onnx

    from kir.backends.onnx.triton import write_repository

    name = args.name or model.name
    triton, result = write_repository(lambda path: export(model, path, **options), args.triton, name,
                                      max_batch=args.max_batch, fp16=args.fp16, tensorrt=args.target == "tensorrt",
                                      labels=options.get("labels"))
    props = {p.key: p.value for p in onnx.load(result.path, load_external_data=False).metadata_props}
    guarded = props.get("kir_guard_ids") == "true"
    lines = [f"  triton  {triton.folder}: config.pbtxt, 1/model.onnx"
             + (", labels.txt" if triton.labels_path else "")
             + f" (max_batch_size {args.max_batch if result.inputs and result.inputs[0][2][:1] == ('batch',) else 0}"
             + (", id guards in the graph" if guarded else "") + ")",
             f"          serve: tritonserver --model-repository={args.triton}"]
    return result, lines


def copy_model(result: Any, output: str) -> list[str]:
    """OUTPUT.onnx beside a Triton repository: a copy of the repository's file (and its external
    data, which the file names relative to itself), not a second export (quantization is slow)."""
    import os
    import shutil

    shutil.copyfile(result.path, output)
    if result.external_data:
        shutil.copyfile(result.external_data, os.path.join(os.path.dirname(os.path.abspath(output)),
                                                           os.path.basename(result.external_data)))
    return [f"  copy    {output}"]


def target_lines(path: str, target: str) -> list[str]:
    """Write the optimized model for --target and say what happened."""
    from kir.backends.onnx.targets import optimize_for

    return [f"  target  {optimize_for(path, target).message}"]
