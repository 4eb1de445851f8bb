"""The demo project is safe by default (issue 14, point 7).

``project/settings.py`` defaults to ``DEBUG=False`` and has no public ``SECRET_KEY``: a server
(WSGI, ASGI, runserver) refuses to start without one unless ``DEBUG`` is on, in which case the
process gets a random key of its own. ``python -m project.demo`` turns ``DEBUG`` on and picks
a random ``SECRET_KEY`` for its own process only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import run_manage

ROOT = Path(__file__).resolve().parent.parent
OLD_PUBLIC_KEY = "django-insecure-zoho-tokens-demo-only-change-me"


def run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE") and not k.startswith("ZOHO_")
    }
    base.update(DJANGO_SETTINGS_MODULE="project.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


SHOW = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DEBUG); print(settings.SECRET_KEY)"
)


def test_debug_is_off_and_there_is_no_public_secret_key_by_default(tmp_path):
    result = run(
        "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)",
        DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False"]
    text = (ROOT / "project" / "settings.py").read_text()
    assert OLD_PUBLIC_KEY not in text
    assert "django-insecure-" not in text


def test_a_server_refuses_to_start_without_a_secret_key(tmp_path):
    for module in ("project.wsgi", "project.asgi"):
        result = run(f"import {module}", DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}")
        assert result.returncode != 0, module
        last = result.stderr.strip().splitlines()[-1]
        assert "SECRET_KEY" in last and "DEBUG" in last, last


def test_with_debug_each_process_gets_a_random_key(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    first = run(SHOW + "; import project.wsgi", DEBUG="1", DATABASE_URL=url)
    second = run(SHOW, DEBUG="1", DATABASE_URL=url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == "True"
    key_one, key_two = first.stdout.splitlines()[1], second.stdout.splitlines()[1]
    assert key_one != key_two
    assert len(key_one) >= 50


def test_a_configured_secret_key_is_used(tmp_path):
    result = run(SHOW, SECRET_KEY="k" * 60, DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert result.stdout.splitlines() == ["False", "k" * 60]


def test_tooling_works_without_a_secret_key(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DEBUG", "SECRET_KEY") and not k.startswith("ZOHO_")
    }
    env.update(DJANGO_SETTINGS_MODULE="project.settings")
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    for args in (["makemigrations", "--check", "--dry-run"], ["migrate", "-v", "0"]):
        result = run_manage(*args, env=env)
        assert result.returncode == 0, (args, result.stdout, result.stderr)


def test_the_demo_turns_debug_on_with_a_random_key_for_its_process_only():
    from project.demo import demo_environment

    one, two = demo_environment({}), demo_environment({})
    assert one["DEBUG"] == "1"
    assert one["SECRET_KEY"] != two["SECRET_KEY"]
    assert len(one["SECRET_KEY"]) >= 50
    assert OLD_PUBLIC_KEY not in (one["SECRET_KEY"], two["SECRET_KEY"])
    assert demo_environment({"SECRET_KEY": "mine" * 20})["SECRET_KEY"] == "mine" * 20
    assert "SECRET_KEY" not in os.environ or os.environ["SECRET_KEY"] != one["SECRET_KEY"]
