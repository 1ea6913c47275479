"""The engine never imports Qt, pyqtgraph or the GUI, and ``import engine`` stays light; the GUI's
layers hold (lint-imports) and its background layer never imports widgets."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None

ENGINE = REPO_ROOT / "engine"
FORBIDDEN = ("PySide6", "shiboken6", "pyqtgraph", "gui")


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module an ``import`` / ``from ... import`` names, at any depth (functions included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.append((node.lineno, str(node.args[0].value)))
    return found


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_engine_source_imports_no_qt_or_gui():
    files = sorted(ENGINE.rglob("*.py"))
    assert len(files) > 20
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{line}: {name}"
        for path in files
        for line, name in _imported_modules(path)
        if _forbidden(name)
    ]
    assert offenders == []


def test_the_scanner_sees_nested_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f():\n    import PySide6.QtCore\n    from pyqtgraph import PlotWidget\n"
        "class C:\n    def g(self):\n        from gui import app\n"
        "import importlib\nimportlib.import_module('shiboken6')\nfrom . import gui\n"
    )
    names = sorted(name for _, name in _imported_modules(sample) if _forbidden(name))
    assert names == ["PySide6.QtCore", "gui", "pyqtgraph", "shiboken6"]


GUI = REPO_ROOT / "gui"


def test_gui_background_never_imports_widgets():
    """gui/background runs beside the widgets, never draws: no QtWidgets, no pyqtgraph, no tab or
    widget module (import-linter forbids only whole external packages, so this part is checked here)."""
    files = sorted((GUI / "background").rglob("*.py"))
    assert len(files) >= 5
    widgetish = ("PySide6.QtWidgets", "pyqtgraph", "gui.train", "gui.predict", "gui.evaluate", "gui.widgets")
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{line}: {name}"
        for path in files
        for line, name in _imported_modules(path)
        if any(name == w or name.startswith(w + ".") for w in widgetish)
    ]
    assert offenders == []


def test_gui_imports_only_the_top_level_engine():
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{line}: {name}"
        for path in sorted(GUI.rglob("*.py"))
        for line, name in _imported_modules(path)
        if name.startswith("engine.")
    ]
    assert offenders == []


def test_gui_layers_are_declared_for_lint_imports():
    if tomllib is None:
        pytest.skip("needs Python 3.11's tomllib")
    contracts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["type"] == "layers" and c.get("containers") == ["gui"])
    assert layers["layers"][1] == "train | predict | evaluate | runs | teach"  # the tabs are independent of each other
    assert layers["layers"][-1] == "background" and layers.get("exhaustive") is True
    assert any(c["type"] == "forbidden" and c["source_modules"] == ["gui"] for c in contracts)


def _lint_imports() -> str:
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        exe = Path(shutil.which("lint-imports") or exe)
    if not exe.exists():
        pytest.skip("import-linter is not installed (pip install -e .[dev])")
    return str(exe)


def _run_lint(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_lint_imports(), "--no-logo", "--no-cache", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(REPO_ROOT)},
    )


def test_import_linter_contract(tmp_path):
    """The contracts written in pyproject.toml hold (checked with external packages included)."""
    if tomllib is None:
        pytest.skip("needs Python 3.11's tomllib")
    settings = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contracts = settings["contracts"]
    assert any(
        c["type"] == "forbidden" and c["source_modules"] == ["engine"] and set(FORBIDDEN) <= set(c["forbidden_modules"])
        for c in contracts
    )
    roots = [r for r in settings["root_packages"] if (REPO_ROOT / r / "__init__.py").exists()]
    lines = ["[tool.importlinter]", f"root_packages = {json.dumps(roots)}", "include_external_packages = true"]
    for contract in contracts:
        lines += ["", "[[tool.importlinter.contracts]]"] + [f"{k} = {json.dumps(v)}" for k, v in contract.items()]
    config = tmp_path / "importlinter.toml"
    config.write_text("\n".join(lines) + "\n")
    proc = _run_lint("--config", str(config))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(contracts)} kept, 0 broken" in proc.stdout


def test_import_linter_runs_with_the_project_settings():
    """``lint-imports`` as CI runs it, with pyproject.toml's settings unchanged."""
    if not (REPO_ROOT / "gui" / "__init__.py").exists():
        pytest.skip("the gui package (a root package in the contract) does not exist yet")
    proc = _run_lint()
    if "include_external_packages=True" in proc.stdout:
        pytest.xfail(
            "pyproject.toml [tool.importlinter] needs `include_external_packages = true`: "
            "the forbidden modules (PySide6, shiboken6, pyqtgraph) are external packages"
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_import_engine_does_not_import_torch():
    code = (
        "import engine, sys; print('torch' in sys.modules); "
        "engine.__version__; print('torch' in sys.modules, 'PySide6' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False", "False"]


def test_public_api_names_resolve():
    import engine

    missing = [name for name in engine.__all__ if not hasattr(engine, name)]
    assert missing == []
    with pytest.raises(AttributeError):
        engine.not_a_name  # noqa: B018


def test_no_public_name_is_shadowed_by_a_submodule():
    """A public name equal to a submodule's name turns into the module once anything imports that
    submodule (Python sets the package attribute), so ``engine.NAME(...)`` would call a module."""
    import pkgutil

    import engine

    submodules = {m.name for m in pkgutil.iter_modules(engine.__path__)}
    assert not submodules & set(engine._EXPORTS)


DEFERRED_NOTE = "# Imports inside functions:"


def _unexplained_imports_in_functions(path: Path, root: Path = REPO_ROOT) -> list[str]:
    """Imports inside functions with no reason beside them: on their line, the line above, or the
    module's ``# Imports inside functions: ...`` note (one reason for a module's many: start-up)."""
    source = path.read_text(encoding="utf-8")
    if DEFERRED_NOTE in source:
        return []
    lines = source.splitlines()
    found = []
    for fn in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    here, above = lines[node.lineno - 1], lines[node.lineno - 2]
                    if "#" not in here and not above.strip().startswith("#"):
                        found.append(f"{path.relative_to(root).as_posix()}:{node.lineno}: {here.strip()}")
    return sorted(set(found))


def test_every_import_inside_a_function_says_why():
    """Imports belong at the top; one inside a function is there for a measured reason (start-up
    without torch, an optional dependency), said in a comment (issue 18)."""
    found = []
    for package in ("engine", "gui"):
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            found += _unexplained_imports_in_functions(path)
    assert found == []


def test_the_import_reason_check_sees_a_bare_import(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("def f():\n    import json\n    return json\n", encoding="utf-8")
    assert _unexplained_imports_in_functions(module, tmp_path) == ["module.py:2: import json"]
    module.write_text("def f():\n    import json  # only here: why\n    return json\n", encoding="utf-8")
    assert _unexplained_imports_in_functions(module, tmp_path) == []
