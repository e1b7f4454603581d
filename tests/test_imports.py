"""How the package imports: no import cycles, light start-up for ``--help``, typed lazy exports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("SimpleITK", "scipy", "matplotlib", "onnxruntime", "nibabel", "pandas")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(path: Path, known: set[str]) -> set[str]:
    """The b12brain modules ``path`` imports when run, at module level or in functions
    (imports under ``if TYPE_CHECKING:`` are for type checkers only)."""
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(alias.name for alias in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    return {name for name in found if name in known}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other, directly or through others (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while (top := stack.pop()) != node:
                group.append(top)
            if group:
                groups.append(sorted([node, *group]))

    for node in graph:
        if node not in index:
            visit(node)
    return groups


def test_no_module_imports_itself_through_others() -> None:
    paths = {_module_name(p): p for p in (SRC / "b12brain").rglob("*.py")}
    graph = {name: _runtime_imports(path, set(paths)) - {name} for name, path in paths.items()}
    assert "b12brain.segment.learned" in graph["b12brain.segment.registry"]  # the walk sees function-level imports
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", ["b12brain.segment.learned", "b12brain.segment.classical", "b12brain.segment.base"])
def test_segment_modules_import_first_in_a_fresh_interpreter(module: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["--version"]])
def test_help_does_not_import_the_imaging_stack(argv: list[str]) -> None:
    code = (
        "import sys\nfrom b12brain.cli.main import main\n"
        f"code = main({argv!r})\n"
        f"print(sorted(name for name in {HEAVY!r} if name in sys.modules))\n"
        "sys.exit(code)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_lazy_exports_resolve() -> None:
    import b12brain

    for name in b12brain.__all__:
        assert getattr(b12brain, name) is not None, name
    with pytest.raises(AttributeError, match="run_pipelin"):
        getattr(b12brain, "run_pipelin")


def test_mypy_knows_the_lazy_exports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mypy import api as mypy_api  # in the test extra

    # This tree's package, not an installed copy, with the project's mypy settings.
    monkeypatch.setenv("MYPYPATH", str(SRC))
    good = tmp_path / "good.py"
    good.write_text(
        "import b12brain\n"
        "config: b12brain.PipelineConfig = b12brain.PipelineConfig(segmenter='classical')\n"
        "result: b12brain.PipelineResult = b12brain.run_pipeline(b12brain.load_volume('f.nii.gz'), config=config)\n"
    )
    bad = tmp_path / "bad.py"
    bad.write_text("import b12brain\nb12brain.run_pipelin('flair.nii.gz')\n")
    options = ["--config-file", str(SRC.parent / "pyproject.toml"), "--cache-dir", str(tmp_path / "cache")]
    out, err, status = mypy_api.run([*options, str(good)])
    assert status == 0, out + err
    out, err, status = mypy_api.run([*options, str(bad)])
    assert status == 1, out + err
    assert 'Module has no attribute "run_pipelin"' in out, out


def test_a_run_without_labs_or_dicom_does_not_import_pandas_or_highdicom() -> None:
    # What `b12brain run` imports before it writes a NIfTI run's outputs (each about 0.4 s).
    code = (
        "import sys\nimport b12brain.cli.run_cmd, b12brain.outputs, b12brain.pipeline, b12brain.pacs\n"
        "print(sorted(name for name in ('pandas', 'highdicom') if name in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"

