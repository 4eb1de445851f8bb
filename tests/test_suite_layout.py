"""The test suite's own layout: fixtures in ``conftest.py``, plain helpers in ``helpers.py``.

No test module imports another test module or ``conftest`` (pytest loads conftest itself; an
import runs it a second time under another name), and ``conftest`` defines fixtures only.
Ruff bans importing ``conftest`` and relative imports (``banned-api`` and
``ban-relative-imports`` in pyproject.toml); the absolute ``tests.test_*`` imports are a
prefix ruff cannot ban, so one pass over the files here checks those.
"""

from __future__ import annotations

import ast
import subprocess
import sys

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
    parts = name.split(".")
    return parts[0] == "tests" and len(parts) > 1 and parts[1].startswith("test_")


def test_no_module_imports_a_test_module():
    imports = {
        path.name: sorted(
            m for m in imported_modules(ast.parse(path.read_text(), str(path))) if is_forbidden(m)
        )
        for path in sorted(TESTS.glob("*.py"))
    }
    assert len(imports) > 20  # the files were found
    assert {name: found for name, found in imports.items() if found} == {}


def test_the_checker_sees_forbidden_imports():
    tree = ast.parse(
        "from tests.test_admin import run_action\nimport tests.conftest\n"
        "from tests.helpers import ROOT\nimport tests.factories\n"
    )
    assert sorted(m for m in imported_modules(tree) if is_forbidden(m)) == [
        "tests.test_admin",
        "tests.test_admin.run_action",
    ]


def test_ruff_refuses_imports_of_conftest_and_relative_imports():
    """The rest of the rule is ruff's (pyproject.toml), run by CI's lint lane."""
    source = "from tests.conftest import x\nfrom . import conftest\nfrom .test_admin import y\n"
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "TID", "--output-format", "concise"]
        + ["--stdin-filename", "tests/test_new.py", "-"],
        input=source,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    codes = [line.split()[1] for line in result.stdout.splitlines() if ": TID" in line]
    assert codes == ["TID251", "TID252", "TID251", "TID252"], result.stdout + result.stderr


def test_conftest_defines_only_fixtures_and_hooks():
    tree = ast.parse((TESTS / "conftest.py").read_text())
    plain = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
        and not node.name.startswith("pytest_")
        and not any("fixture" in ast.unparse(d) for d in getattr(node, "decorator_list", []))
    ]
    assert plain == [], "plain helpers belong in tests/helpers.py"
