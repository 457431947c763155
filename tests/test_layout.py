"""The package's layout, computed from the code: every module imports on its own, the import
graph has one cycle (the Tensor and its ops, docs/design.md), and no private name crosses
from one package to another."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "graphgrad"

# The one import cycle: Tensor's operators and methods record ops, and recording (with the
# in-place and NumPy spellings of those ops) makes Tensors.
TENSOR_AND_OPS = {
    "graphgrad.core.tensor",
    "graphgrad.core.function",
    "graphgrad.core.in_place",
    "graphgrad.core.numpy_dispatch",
}


def _modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


MODULES = _modules()


def _module_level_imports(tree: ast.Module) -> list[ast.ImportFrom | ast.Import]:
    """Imports that run when the module is imported: top level and inside top-level ifs
    and trys, but not under ``if TYPE_CHECKING:`` nor inside functions or classes."""
    found: list[ast.ImportFrom | ast.Import] = []
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                stack.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            stack.extend(node.body + node.orelse + node.finalbody)
            for h in node.handlers:
                stack.extend(h.body)
    return found


def _path(module: str) -> Path:
    p = ROOT.joinpath(*module.split("."))
    return p / "__init__.py" if p.is_dir() else p.with_suffix(".py")


def _edges() -> dict[str, set[str]]:
    """module -> the graphgrad modules it imports (``from a.b import c`` names the module
    a.b.c when there is one, else a.b)."""
    graph: dict[str, set[str]] = {}
    for m in MODULES:
        targets: set[str] = set()
        for node in _module_level_imports(ast.parse(_path(m).read_text())):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name.startswith("graphgrad")}
            elif node.module and node.module.startswith("graphgrad"):
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    targets.add(sub if sub in MODULES else node.module)
        graph[m] = {t for t in targets if t != m}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[set[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in graph:
                    continue
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = set()
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.add(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        out.append(component)
    return out


def test_the_only_import_cycle_is_the_tensor_and_its_ops() -> None:
    cycles = _cycles(_edges())
    assert len(cycles) == 1, cycles
    (cycle,) = cycles
    allowed = TENSOR_AND_OPS | {m for m in MODULES if m.startswith("graphgrad.ops")}
    assert "graphgrad.core.tensor" in cycle and cycle <= allowed, sorted(cycle - allowed)


def test_cycle_finder_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if _path(".".join(parts[:2])).name == "__init__.py" else parts[0]


def test_no_private_name_crosses_packages() -> None:
    """``from graphgrad.core.x import _name`` in nn/ or optim/ would tie them to an
    engine detail: names shared across packages are public."""
    crossing = []
    for m in MODULES:
        tree = ast.parse(_path(m).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("graphgrad."):
                for a in node.names:
                    if a.name.startswith("_") and _package(node.module or "") != _package(m):
                        crossing.append(f"{m}: {node.module}.{a.name}")
    assert not crossing, crossing


_STUB = """
import importlib, sys, types
package = types.ModuleType("graphgrad")
package.__path__ = [{path!r}]  # graphgrad/__init__.py does not run
sys.modules["graphgrad"] = package
importlib.import_module({first!r})
for name in {others!r}:
    importlib.import_module(name)
from graphgrad.core.creation import tensor
x = tensor([1.0, 2.0], requires_grad=True)
y = (x * x).sum()
y += 1.0
y.backward()
assert x.grad.tolist() == [2.0, 4.0], x.grad
import numpy as np
assert type(np.exp(x)).__name__ == "Tensor"
"""


@pytest.mark.parametrize("first", [m for m in MODULES if m != "graphgrad"])
def test_each_module_imports_first_on_its_own(first: str) -> None:
    """In a fresh interpreter, with the package's own __init__ kept from running, the module
    imports first, then every other one, and the Tensor is complete (operators, in-place
    operators, NumPy dispatch, backward)."""
    others = [m for m in MODULES if m not in ("graphgrad", first)]
    code = _STUB.format(path=str(PACKAGE), first=first, others=others)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
