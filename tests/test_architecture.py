"""The package's structure: layers depend one way, and each module imports on its own.

Reads every module's imports with ``ast`` (including imports inside functions, except under
``if TYPE_CHECKING:``) and fails on any cycle between ``zoho_tokens`` modules; then imports
each module first, in a fresh interpreter, to prove no import order is needed.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.helpers import ROOT

PACKAGE = ROOT / "zoho_tokens"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for path in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in path.parts
    }


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """The ``zoho_tokens`` modules ``path`` imports, anywhere but ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def resolve(target: str) -> None:
        # "from zoho_tokens import store" names a module; "from zoho_tokens.x import y" the x.
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)

    def visit(node: ast.AST) -> None:
        if _type_checking_block(node):
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                resolve(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                resolve(full if full in known else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m.startswith("zoho_tokens")}


def import_graph() -> dict[str, set[str]]:
    modules = package_modules()
    known = set(modules)
    return {name: imported_modules(path, name, known) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strongconnect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                strongconnect(target)
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
            strongconnect(node)
    return found


def test_the_graph_reader_sees_function_level_imports_and_cycles(tmp_path):
    """The checker itself: an import inside a function counts; TYPE_CHECKING does not."""
    graph = {"zoho_tokens.a": {"zoho_tokens.b"}, "zoho_tokens.b": {"zoho_tokens.a"}}
    assert cycles(graph) == [["zoho_tokens.a", "zoho_tokens.b"]]
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from zoho_tokens import store\n"
        "def f():\n    from zoho_tokens.models import ZohoToken\n"
        "    from zoho_tokens import rows, crypto\n"
    )
    known = {"zoho_tokens.models", "zoho_tokens.store", "zoho_tokens.rows", "zoho_tokens.crypto"}
    assert imported_modules(source, "zoho_tokens.mod", known) == {
        "zoho_tokens.models",
        "zoho_tokens.rows",
        "zoho_tokens.crypto",
    }


def test_no_import_cycles_in_the_package():
    graph = import_graph()
    assert len(graph) > 20  # the reader found the package
    assert graph["zoho_tokens.store"] >= {"zoho_tokens.rows", "zoho_tokens.refresh"}
    assert cycles(graph) == []


def test_core_modules_do_not_reach_up_into_adapters_or_interfaces():
    """rows/refresh never use the SDK adapter; nothing below the interface layer uses it."""
    graph = import_graph()
    interfaces = {"zoho_tokens.views", "zoho_tokens.forms"}
    interfaces |= {
        m for m in graph if m.startswith(("zoho_tokens.management", "zoho_tokens.admin"))
    }
    cores = {"zoho_tokens.rows", "zoho_tokens.refresh"}
    cores |= {m for m in graph if m.split(".")[:2] == ["zoho_tokens", "services"]}
    assert len(cores) > 3  # the services package and its modules were found
    for core in sorted(cores):
        assert "zoho_tokens.store" not in graph[core], core
        assert not graph[core] & interfaces, core


FIRST_IMPORT = """
import importlib, sys
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=[
        "django.contrib.admin.apps.SimpleAdminConfig",  # no autodiscover: nothing pre-imported
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "zoho_tokens",
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    SECRET_KEY="import-order-test",
)
name = sys.argv[1]
if name.split(".")[-1] in ("conf", "exceptions", "datacenters", "tenancy", "oauth_client"):
    importlib.import_module(name)  # pure modules: importable before Django is set up
django.setup()
importlib.import_module(name)
"""


def _import_first(name: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", FIRST_IMPORT, name],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return "" if result.returncode == 0 else f"{name}: {result.stderr.strip()[-1500:]}"


def test_each_module_imports_first_in_a_fresh_interpreter():
    names = sorted(package_modules())
    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [f for f in pool.map(_import_first, names) if f]
    assert failures == []
