"""The docs cannot drift: every Python and shell block of the README and of ``docs/`` runs.

Each fenced ``python``/``sh``/``console`` block is one of:

- an include (``--8<-- "docs/examples/<file>"``, MkDocs' snippets): the file exists and a test
  names it (``tests/test_testing_plugin.py``, ``tests/test_recipes.py``, ``test_install.py``,
  this module for ``docs/examples/install``);
- marked ``<!-- install: NAME -->``: ``tests/test_install.py`` runs it in a new project;
- marked ``<!-- docs-test: settings -->``: executed here in a namespace like a new project's
  ``settings.py``/``urls.py`` (``INSTALLED_APPS``, ``MIDDLEWARE``, ``ZOHO_TOKENS``,
  ``urlpatterns``, ``path``, ``include``);
- marked ``<!-- docs-test: skip: REASON -->``: not run, for the stated reason (rare);
- otherwise run here: Python against the test database and the fake Zoho, with a connected
  user ``ann@example.com:700000001`` (and one in tenant ``acme``); shell with bash from the
  repository root against a new SQLite file; a ``console`` transcript's ``$ python manage.py``
  lines are checked against the commands' real options.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class

from tests.helpers import ROOT, child_env

RUNNABLE = {"python", "py", "sh", "bash", "shell", "console"}
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)\s*$")
INCLUDE = re.compile(r'^--8<-- "([^"]+)"$')
MAX_SKIPPED = 12  # skips stay rare: a block that cannot run here says why


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    marker: str
    body: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def include(self) -> str | None:
        match = INCLUDE.match(self.body.strip())
        return match[1] if match else None

    def source(self) -> str:
        return (ROOT / self.include).read_text() if self.include else self.body

    @property
    def kind(self) -> str:
        if self.marker.startswith("install:"):
            return "install"
        if self.marker.startswith("docs-test: skip:"):
            return "skip"
        if self.marker == "docs-test: settings":
            return "settings"
        if self.marker:
            return f"unknown marker {self.marker!r}"
        if self.include:
            return "include"
        return "console" if self.lang == "console" else "run"


def pages() -> list[Path]:
    docs = [p for p in sorted((ROOT / "docs").rglob("*.md")) if "examples" not in p.parts]
    return [ROOT / "README.md", *docs]


def blocks() -> list[Block]:
    found = []
    for page in pages():
        lines = page.read_text().split("\n")
        i = 0
        while i < len(lines):
            fence = FENCE.match(lines[i])
            if not fence:
                i += 1
                continue
            indent, lang = fence["indent"], fence["lang"]
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            body = "\n".join(line[len(indent) :] for line in lines[i + 1 : end])
            before = [line.strip() for line in lines[:i] if line.strip()]
            marker = ""
            while before and before[-1].startswith("<!--"):  # skip other tools' comments
                comment = before.pop()
                if comment.removeprefix("<!--").strip().startswith(("install:", "docs-test:")):
                    marker = comment
                    break
            if lang in RUNNABLE:
                found.append(
                    Block(
                        str(page.relative_to(ROOT)),
                        i + 1,
                        lang,
                        marker.removeprefix("<!--").removesuffix("-->").strip(),
                        body,
                    )
                )
            i = end + 1
    return found


BLOCKS = blocks()


def of_kind(kind: str) -> list:
    return [pytest.param(b, id=b.id) for b in BLOCKS if b.kind == kind]


def test_every_block_is_run_included_or_skipped_for_a_reason():
    assert len(BLOCKS) > 30  # the reader found the docs' blocks
    unknown = [(b.id, b.kind) for b in BLOCKS if b.kind.startswith("unknown")]
    assert unknown == []
    skipped = [b for b in BLOCKS if b.kind == "skip"]
    for block in skipped:
        assert len(block.marker.removeprefix("docs-test: skip:").strip()) > 20, block.id
    assert len(skipped) <= MAX_SKIPPED, [b.id for b in skipped]


def test_every_included_file_exists_and_a_test_runs_it():
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").glob("*.py"))
    for block in BLOCKS:
        if block.include:
            path = ROOT / block.include
            assert path.is_file(), f"{block.id} includes a missing file {block.include}"
            run_here = block.kind in {"settings", "install"} or block.include.startswith(
                "docs/examples/install/"
            )  # this module runs these, test_install.py every block marked install
            assert run_here or path.name in tests, f"no test runs {block.include} ({block.id})"


def test_every_example_file_is_shown_on_a_page():
    included = {b.include for b in BLOCKS if b.include}
    examples = {
        str(p.relative_to(ROOT))
        for p in (ROOT / "docs" / "examples").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert examples - included == set()


# -- settings fragments -------------------------------------------------------------------


@pytest.mark.parametrize("block", of_kind("settings"))
def test_settings_blocks_execute_in_a_new_projects_settings(block):
    from django.urls import include, path

    namespace = {
        "__name__": "mysite.settings",
        "os": os,
        "INSTALLED_APPS": ["django.contrib.admin", "django.contrib.auth"],
        "MIDDLEWARE": ["django.contrib.auth.middleware.AuthenticationMiddleware"],
        "ZOHO_TOKENS": {},
        "urlpatterns": [],
        "path": path,
        "include": include,
    }
    before = {name: repr(value) for name, value in namespace.items()}
    exec(compile(block.source(), block.id, "exec"), namespace)
    changed = {name for name, value in namespace.items() if before.get(name) != repr(value)}
    assert changed - {"__builtins__"}, f"{block.id} sets nothing"


# -- Python, against the test database and the fake Zoho -----------------------------------


@pytest.fixture
def connected(live_token):
    """The users the docs' examples call Zoho as."""
    live_token("ann@example.com:700000001")
    live_token("ann@acme.com:700000042", tenant="acme")


@pytest.fixture
def restored_signals():
    """A docs example may connect a receiver (``@receiver``): disconnect it afterwards."""
    from zoho_tokens import signals

    saved = {
        name: list(signal.receivers)
        for name, signal in vars(signals).items()
        if hasattr(signal, "receivers")
    }
    yield
    for name, receivers in saved.items():
        signal = getattr(signals, name)
        signal.receivers[:] = receivers
        signal.sender_receivers_cache.clear()


RUN_PYTHON = [
    *(p for p in of_kind("run") if p.values[0].lang in {"python", "py"}),
    *(
        pytest.param(b, id=b.id)
        for b in BLOCKS
        if b.kind == "include" and (b.include or "").startswith("docs/examples/install/")
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize("block", RUN_PYTHON)
def test_python_blocks_run(block, connected, restored_signals, sdk_resource_path, settings):
    settings.ZOHO_TOKENS = {**settings.ZOHO_TOKENS, "SDK_RESOURCE_PATH": sdk_resource_path}
    namespace = {"__name__": "docs_example"}
    cwd = os.getcwd()
    os.chdir(sdk_resource_path)  # an SDK initialised without resource_path writes to cwd
    try:
        exec(compile(block.source(), block.id, "exec"), namespace)
    finally:
        os.chdir(cwd)


# -- shell, from the repository root ------------------------------------------------------


@pytest.mark.parametrize("block", [p for p in of_kind("run") if p.values[0].lang != "python"])
def test_shell_blocks_run(block, tmp_path):
    env = child_env(None, DATABASE_URL=f"sqlite:///{tmp_path / 'docs.sqlite3'}")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.source()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{block.id}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr


# -- console transcripts: the commands and options they show exist -------------------------


def command_help(name: str, sub: str | None) -> str:
    command = load_command_class(get_commands()[name], name)
    parser = command.create_parser("manage.py", name)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
        parser.parse_args([sub, "--help"] if sub else ["--help"])
    assert exited.value.code == 0, f"manage.py {name} {sub or ''} --help failed"
    return out.getvalue()


@pytest.mark.parametrize("block", of_kind("console"))
def test_console_transcripts_show_real_commands_and_options(block):
    commands = [line[2:].split(" #")[0] for line in block.body.split("\n") if line.startswith("$ ")]
    assert commands, f"{block.id}: a console block without a '$ ' command"
    for line in commands:
        words = shlex.split(line.replace("[", " ").replace("]", " "))
        if words[:2] != ["python", "manage.py"]:
            continue  # e.g. "echo $?": only manage.py commands have options to check
        name = words[2]
        assert name in get_commands(), f"{block.id}: no command {name!r}"
        sub = words[3] if len(words) > 3 and not words[3].startswith("-") else None
        if name != "zoho_tokens":
            sub = None
        help_text = command_help(name, sub)
        for option in (w.split("=")[0] for w in words if w.startswith("--")):
            assert option in help_text, f"{block.id}: {line}: {option} is no option"


def test_the_readmes_relative_links_and_images_exist():
    """MkDocs checks the links between pages; the README is outside its docs_dir."""
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [t for t in targets if not t.startswith(("http://", "https://"))]
    assert len(local) > 10
    assert [t for t in local if not (ROOT / t).exists()] == []


def test_the_site_builds_with_no_warning(tmp_path):
    """``mkdocs build --strict`` (as CI's lint lane): a broken link or anchor between pages,
    a missing include or a docstring mkdocstrings cannot render fails here, at the merge."""
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip(
            "mkdocs is not installed (requirements-dev.txt); CI's lint lane builds the docs"
        )
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "how-to" / "testing" / "index.html").exists()


def _bench_tables():
    spec = importlib.util.spec_from_file_location("bench_tables", ROOT / "bench" / "tables.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_tables_are_drawn_from_the_results_files(monkeypatch):
    """No figure of a benchmark table is typed by hand: each is what bench/tables.py draws
    from the bench/results-*.json its benchmark wrote (``--write`` redraws them)."""
    tables = _bench_tables()
    names = {match["name"] for _path, match in tables.regions()}
    assert {"herd", "herd-summary", "store", "floors"} <= names
    assert tables.stale() == []

    # A changed result is seen: the SQLite herd made one refresh more.
    herd = tables.results("herd")
    herd["DjangoTokenStore (sqlite)"]["refresh_calls"] = 6
    monkeypatch.setattr(tables, "results", lambda name: herd if name == "herd" else {})
    assert tables.herd() != next(m["body"] for _p, m in tables.regions() if m["name"] == "herd")
