"""The package's structure: layers depend one way, and each module imports on its own.

Reads every module's imports with ``ast`` (including imports inside functions, except under
``if TYPE_CHECKING:``) and fails on any cycle between ``zoho_tokens`` modules and on any
import of a higher layer (``LAYERS``, the one source of the layer table in
``docs/explanation/architecture.md``); then imports each module first, in a process of its
own, to prove no import order is needed.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import DOCS, ROOT

PACKAGE = ROOT / "zoho_tokens"


@dataclass(frozen=True)
class Layer:
    name: str
    modules: tuple[str, ...]  # module names under zoho_tokens; a package stands for its modules
    job: str


#: Top to bottom: a module imports modules of its own layer or of the layers below it.
#: A new module goes into one of these (the layer test fails until it is placed).
LAYERS = (
    Layer("testing", ("testing",), "the fake Zoho and the pytest plugin users' tests rely on"),
    Layer(
        "interfaces",
        ("admin", "views", "urls", "forms", "management", "apps", "display", "contrib"),
        "parse input, confirm, call one service, present its result; integrations "
        "(django-health-check)",
    ),
    Layer(
        "SDK adapter and HTTP clients",
        ("", "store", "sdk", "tokens", "http"),
        "the SDK's `TokenStore` and its initializer; the access token for code that calls "
        "Zoho's APIs itself (`access_token`, `ZohoAuth`), which the package exposes lazily",
    ),
    Layer(
        "operations",
        ("services", "importers", "tasks", "keys", "health"),
        "one module per operation; operations on several tokens return one outcome per token; "
        "the health report",
    ),
    Layer(
        "core",
        (
            "rows",
            "refresh",
            "lifecycle",
            "audit",
            "signals",
            "notify",
            "metrics",
            "background",
            "tenancy",
            "checks",
            "connections",
            "access",
        ),
        "the write model (save, delete, purge, single-flight refresh) and its rules: a "
        "connection's life, audit trail, signals, notifications, metrics, background jobs, "
        "current tenant, system checks, database errors, connect permission",
    ),
    Layer(
        "data",
        ("models", "fields", "outcomes"),
        "the models, the status rule, the encrypted column, the one outcome type of batch "
        "operations",
    ),
    Layer(
        "foundations",
        (
            "conf",
            "context",
            "exceptions",
            "zohosdk",
            "collation",
            "crypto",
            "datacenters",
            "oauth_client",
        ),
        "settings, the ambient tenant and actor, errors, the SDK's classes, encryption, Zoho's data centers and its "
        "Accounts HTTP client; importable before Django is set up where marked pure",
    ),
)


def layer_of(module: str) -> int | None:
    """Index in ``LAYERS`` of ``module`` (longest matching entry), None when unplaced."""
    relative = module.removeprefix("zoho_tokens").lstrip(".")
    best: tuple[int, int] | None = None
    for index, layer in enumerate(LAYERS):
        for entry in layer.modules:
            matches = relative == entry or (entry and relative.startswith(entry + "."))
            if matches and (best is None or len(entry) > best[0]):
                best = (len(entry), index)
    return None if best is None else best[1]


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


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Modules in no layer, and imports that reach up to a higher layer."""
    found = [f"{m}: in no layer (add it to LAYERS)" for m in sorted(graph) if layer_of(m) is None]
    for module, targets in sorted(graph.items()):
        here = layer_of(module)
        for target in sorted(targets):
            there = layer_of(target)
            if here is not None and there is not None and there < here:
                found.append(
                    f"{module} ({LAYERS[here].name}) imports {target} ({LAYERS[there].name})"
                )
    return found


def test_the_layer_checker_sees_unplaced_modules_and_upward_imports():
    graph = {
        "zoho_tokens.models": {"zoho_tokens.rows"},
        "zoho_tokens.rows": {"zoho_tokens.models"},
        "zoho_tokens.admin.new": {"zoho_tokens.store"},
        "zoho_tokens.gadget": set(),
    }
    assert layer_violations(graph) == [
        "zoho_tokens.gadget: in no layer (add it to LAYERS)",
        "zoho_tokens.models (data) imports zoho_tokens.rows (core)",
    ]
    assert LAYERS[layer_of("zoho_tokens.services.grants") or 0].name == "operations"
    assert LAYERS[layer_of("zoho_tokens") or 0].name == "SDK adapter and HTTP clients"


def test_every_module_is_in_a_layer_and_imports_only_its_own_or_lower_layers():
    assert layer_violations(import_graph()) == []


def architecture_page() -> str:
    """``docs/explanation/architecture.md``, written from ``LAYERS``."""

    def shown(entry: str) -> str:
        if not entry:
            return "`__init__.py`"
        return f"`{entry}/`" if (PACKAGE / entry).is_dir() else f"`{entry}.py`"

    rows = [
        f"| {layer.name} | {', '.join(shown(m) for m in layer.modules)} | {layer.job} |"
        for layer in LAYERS
    ]
    return "\n".join(
        [
            "# Architecture: layers",
            "",
            "<!-- Generated from LAYERS in tests/test_architecture.py: edit it there, then run",
            "     ZOHO_TOKENS_WRITE_DOCS=1 pytest tests/test_architecture.py -->",
            "",
            "The package `zoho_tokens` is built in layers, listed here from the top. A module",
            "imports modules of its own layer or of the layers below it, never above, and no",
            "import cycle exists between modules (imports inside functions count).",
            "`tests/test_architecture.py` reads every module's imports and fails when one",
            "breaks this table, and imports every module first, in a process of its own, so no",
            "import order is needed.",
            "",
            "| layer | modules | what goes there |",
            "|---|---|---|",
            *rows,
            "",
        ]
    )


def test_the_docs_layer_table_is_generated_from_the_layers():
    page = DOCS / "explanation" / "architecture.md"
    if os.environ.get("ZOHO_TOKENS_WRITE_DOCS") == "1":
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(architecture_page())
    assert page.read_text() == architecture_page(), (
        "docs/explanation/architecture.md is stale: ZOHO_TOKENS_WRITE_DOCS=1 pytest "
        "tests/test_architecture.py"
    )


#: One interpreter: Django configured, third-party modules imported once, then each
#: zoho_tokens module imported first in a forked child (a copy of a process that has imported
#: no zoho_tokens module, or only what ``django.setup()`` imports, the same in every child).
FIRST_IMPORT = """
import importlib, os, sys, traceback
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
for heavy in ("pytest", "django.db.migrations", "django.contrib.admin", "django.forms",
              "django.test", "cryptography.fernet", "requests"):
    importlib.import_module(heavy)  # shared by every child; none needs the app registry
PURE = ("conf", "context", "exceptions", "datacenters", "tenancy", "oauth_client")
running = {}
failed = []


def reap(block):
    while running and (block or len(running) >= 2):
        pid, status = os.wait()
        if status:
            failed.append(running[pid])
        del running[pid]
        block = block and bool(running)


def first_import(name, pure):
    reap(False)
    pid = os.fork()
    if pid:
        running[pid] = name
        return
    try:
        importlib.import_module(name)
    except BaseException:
        print(f"--- {name} does not import first" + (" before django.setup()" if pure else ""),
              file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    os._exit(0)


def package_modules():
    return sorted(m for m in sys.modules if m.split(".")[0] == "zoho_tokens")


names = sys.argv[1:]
assert package_modules() == [], package_modules()
for name in names:
    if name.split(".")[-1] in PURE:
        first_import(name, pure=True)  # pure modules: importable before Django is set up
reap(True)
django.setup()  # what every child would do first: done once, checked once
for name in names:
    if name not in package_modules():
        first_import(name, pure=False)
reap(True)
print(len(names), "modules checked; failed:", sorted(failed))
sys.exit(1 if failed else 0)
"""


def test_each_module_imports_first():
    """Every module imports first; the checker itself reports one that cannot (planted)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    names = sorted(package_modules())
    planted = "zoho_tokens.not_a_module"  # must be reported, or the checker sees nothing
    result = subprocess.run(
        [sys.executable, "-c", FIRST_IMPORT, *names, planted],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.stdout.strip() == f"{len(names) + 1} modules checked; failed: {[planted]!r}", (
        result.stderr[-3000:]
    )
