"""Without any Zoho CRM SDK installed (it is an extra) the package imports and says what to do.

Each test runs a fresh interpreter in which ``import zohocrmsdk`` fails, as it does after
``pip install zoho-tokens`` without ``[sdk8]``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

NO_SDK = 'import sys\nsys.modules["zohocrmsdk"] = None  # "import zohocrmsdk" raises ImportError\n'

MANAGE = NO_SDK + (
    "from django.core.management import execute_from_command_line\n"
    'execute_from_command_line(["manage.py", *sys.argv[1:]])\n'
)

IMPORT_ALL = (
    NO_SDK
    + """
import importlib, pkgutil
import django
django.setup()
import zoho_tokens
for module in pkgutil.walk_packages(zoho_tokens.__path__, "zoho_tokens."):
    if ".migrations" not in module.name:
        importlib.import_module(module.name)
from zoho_tokens.exceptions import ConfigurationError
from zoho_tokens.zohosdk import AVAILABLE, Initializer, OAuthToken
assert AVAILABLE is False
for use in (lambda: OAuthToken(id="1"), lambda: Initializer.get_initializer()):
    try:
        use()
    except ConfigurationError as exc:
        print(exc)
    else:
        raise AssertionError("an SDK class worked without the SDK")
"""
)


def run(code: str, *args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_module_imports_and_sdk_classes_say_what_to_install(tmp_path):
    result = run(IMPORT_ALL, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert all('pip install "zoho-tokens[sdk8]"' in line for line in lines)


def test_manage_py_check_reports_e003_without_a_traceback(tmp_path):
    for command in (["check"], ["zoho_tokens", "list"]):
        result = run(MANAGE, *command, tmp_path=tmp_path)
        assert result.returncode == 1, command
        assert "Traceback" not in result.stderr, result.stderr
        assert "(zoho_tokens.E003)" in result.stderr
        assert 'HINT: pip install "zoho-tokens[sdk8]"' in result.stderr
