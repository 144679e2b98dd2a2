"""Fail on import cycles among bioseq modules, imports against the layers, and functions over 80 lines.

Why: layers must only import downward (docs/ARCHITECTURE.md), and a
function-level import hides a cycle from Python at import time without making
it any less of a cycle. So every import counts here, wherever it stands:
module level, inside functions, under ``if TYPE_CHECKING``, and
``importlib.import_module("bioseq....")`` with a literal name (an f-string
such as ``f"bioseq.cli.{name}"`` counts as importing every module under
``bioseq.cli.``).

An edge ``a -> b`` means module ``a`` imports module ``b``; ``from pkg import
name`` points at ``pkg.name`` when that is a module, else at ``pkg``. Importing
a submodule also runs its parent packages' ``__init__``; those implicit edges
are left out, since a package ``__init__`` that re-exports its own submodules
would otherwise be a cycle with each of them.

Usage: ``python tools/check_structure.py [--max-lines 80] [PACKAGE_DIR]``.
Exit status 1 and one line per problem when anything is found.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path


def module_name(path: Path, root: Path) -> str:
    """Dotted name of ``path`` inside the package whose folder is ``root``."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(current: str, is_package: bool, level: int, module: str | None) -> str:
    base = current.split(".") if is_package else current.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _imported_modules(tree: ast.AST, current: str, is_package: bool, files: set[str]) -> list[tuple[str, int]]:
    """``(module, line)`` for every bioseq module the code imports, wherever the import stands."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(_known_prefix(alias.name, files), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = _resolve_relative(current, is_package, node.level, node.module)
            for alias in node.names:
                # "from pkg import mod" imports pkg.mod; "from pkg import name" imports pkg.
                sub = f"{base}.{alias.name}"
                found.append((sub if sub in files else _known_prefix(base, files), node.lineno))
        elif isinstance(node, ast.Call) and _is_import_module(node.func) and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((_known_prefix(arg.value, files), node.lineno))
            elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
                # f"pkg.sub.{name}": any module under that prefix may be meant.
                prefix = str(arg.values[0].value)
                found += [(m, node.lineno) for m in sorted(files) if m.startswith(prefix)]
    return [(m, line) for m, line in found if m and m != current]


def _known_prefix(name: str, files: set[str]) -> str:
    """The longest prefix of dotted ``name`` that is a module of the package ('' if none)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in files:
            return candidate
    return ""


def _is_import_module(func: ast.expr) -> bool:
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name in {"import_module", "__import__"}


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """``{module: {imported module: first line}}`` among the modules under ``root``."""
    paths = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    files = set(paths)
    graph: dict[str, dict[str, int]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: dict[str, int] = {}
        for target, line in _imported_modules(tree, name, path.name == "__init__.py", files):
            edges.setdefault(target, line)
        graph[name] = edges
    return graph


# The layers, lowest first (docs/ARCHITECTURE.md draws them). A module may
# import its own package and any package of a lower layer, never one of the
# same layer or above. The key is the package (or top-level module) under bioseq.
LAYERS: list[tuple[str, ...]] = [
    ("_version", "errors"),
    ("plugins", "alphabets", "device", "tasks", "logs"),
    ("io",),
    ("tokenize",),
    ("data",),
    ("models",),
    ("bundle",),
    ("predict", "embed", "evaluate", "genomics", "interpret"),
    ("training",),
    ("api", "workflow"),
    ("estimators",),  # scikit-learn estimators: train through api
    ("cli",),
    ("__main__",),
    ("",),  # bioseq/__init__.py: the lazy public API
]


def layer_of(module: str) -> tuple[int, str]:
    """``(layer index, package)`` of a dotted module name under ``bioseq``."""
    parts = module.split(".")
    package = parts[1] if len(parts) > 1 else ""
    for i, layer in enumerate(LAYERS):
        if package in layer:
            return i, package
    raise KeyError(f"{module}: package {package!r} is in no layer of tools/check_structure.py")


def layer_violations(graph: dict[str, dict[str, int]]) -> list[str]:
    """Imports that reach sideways or up the layers."""
    found = []
    for module, targets in sorted(graph.items()):
        here, package = layer_of(module)
        for target, line in sorted(targets.items()):
            there, other = layer_of(target)
            if other != package and there >= here:
                where = "the same layer" if there == here else "a higher layer"
                found.append(f"layering: {module} (line {line}) imports {target}, which is in {where}")
    return found


def find_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def long_functions(root: Path, max_lines: int) -> list[tuple[str, int, str, int]]:
    """``(path, line, qualified name, length)`` of every function longer than ``max_lines``.

    Length counts from the ``def`` line (decorators excluded) to the last line
    of the body, docstring included: what a reader has to hold in view.
    """
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found += _long_in(tree, str(path), "", max_lines)
    return found


def _long_in(node: ast.AST, path: str, prefix: str, max_lines: int) -> list[tuple[str, int, str, int]]:
    found = []
    for child in ast.iter_child_nodes(node):
        name = getattr(child, "name", None)
        qual = f"{prefix}{name}" if name else prefix
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = child.end_lineno - child.lineno + 1
            if length > max_lines:
                found.append((path, child.lineno, qual, length))
            found += _long_in(child, path, qual + ".", max_lines)
        elif isinstance(child, ast.ClassDef):
            found += _long_in(child, path, qual + ".", max_lines)
        else:
            found += _long_in(child, path, prefix, max_lines)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", nargs="?", default="bioseq", type=Path)
    parser.add_argument("--max-lines", type=int, default=80)
    args = parser.parse_args(argv)
    root = args.package.resolve()
    graph = import_graph(root)
    problems = []
    for cycle in find_cycles(graph):
        members = set(cycle)
        ties = [f"{a} -> {b} (line {graph[a][b]})" for a in cycle for b in graph[a] if b in members]
        problems.append("import cycle: " + ", ".join(cycle) + "\n    " + "\n    ".join(ties))
    if root.name == "bioseq":
        problems += layer_violations(graph)
    for path, line, name, length in long_functions(root, args.max_lines):
        problems.append(f"{path}:{line}: function {name} is {length} lines (limit {args.max_lines})")
    for problem in problems:
        print(problem)
    modules = len(graph)
    edges = sum(len(v) for v in graph.values())
    status = "FAILED" if problems else "ok"
    print(f"check_structure: {modules} modules, {edges} imports, {len(problems)} problem(s): {status}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
