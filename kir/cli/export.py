"""`kir-export SOURCE OUTPUT.onnx`: export a kir model to ONNX from the command line.

SOURCE is a model file (kir's `.kir`, Keras 3's `.keras`, or a legacy Keras `.h5` from tf.keras 2 or
Keras 3, read without TensorFlow or Keras), `path/to/file.py:factory` or `package.module:factory` (a
function taking no arguments and returning a model). Prints a short report: inputs and outputs with
shapes, node count by op type, parameter count, file size and time; `--check` also runs the
file in onnxruntime against the numpy reference on random inputs. Bad arguments end with a
one-line message and a non-zero exit status, and leave no file behind.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

USAGE_ERROR = 2
FAILURE = 1
INTERRUPTED = 130
"""Ctrl-C: the shell's status for SIGINT (128 + 2), after a one-line "interrupted"."""
TOLERANCE = {"float32": 1e-4, "float16": 2e-2, "int8": 1e-1}
MODEL_FILES = (".kir", ".keras", ".h5", ".hdf5")


class UsageError(Exception):
    """A bad command line: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        if message == "the following arguments are required: SOURCE":  # OUTPUT is optional only with --triton
            message += ", OUTPUT.onnx"
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    from kir.backends.onnx.opset import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET

    p = _Parser(prog="kir-export", description="Export a kir model to ONNX.",
                epilog="SOURCE: model.kir | model.keras | model.h5 | path/to/file.py:factory | package.module:factory")
    p.add_argument("source", metavar="SOURCE",
                   help="a model file (.kir, .keras, .h5), or file.py:factory / package.module:factory")
    p.add_argument("output", metavar="OUTPUT.onnx", nargs="?", default=None,
                   help="the ONNX file to write (optional with --triton)")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                   help=f"ONNX opset, {MIN_OPSET}..{MAX_OPSET} (default {DEFAULT_OPSET})")
    p.add_argument("--batch-size", type=int, default=None, metavar="N", help="static batch size (default: dynamic)")
    p.add_argument("--fp16", action="store_true", help="float16 weights and compute; inputs/outputs stay float32")
    p.add_argument("-O", dest="level", choices=["0", "1", "2"], default="2", help="pass pipeline level (default 2)")
    p.add_argument("--check", action="store_true",
                   help="run the file in onnxruntime against the numpy reference on random inputs")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing unless something fails")
    p.add_argument("--nchw-io", action="store_true",
                   help="image inputs/outputs in NCHW: no Transpose at the graph boundary")
    p.add_argument("--portable", action="store_true",
                   help="standard ONNX ops only (no onnxruntime com.microsoft fused kernels), for other runtimes")
    p.add_argument("-v", "--verbose", action="store_true", help="also print the pass report and the optimized graph")
    p.add_argument("--dot", metavar="GRAPH.dot", help="write the (optimized) kir graph as Graphviz DOT")
    _deploy_arguments(p)
    return p


def _deploy_arguments(p: argparse.ArgumentParser) -> None:
    """The deployment flags (docs/deploy.md): int8, Triton, targets, metadata, id guards."""
    d = p.add_argument_group("deployment")
    d.add_argument("--quantize", choices=["dynamic", "static", "auto"],
                   help="int8 through onnxruntime.quantization; auto picks per op and never writes a slower file")
    d.add_argument("--calibration", metavar="DATA.npz", help="calibration inputs for static/auto (one array per input)")
    d.add_argument("--quantize-exclude", metavar="LAYER", action="append", default=[],
                   help="keep this layer float (repeat, or comma-separated)")
    d.add_argument("--eval", metavar="DATA.npz", help="inputs and labels 'y': print float vs int8 accuracy")
    d.add_argument("--triton", metavar="REPO",
                   help="write a Triton model repository REPO/NAME/{config.pbtxt,1/model.onnx}")
    d.add_argument("--name", metavar="N", help="the Triton model name (default: the model's name)")
    d.add_argument("--max-batch", type=int, default=64, metavar="N", help="Triton max_batch_size (default 64)")
    d.add_argument("--target", choices=["cpu", "cuda", "tensorrt"],
                   help="also write the onnxruntime-optimized model for this runtime target")
    d.add_argument("--metadata", metavar="KEY=VALUE", action="append", default=[],
                   help="a metadata_props entry (repeat)")
    d.add_argument("--labels", metavar="LABELS.txt", help="class labels, one a line (metadata and Triton labels)")
    d.add_argument("--guard-ids", dest="guard_ids", action="store_true", default=None,
                   help="the file itself refuses Embedding ids outside [0, input_dim) (default on with --triton)")
    d.add_argument("--no-guard-ids", dest="guard_ids", action="store_false", help="no in-graph id guard")


# ---------------------------------------------------------------- loading the model


def load_source(source: str) -> Any:
    """The model named by SOURCE (see the module docstring)."""
    from kir.models import Model

    if source.endswith(MODEL_FILES) or (os.path.isfile(source) and not source.endswith(".py")):
        if not os.path.isfile(source):
            raise UsageError(f"no such model file: {source}")
        from kir.models import load_model

        return load_model(source)
    target, sep, factory = source.rpartition(":")
    if not sep or not target or not factory:
        raise UsageError(f"SOURCE '{source}' is neither a .kir file nor 'file.py:factory' / 'package.module:factory'"
                         f"{'' if '.' not in os.path.basename(source) else ' (model files: .kir, .keras, .h5)'}")
    module = _load_module(target)
    fn = getattr(module, factory, None)
    if fn is None or not callable(fn):
        raise UsageError(f"'{target}' has no function '{factory}'")
    try:
        model = fn()
    except SystemExit as exc:
        raise UsageError(f"factory '{source}' called sys.exit({exc.code!r}) instead of returning a model") from None
    except Exception as exc:  # the user's factory failed: report it in one line
        raise UsageError(f"factory '{source}' raised {type(exc).__name__}: {_first_line(exc)}") from None
    if not isinstance(model, Model):
        raise UsageError(f"factory '{source}' returned {type(model).__name__}, not a kir Model")
    return model


def _load_module(target: str) -> Any:
    try:
        if target.endswith(".py") or os.sep in target or "/" in target:
            path = Path(target)
            if not path.is_file():
                raise UsageError(f"no such Python file: {target}")
            spec = importlib.util.spec_from_file_location(f"_kir_export_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            sys.path.insert(0, str(path.resolve().parent))
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.pop(0)
            return module
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        return importlib.import_module(target)
    except UsageError:
        raise
    except SystemExit as exc:
        raise UsageError(f"importing '{target}' called sys.exit({exc.code!r}); a model module must define its "
                         f"factory without exiting (guard scripts with `if __name__ == \"__main__\":`)") from None
    except Exception as exc:
        raise UsageError(f"cannot import '{target}': {type(exc).__name__}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


# ---------------------------------------------------------------- report


def _shape(dims: Sequence) -> str:
    return "(" + ", ".join(str(d) for d in dims) + ")"


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def report_lines(result: Any, level: str, dtype: str) -> list[str]:
    nodes = sum(result.node_counts.values())
    by_op = ", ".join(f"{op} {n}" for op, n in sorted(result.node_counts.items(), key=lambda kv: (-kv[1], kv[0])))
    lines = [f"wrote {result.path} ({_size(result.file_bytes)}) in {result.seconds:.2f} s"
             + (f", weights in {result.external_data}" if result.external_data else ""),
             f"  opset {result.opset}, -O{level[-1]}, {dtype}"]
    lines += [f"  input   {name}: {dt} {_shape(dims)}" for name, dt, dims in result.inputs]
    lines += [f"  output  {name}: {dt} {_shape(dims)}" for name, dt, dims in result.outputs]
    lines.append(f"  nodes   {nodes} ({by_op})")
    lines.append(f"  params  {result.parameters:,}")
    return lines


# ---------------------------------------------------------------- main


def _check(model: Any, path: str, batch_size: int | None, dtype: str) -> tuple[float, float, int]:
    from kir.backends.numpy import run
    from kir.backends.onnx import Runtime
    from kir.cli.check import random_feeds, relative_error

    graph = model.to_graph()
    batch = batch_size or 2
    feeds = random_feeds(graph, batch, seed=0)
    got = Runtime(path).run(feeds)
    return relative_error(got, run(graph, feeds)), TOLERANCE[dtype], batch


def _check_output(what: str, path: str | None) -> None:
    """A usage error unless `path` can be written: a file name in an existing folder."""
    if path is None:
        return
    if os.path.isdir(path):
        raise UsageError(f"{what} '{path}' is a directory; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{what} '{path}': folder '{folder}' does not exist")


def run_export(args: argparse.Namespace) -> int:
    from kir.backends.onnx import export
    from kir.cli import deploy

    if args.output is None and not args.triton:
        raise UsageError("give OUTPUT.onnx, or --triton REPO to write a Triton model repository")
    if args.output is not None and not args.output.endswith(".onnx"):
        raise UsageError(f"OUTPUT must be a .onnx file name, got '{args.output}'")
    try:
        options = deploy.export_options(args)
    except deploy.DeployUsageError as exc:
        raise UsageError(str(exc)) from None
    for what, path in (("OUTPUT", args.output), ("--dot", args.dot)):
        _check_output(what, path)  # every output checked before anything is written
    start = time.perf_counter()
    model = load_source(args.source)
    dtype = "float16" if args.fp16 else "float32"
    common = dict(opset=args.opset, batch_size=args.batch_size, dtype=dtype, optimize=f"O{args.level}",
                  nchw_io=args.nchw_io, portable=args.portable)
    extra: list[str] = []
    if args.triton:
        result, extra = deploy.triton_export(args, model, export, {**common, **options})
        if args.output:
            extra += deploy.copy_model(result, args.output)
    else:
        result = export(model, args.output, **common, **options)
    written = args.output or result.path
    if args.dot:
        from kir import fileio

        with fileio.atomic_write(args.dot, "the DOT graph") as handle:
            handle.write(result.graph.to_dot().encode())
    result.seconds = time.perf_counter() - start
    out = [] if args.quiet else report_lines(result, f"O{args.level}", dtype) + extra
    if result.quantization is not None and not args.quiet:
        out += result.quantization.lines()
    if args.eval and not args.quiet:
        out += deploy.eval_lines(model, args.eval, written)
    if args.target:
        lines = deploy.target_lines(written, args.target)
        out += [] if args.quiet else lines
    if args.verbose and not args.quiet:
        out.append(str(result.report))
        out.append(result.graph.dump("  "))
    status = 0
    if args.check:
        quantized = result.quantization is not None and result.quantization.quantized
        err, tol, batch = _check(model, written, args.batch_size, "int8" if quantized else dtype)
        ok = err <= tol
        if not ok or not args.quiet:
            out.append(f"  check   max relative error {err:.2e} vs the numpy reference (batch {batch}, "
                       f"tolerance {tol:.0e}): {'OK' if ok else 'FAILED'}")
        status = 0 if ok else FAILURE
    if out:
        print("\n".join(out))
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kir-export` console script; returns the exit status."""
    from kir.errors import KirError

    try:
        args = build_parser().parse_args(argv)
        return run_export(args)
    except UsageError as exc:
        print(f"kir-export: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except KirError as exc:
        print(f"kir-export: error: {exc}", file=sys.stderr)
        return FAILURE
    except OSError as exc:
        print(f"kir-export: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return FAILURE
    except KeyboardInterrupt:
        print("kir-export: interrupted", file=sys.stderr)
        return INTERRUPTED
    except RecursionError:
        print("kir-export: error: the model nests too deeply to export", file=sys.stderr)
        return FAILURE
    except MemoryError:
        print("kir-export: error: out of memory", file=sys.stderr)
        return FAILURE


if __name__ == "__main__":
    sys.exit(main())
