"""Pass scaling benchmark: a 10k-layer chain and a 10k-layer residual graph through the full
`inference` O2 pipeline (and the ONNX export of the result).

Goal (issue 5): pipeline + export of both under 10 s together on the 2-core dev machine.
Run: PYTHONPATH=. python tools/bench/pass_scaling.py [--layers 10000] [--no-export]
"""

from __future__ import annotations

import argparse
import sys
import time

import kir
from kir.layers import Activation, Dense, Input, add
from kir.passes import run_pipeline


def chain(layers: int, width: int = 8) -> kir.Model:
    """Dense and Activation layers alternating (fusion halves the op count)."""
    x = inputs = Input(shape=(width,), name="x")
    for i in range(layers):
        x = Dense(width)(x) if i % 2 == 0 else Activation("relu")(x)
    return kir.Model(inputs, x, name="chain")


def residual(layers: int, width: int = 8) -> kir.Model:
    """x = x + Dense(x), repeated: every Add joins two paths."""
    x = inputs = Input(shape=(width,), name="x")
    for _ in range(layers // 2):
        x = add([x, Dense(width)(x)])
    return kir.Model(inputs, x, name="residual")


def measure(name: str, model: kir.Model, export: bool) -> float:
    """Seconds of passes + export (what `kir-export` spends after building the graph)."""
    start = time.perf_counter()
    graph = model.to_graph()
    built = time.perf_counter()
    new, report = run_pipeline(graph)
    passed = time.perf_counter()
    total = passed - built
    line = (f"{name:<9} {len(graph):>6} ops -> {len(new):>6}: to_graph {built - start:5.2f} s, "
            f"passes {passed - built:5.2f} s")
    if export:
        from kir.backends.onnx.export import to_onnx

        to_onnx(graph, optimize="O2")  # runs the same pipeline, then lowers
        total = time.perf_counter() - passed
        line += f", to_onnx(O2) incl. passes {total:5.2f} s"
    slowest = sorted(report.records, key=lambda r: -r.seconds)[:3]
    print(line + f" (slowest passes: {', '.join(f'{r.name} {r.seconds:.2f}' for r in slowest)})")
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=10_000)
    parser.add_argument("--no-export", action="store_true")
    args = parser.parse_args(argv)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * args.layers))
    total = 0.0
    for name, factory in (("chain", chain), ("residual", residual)):
        model = factory(args.layers)
        total += measure(name, model, not args.no_export)
    print(f"total {'passes' if args.no_export else 'to_onnx (passes + export)'}: {total:.2f} s (goal < 10 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
