"""The README's quick start, followed as written, in a new project and virtual environment.

A fresh Python 3.13 virtual environment gets Django 6.1 and ``django-admin startproject
mysite``; then every block marked ``<!-- install: NAME -->`` in the README and the docs
(``docs/how-to/install.md``, ``docs/how-to/testing.md``; a block may include a
``docs/examples`` file) runs as pasted: the pip line (``zoho-tokens[sdk8]`` from the wheel
this checkout builds, or the one in ``ZOHO_TOKENS_DIST`` that CI built, as the package index
would serve it), the settings and URLs appended to the project's files, the commands, and the
testing examples (pytest-django, the fake Zoho: each must pass). Then ``check --deploy`` with
a dedicated key and the usual deploy settings from the environment, and the SDK-major checks
on real installs.

Needs pyenv's Python 3.13 (or ``ZOHO_TOKENS_INSTALL_PYTHON``) and the package index, and takes
a minute or two, so it is deselected by default (``addopts``); CI runs it with ``-m install``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENT = '"zoho-tokens[sdk8]"'
PAGES = ["README.md", "docs/how-to/install.md", "docs/how-to/testing.md"]
BLOCK = re.compile(r"<!-- install: ([\w-]+) -->\n```(\w+)\n(.*?)\n```", re.S)
INCLUDE = re.compile(r'^--8<-- "([^"]+)"$')

# The deploy settings a real project reads from its environment (not zoho-tokens' business,
# so not in the README): with them ``check --deploy`` has nothing of Django's to report.
DEPLOY_SETTINGS = """

# -- deploy settings of this test project ------------------------------------------------
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", SECRET_KEY)
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost").split(",")
SECURE_SSL_REDIRECT = os.environ.get("DJANGO_SECURE", "0") == "1"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
if "MAILERS" in globals():  # Django 6.1's startproject: a console backend
    MAILERS["default"]["BACKEND"] = os.environ.get(
        "DJANGO_EMAIL_BACKEND", MAILERS["default"]["BACKEND"]
    )
"""


def readme_blocks() -> dict[str, str]:
    """The marked blocks of the README and the docs pages; an include is the file's text."""
    found: dict[str, str] = {}
    for page in PAGES:
        for name, _language, body in BLOCK.findall((ROOT / page).read_text()):
            assert name not in found, f"two blocks are marked {name!r}"
            included = INCLUDE.match(body.strip())
            found[name] = (ROOT / included[1]).read_text() if included else body + "\n"
    return found


def built_wheel(checkout: Path, work: Path) -> Path:
    """The wheel CI built (``ZOHO_TOKENS_DIST``), else one built from ``checkout``."""
    dist = os.environ.get("ZOHO_TOKENS_DIST")
    if dist:
        (wheel,) = Path(dist).glob("zoho_tokens-*.whl")
        return wheel
    subprocess.run(
        ["python3", "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work), str(checkout)],
        check=True,
        timeout=600,
    )
    (wheel,) = work.glob("zoho_tokens-*.whl")
    return wheel


def python313() -> str | None:
    configured = os.environ.get("ZOHO_TOKENS_INSTALL_PYTHON")
    if configured:
        return configured
    if shutil.which("pyenv"):
        result = subprocess.run(
            ["pyenv", "which", "python3.13"],
            env={**os.environ, "PYENV_VERSION": "3.13.0"},
            capture_output=True,
            text=True,
        )
        if result.returncode == 0:
            return result.stdout.strip()
    return shutil.which("python3.13")


def copy_checkout(target: Path) -> Path:
    """What a commit of this tree holds (tracked and new files, nothing ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


class Project:
    """A shell in ``cwd`` with the virtual environment activated (its bin first on PATH)."""

    def __init__(self, venv: Path, cwd: Path) -> None:
        self.cwd = cwd
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ZOHO_"))},
            "VIRTUAL_ENV": str(venv),
            "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
        self.env.pop("PYTHONPATH", None)

    def sh(self, script: str, ok: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=self.cwd,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=600,
        )
        if ok:
            assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
        return result


def test_readme_install_section_works_in_a_new_project(tmp_path):
    interpreter = python313()
    if interpreter is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Python 3.13 not found (pyenv 3.13.0 or ZOHO_TOKENS_INSTALL_PYTHON)")
        pytest.skip("Python 3.13 not found (pyenv 3.13.0 or ZOHO_TOKENS_INSTALL_PYTHON)")
    blocks = readme_blocks()
    assert {"pip", "settings", "urls", "commands"} <= set(blocks)
    assert {"test-setup", "test-conftest", "test-module", "test-leads", "test-expiry"} <= set(
        blocks
    )
    assert REQUIREMENT in blocks["pip"]
    wheel = built_wheel(copy_checkout(tmp_path / "zoho-tokens"), tmp_path / "wheel")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith("/LICENSE") for n in names)
    assert "zoho_tokens/migrations/0001_initial.py" in names
    assert "zoho_tokens/py.typed" in names

    venv = tmp_path / "venv"
    subprocess.run([interpreter, "-m", "venv", str(venv)], check=True, timeout=300)
    shell = Project(venv, tmp_path)
    shell.sh('python -m pip install -q "Django>=6.1,<6.2"')
    shell.sh("django-admin startproject mysite")
    project = Project(venv, tmp_path / "mysite")
    settings_py = project.cwd / "mysite" / "settings.py"

    # -- the README, as written (the index's zoho-tokens is the wheel of this checkout) -----
    project.sh(blocks["pip"].replace(REQUIREMENT, f'"zoho-tokens[sdk8] @ {wheel.as_uri()}"'))
    versions = project.sh("python -m pip list --format=freeze").stdout
    assert re.search(r"^Django==6\.1\.", versions, re.M), versions
    assert re.search(r"^zohocrmsdk8_0==7\.", versions, re.M), versions

    with settings_py.open("a") as f:
        f.write("\n" + blocks["settings"])
    with (project.cwd / "mysite" / "urls.py").open("a") as f:
        f.write("\n" + blocks["urls"])

    key = Fernet.generate_key().decode()
    commands = project.sh(blocks["commands"])  # the block makes and exports its own key
    assert "System check identified no issues" in commands.stdout
    assert commands.stdout.rstrip().endswith("0 tokens")
    assert "W001" not in commands.stdout + commands.stderr  # the block sets the key it makes
    assert "Traceback" not in commands.stderr

    # -- the testing snippet: pytest-django, the fake Zoho, the real SDK ---------------------
    project.sh(blocks["test-setup"])
    (project.cwd / "conftest.py").write_text(blocks["test-conftest"])
    (project.cwd / "test_zoho.py").write_text(blocks["test-module"])
    (project.cwd / "test_leads.py").write_text(blocks["test-leads"])
    (project.cwd / "test_expiry.py").write_text(blocks["test-expiry"])
    tests = project.sh("python -m pytest -q -p no:cacheprovider")
    assert "3 passed" in tests.stdout, tests.stdout

    # -- check --deploy: a dedicated key and the usual deploy settings -----------------------
    with settings_py.open("a") as f:
        f.write(DEPLOY_SETTINGS)
    deploy = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "crm.example.com",
        "DJANGO_SECURE": "1",
        "DJANGO_HSTS_SECONDS": "31536000",
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    }
    check = "python manage.py check --deploy --fail-level WARNING"
    without_key = project.sh(check, False, **deploy)
    assert without_key.returncode == 1
    assert "(zoho_tokens.E002)" in without_key.stderr
    assert "ZOHO_TOKENS['ENCRYPTION_KEYS']" in without_key.stderr
    deployed = project.sh(check, True, **deploy, ZOHO_TOKENS_ENCRYPTION_KEYS=key)
    assert "System check identified no issues" in deployed.stdout
    listed = project.sh(
        "python manage.py zoho_tokens list", True, **deploy, ZOHO_TOKENS_ENCRYPTION_KEYS=key
    )
    assert listed.stdout.strip() == "0 tokens"

    # -- one SDK major per environment, on real installs -------------------------------------
    project.sh('python -m pip install -q "zohocrmsdk7_0>=6,<7"')
    two = project.sh("python manage.py check", ok=False, ZOHO_TOKENS_ENCRYPTION_KEYS=key)
    assert two.returncode == 1 and "Traceback" not in two.stderr
    assert "(zoho_tokens.E008)" in two.stderr
    assert "pip uninstall -y zohocrmsdk7_0 zohocrmsdk8_0" in two.stderr
    project.sh("python -m pip uninstall -q -y zohocrmsdk7_0 zohocrmsdk8_0")
    none = project.sh("python manage.py check", ok=False, ZOHO_TOKENS_ENCRYPTION_KEYS=key)
    assert none.returncode == 1 and "Traceback" not in none.stderr
    assert "(zoho_tokens.E003)" in none.stderr
