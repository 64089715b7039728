"""The package's layering, checked from the source: imports run downward and never in a loop.

Every ``import`` and ``from ... import`` in ``src/clinrl`` is read with :mod:`ast`, function-level
ones included (a lazy import is still a dependency; it only hides it). Imports under
``if TYPE_CHECKING:`` are exempt: they never run. Each module belongs to a layer (``LAYERS``, low to
high), and three rules hold:

* no import runs from a lower layer to a higher one (same-layer imports are allowed);
* no two modules import each other, directly or through others (file-level cycles);
* a task's own modules (``clinrl.tasks.<task>``) are imported only by that task and by the CLI: shared
  layers know no task, and tasks know no other task. ``TASK_SPECIFIC_IMPORTERS`` lists the deliberate
  exceptions.

A string-level dependency (``importlib.import_module("...")``, a registry entry naming a class by its
import path) is not an import and is not checked here: that is how the registry loads tasks on demand.

Where the modules that are not packages of their own sit, and why:

* ``registry``: names tasks by import string and loads them on demand; its only import of ``tasks`` is
  type-only, so it sits on the lowest layer and any layer may look a task up by name.
* ``device``, ``hub``, ``prompting``, ``run_console``: leaves (device/dtype choice, offline hub switch,
  chat prompt rendering, the terminal of a training run) that import nothing above ``types``/``errors``;
  lowest layer, so the evaluation harness can ask whether a run owns the terminal.
* ``provenance`` (package versions, git revision, repo root, ``jsonable``) and ``settings`` (the
  dataclass-with-help validator behind recipes and synthetic-source configs): leaves importing at most
  ``errors``, lowest layer, so tasks validate their source options the way training validates recipes.
* ``export`` (verl rows and reward function): an adapter for another trainer, beside ``training``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "clinrl"
SRC = Path(__file__).resolve().parents[1] / "src" / PACKAGE

#: low → high; a module may import its own layer and the layers below it, never one above.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__init__", "types", "errors", "metrics", "registry", "device", "hub", "prompting", "run_console",
     "provenance", "settings"),
    ("rewards", "calculators", "llm"),
    ("data", "rubrics"),
    ("tasks",),
    ("models", "evaluation"),
    ("training", "curation", "review", "export"),
    ("cli",),
)
LAYER_OF = {part: level for level, parts in enumerate(LAYERS) for part in parts}
#: modules outside a task's folder and the CLI that may import that task's modules, and why
TASK_SPECIFIC_IMPORTERS = {
    # the tiny model's tokenizer is trained on MedCalc prompts and answers: ~3x fewer tokens per prompt
    "clinrl.models.tiny": "medcalc",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def layer_of(module: str) -> int:
    """The layer of ``clinrl.X...`` (by X); an unassigned X fails loudly so a new package gets placed."""
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else "__init__"
    if key not in LAYER_OF:
        raise AssertionError(f"{module}: its top-level part {key!r} has no layer; add it to LAYERS in "
                             f"{Path(__file__).name}")
    return LAYER_OF[key]


def layer_name(level: int) -> str:
    return "/".join(p for p in LAYERS[level] if p != "__init__")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import node except those in the body of ``if TYPE_CHECKING:`` (its ``else`` still runs)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _target(name: str) -> str | None:
    """The module ``name`` loads: itself if it is a module here, else its longest existing parent."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _edges() -> list[tuple[str, str, int]]:
    """``(importer, imported, line)`` for every runtime import of a clinrl module by a clinrl module."""
    edges = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _runtime_imports(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                base = _absolute(module, node)
                # ``from pkg import sub`` loads the submodule ``pkg.sub`` when there is one, else ``pkg``
                names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                         for alias in node.names]
            for name in names:
                if name != PACKAGE and not name.startswith(PACKAGE + "."):
                    continue
                target = _target(name)
                if target is not None and target != module:
                    edges.append((module, target, node.lineno))
    return sorted(set(edges))


EDGES = _edges()


def _where(module: str, line: int | None = None) -> str:
    path = MODULES[module].relative_to(SRC.parents[1]).as_posix()
    return f"{path}:{line}" if line is not None else path


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


def test_the_import_reader_sees_lazy_imports_and_skips_type_only_ones():
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import clinrl.tasks\nelse:\n"
                     "    import clinrl.types\ndef f():\n    from clinrl import errors\n")
    names = [ast.unparse(n) for n in _runtime_imports(tree)]
    assert names == ["from typing import TYPE_CHECKING", "import clinrl.types", "from clinrl import errors"]
    assert EDGES, "no clinrl import was found at all: the reader is broken"


def test_no_import_runs_from_a_lower_layer_to_a_higher_one():
    upward = []
    for importer, imported, line in EDGES:
        low, high = layer_of(importer), layer_of(imported)
        if high > low:
            upward.append(f"{_where(importer, line)} imports {imported}: layer {low} ({layer_name(low)}) → "
                          f"layer {high} ({layer_name(high)})")
    assert not upward, ("imports that run up the layers (move the code down, or the import up):\n  "
                        + "\n  ".join(upward))


def _cycles() -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for importer, imported, _ in EDGES:
        graph[importer].add(imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0

    def connect(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups


def test_no_import_cycles_between_modules():
    cycles = _cycles()
    lines = []
    for group in cycles:
        members = set(group)
        ties = [f"{_where(a, line)} imports {b}" for a, b, line in EDGES if a in members and b in members]
        lines.append(" ⇄ ".join(group) + ":\n    " + "\n    ".join(ties))
    assert not cycles, "import cycles (split the shared part into a module both can import):\n  " + "\n  ".join(lines)


def _task_of(module: str) -> str | None:
    """``medcalc`` for ``clinrl.tasks.medcalc...``; None for modules outside a task's own folder."""
    parts = module.split(".")
    if len(parts) >= 3 and parts[1] == "tasks" and (SRC / "tasks" / parts[2]).is_dir():
        return parts[2]
    return None


def test_only_a_task_and_the_cli_import_that_task():
    reaching = []
    for importer, imported, line in EDGES:
        task = _task_of(imported)
        if task is None or _task_of(importer) == task or importer.split(".")[1] == "cli":
            continue
        if TASK_SPECIFIC_IMPORTERS.get(importer) == task:
            continue
        reaching.append(f"{_where(importer, line)} imports {imported}, a module of the {task!r} task")
    assert not reaching, ("shared code (or another task) that knows one task; move the code into the task's "
                          "folder, or reach the task through a hook on clinrl.tasks.base.Task:\n  "
                          + "\n  ".join(reaching))


@pytest.mark.parametrize("name", ["clinrl.tasks.medcalc.scoring", "clinrl.calculators", "clinrl"])
def test_modules_resolve_to_files(name):
    assert _target(name) == name
