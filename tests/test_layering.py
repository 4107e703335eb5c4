"""The IR is the interface: kir's packages import each other in one direction only.

Every `import` in kir/ is read with `ast` (module level, inside functions, under TYPE_CHECKING),
each module is mapped to its unit (a package like kir/ir, or a top-level module like
kir/errors.py), and the resulting unit graph is checked against the rules of issue 9 and against
the "may import" table of docs/architecture.md, so the document stays true to the code.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
KIR = ROOT / "kir"
FRONTEND = {"layers", "models"}


def unit_of_module(name: str) -> str:
    """'kir.ir.graph' -> 'ir'; 'kir.errors' -> 'errors'; 'kir' -> 'kir' (the package root)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "kir"


def _is_unit(package: Path, name: str) -> bool:
    return (package / f"{name}.py").is_file() or (package / name / "__init__.py").is_file()


def imports(package: Path = KIR) -> dict[tuple[str, str], list[str]]:
    """(importing unit, imported unit) -> ['file:line module', ...] for every kir import."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent)
        src = unit_of_module(".".join(rel.with_suffix("").parts).removesuffix(".__init__"))
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{rel}:{node.lineno}: kir uses absolute imports only"
                if node.module == "kir":  # `from kir import layers` names a unit, `from kir import X` the root
                    targets = [f"kir.{a.name}" if _is_unit(package, a.name) else "kir" for a in node.names]
                elif node.module:
                    targets = [node.module]
            for target in targets:
                if target == "kir" or target.startswith("kir."):
                    dst = unit_of_module(target)
                    if dst != src:
                        edges[(src, dst)].append(f"{rel}:{node.lineno} {target}")
    return edges


def documented_table() -> dict[str, set[str]]:
    """docs/architecture.md's table: | `kir.<unit>` | `kir.<unit>`, ... | -> {unit: allowed units}."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## Layering", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].startswith("`kir"):
            continue
        for unit in re.findall(r"`kir(?:\.(\w+))?`", cells[0]):
            allowed = {u or "kir" for u in re.findall(r"`kir(?:\.(\w+))?`", cells[1])}
            table[unit or "kir"] = allowed | ({"*"} if "everything" in cells[1] else set())
    return table


EDGES = imports()


def _violations(unit: str, allowed: set[str]) -> list[str]:
    return [f"{src} -> {dst}: {where}" for (src, dst), where in sorted(EDGES.items())
            if src == unit and dst not in allowed]


def test_ir_imports_only_ir_and_errors():
    assert _violations("ir", {"errors"}) == []


def test_passes_import_only_ir_and_errors():
    assert _violations("passes", {"ir", "errors"}) == []


def test_backends_import_nothing_of_the_frontend_or_above():
    bad = [f"{dst}: {where}" for (src, dst), where in sorted(EDGES.items())
           if src == "backends" and dst in FRONTEND | {"training", "cli", "utils", "zoo", "kir"}]
    assert bad == []


def test_package_imports_form_a_dag():
    graph = nx.DiGraph(list(EDGES))
    cycles = list(nx.simple_cycles(graph))
    assert cycles == [], f"import cycles between kir packages: {cycles}"


def test_every_unit_is_in_the_documented_table():
    units = {unit_of_module(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"))
             for p in KIR.rglob("*.py")}
    assert sorted(units - set(documented_table())) == []


@pytest.mark.parametrize("unit", sorted(documented_table()))
def test_imports_follow_docs_architecture_table(unit):
    allowed = documented_table()[unit]
    if "*" in allowed:
        return
    assert _violations(unit, allowed) == []


def test_the_table_itself_has_no_cycle():
    table = documented_table()
    graph = nx.DiGraph([(u, d) for u, allowed in table.items() for d in allowed if d != "*"])
    assert list(nx.simple_cycles(graph)) == []


def test_the_reader_sees_hidden_imports(tmp_path):
    """The rules would be hollow if the reader missed imports inside functions or TYPE_CHECKING."""
    backends = tmp_path / "kir" / "backends"
    backends.mkdir(parents=True)
    (tmp_path / "kir" / "models.py").write_text("")
    (backends / "__init__.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from kir.models import Model\n"
        "def f():\n    from kir import models\n    import kir.training.loop\n")
    found = imports(tmp_path / "kir")
    assert sorted(found) == [("backends", "models"), ("backends", "training")]
    assert len(found[("backends", "models")]) == 2
