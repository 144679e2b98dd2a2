"""tools/check_structure.py: the structure check `make test` runs finds what it is meant to find."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("check_structure", ROOT / "tools" / "check_structure.py")
check_structure = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_structure)


def make_package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_a_cycle_closed_by_a_function_level_import_is_found(tmp_path):
    root = make_package(tmp_path, {
        "__init__.py": "",
        "a.py": "from pkg.b import g\n\ndef f():\n    return g()\n",
        "b.py": "def g():\n    from pkg import a\n    return a\n",
    })
    assert check_structure.find_cycles(check_structure.import_graph(root)) == [["pkg.a", "pkg.b"]]


def test_an_fstring_import_module_counts_as_importing_every_module_under_the_prefix(tmp_path):
    root = make_package(tmp_path, {
        "__init__.py": "",
        "cli/__init__.py": "import importlib\n\ndef run(n):\n    return importlib.import_module(f'pkg.cli.{n}')\n",
        "cli/train.py": "from pkg import core\n",
        "core.py": "def main():\n    from pkg.cli import run\n    return run\n",
    })
    graph = check_structure.import_graph(root)
    assert "pkg.cli.train" in graph["pkg.cli"]
    assert check_structure.find_cycles(graph) == [["pkg.cli", "pkg.cli.train", "pkg.core"]]


def test_from_package_import_submodule_points_at_the_submodule_not_the_package(tmp_path):
    root = make_package(tmp_path, {
        "__init__.py": "from pkg import api\n",
        "api.py": "from pkg import helpers\n",
        "helpers.py": "X = 1\n",
    })
    graph = check_structure.import_graph(root)
    assert graph["pkg.api"] == {"pkg.helpers": 1}
    assert check_structure.find_cycles(graph) == []


def test_functions_over_the_limit_are_reported_with_their_length(tmp_path):
    body = "\n".join(f"        x{i} = {i}" for i in range(81))
    root = make_package(tmp_path, {"__init__.py": "", "m.py": f"class C:\n    def long(self):\n{body}\n"})
    ((path, line, name, length),) = check_structure.long_functions(root, 80)
    assert (Path(path).name, line, name, length) == ("m.py", 2, "C.long", 82)
    assert check_structure.long_functions(root, 82) == []


def test_an_import_up_the_layers_is_a_layering_problem():
    graph = {"bioseq.models.x": {"bioseq.training.api": 7}, "bioseq.training.api": {"bioseq.models.x": 3}}
    problems = check_structure.layer_violations(graph)
    assert problems == ["layering: bioseq.models.x (line 7) imports bioseq.training.api, which is in a higher layer"]


def test_the_bioseq_package_passes_its_own_structure_check(capsys):
    assert check_structure.main([str(ROOT / "bioseq")]) == 0, capsys.readouterr().out


def test_every_from_import_of_bioseq_names_something_that_exists():
    """Function-level imports run only when their function does: a stale one would hide until then."""
    import ast
    import importlib

    missing = []
    for path in sorted((ROOT / "bioseq").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith("bioseq"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    is_submodule = hasattr(module, "__path__") and importlib.util.find_spec(
                        f"{node.module}.{alias.name}"
                    ) is not None
                    if not hasattr(module, alias.name) and not is_submodule:
                        missing.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.module}.{alias.name}")
    assert missing == []
