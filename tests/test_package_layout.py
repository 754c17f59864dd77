"""The house plan of fashion_core: imports run one way, no cycles, small modules and functions.

Every import statement counts, at module level or inside a function, so a cycle cannot hide
behind a function-level import.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fashion_core"

# The direction imports run in: a module may import modules of its own layer or of lower ones.
LAYERS = {
    "paths": 0, "io": 0, "params": 0,
    "data": 1, "models": 2, "metrics": 3, "engine": 4, "experiments": 5,
    "reporting": 6, "viewers": 6,
    "cli": 7, "train": 7, "run": 7, "readme_results": 7,
}
MAX_TOP_LEVEL_MODULES = 8
MAX_MODULE_LINES = 700
MAX_FUNCTION_LINES = 120


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The fashion_core modules an import statement loads (a submodule when it names one)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.startswith("fashion_core")]
    base = node.module or ""
    if node.level:
        package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
        package = package[:len(package) - node.level + 1]
        base = ".".join(package + ([node.module] if node.module else []))
    if not base.startswith("fashion_core"):
        return []
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        edges = graph.setdefault(module, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges.update(target for target in imported_modules(module, node) if target != module)
    return graph


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1]] if len(parts) > 1 else 0


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_planted_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_counting_function_level_imports():
    assert cycles(import_graph()) == []


def test_imports_run_from_data_to_cli():
    backwards = sorted(f"{module} imports {target}" for module, targets in import_graph().items()
                       for target in targets if layer(target) > layer(module))
    assert backwards == [], "imports must run data -> models -> metrics -> engine -> experiments -> " \
                            "reporting and viewers -> cli:\n" + "\n".join(backwards)


def test_every_module_has_a_layer():
    assert sorted(module for module in MODULES if len(module.split(".")) > 1
                  and module.split(".")[1] not in LAYERS) == []


def comment_above(lines: list[str], index: int) -> bool:
    """Whether the import on line `index` (0-based) follows a comment, past the imports right above it."""
    index -= 1
    while index >= 0 and lines[index].strip().startswith(("import ", "from ")):
        index -= 1
    return index >= 0 and lines[index].strip().startswith("#")


def test_no_function_level_import_of_the_package_and_others_say_why():
    offenders = []
    for module, path in MODULES.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines))
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                if imported_modules(module, node):
                    offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports fashion_core")
                elif not comment_above(lines, node.lineno - 1):
                    offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} has no comment saying why")
    assert offenders == []


def test_at_most_eight_top_level_modules():
    top = sorted(path.name for path in PACKAGE.glob("*.py") if path.name != "__init__.py")
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_and_functions_are_small(module):
    source = MODULES[module].read_text(encoding="utf-8")
    assert len(source.splitlines()) <= MAX_MODULE_LINES
    long = [f"{node.name}: {node.end_lineno - node.lineno + 1} lines" for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


def test_the_package_docstring_maps_every_subpackage():
    docstring = ast.get_docstring(ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8")))
    subpackages = sorted(path.parent.name for path in PACKAGE.glob("*/__init__.py"))
    assert [name for name in subpackages if f"{name}/" not in docstring] == []
