"""The app reaches the engine only through photosim.api and photosim.core (issue 14)."""

from __future__ import annotations

import ast
from pathlib import Path

import photosim

APP = Path(photosim.__file__).parent / "app"
ALLOWED = ("photosim.app", "photosim.api", "photosim.core", "photosim")


def _engine_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if (
                name.startswith("photosim")
                and not any(name == a or name.startswith(a + ".") for a in ALLOWED[:-1])
                and name != "photosim"
            ):
                found.append(f"{path.relative_to(APP.parent)}:{node.lineno} imports {name}")
    return found


def test_the_app_uses_only_the_library_api_and_the_types_re_exported_for_it():
    modules = sorted(APP.rglob("*.py"))
    assert len(modules) > 10
    assert [line for path in modules for line in _engine_imports(path)] == []


def test_the_app_reaches_into_no_library_internals():
    reaches = [f"{path.name}: {line.strip()}" for path in sorted(APP.rglob("*.py"))
               for line in path.read_text().splitlines() if "library.store" in line
               or "library._" in line]  # fmt: skip
    assert reaches == []
