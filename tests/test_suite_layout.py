"""The test suite's own layout: fixtures in ``conftest.py``, plain helpers in ``helpers.py``.

No test module imports another test module or ``conftest`` (pytest loads conftest itself; an
import runs it a second time under another name), and ``conftest`` defines fixtures only.
"""

from __future__ import annotations

import ast

import pytest

from tests.helpers import ROOT

TESTS = ROOT / "tests"


def imported_modules(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ("." * node.level) + (node.module or "")
            found.add(base)
            sep = "" if base.endswith(".") else "."
            found |= {f"{base}{sep}{alias.name}" for alias in node.names}
    return found


def is_forbidden(name: str) -> bool:
    parts = name.lstrip(".").split(".")
    if name.startswith("."):  # relative: from .test_x import y / from . import conftest
        return parts[0].startswith("test_") or parts[0] == "conftest"
    return (
        parts[0] == "tests"
        and len(parts) > 1
        and (parts[1].startswith("test_") or parts[1] == "conftest")
    )


@pytest.mark.parametrize("path", sorted(TESTS.glob("*.py")), ids=lambda p: p.name)
def test_no_module_imports_a_test_module_or_conftest(path):
    tree = ast.parse(path.read_text(), str(path))
    assert sorted(m for m in imported_modules(tree) if is_forbidden(m)) == []


def test_the_checker_sees_forbidden_imports():
    tree = ast.parse(
        "from tests.test_admin import run_action\nimport tests.conftest\n"
        "from . import conftest\nfrom tests.helpers import ROOT\nimport tests.factories\n"
    )
    assert sorted(m for m in imported_modules(tree) if is_forbidden(m)) == [
        ".conftest",
        "tests.conftest",
        "tests.test_admin",
        "tests.test_admin.run_action",
    ]


def test_conftest_defines_only_fixtures():
    tree = ast.parse((TESTS / "conftest.py").read_text())
    plain = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
        and not any("fixture" in ast.unparse(d) for d in getattr(node, "decorator_list", []))
    ]
    assert plain == [], "plain helpers belong in tests/helpers.py"
