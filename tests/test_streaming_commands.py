"""``list`` and ``export`` stream: rows read in chunks and written as they come (memory is
measured by ``bench/bench_scale.py``), a progress bar on stderr only when it is a terminal
that the output does not go to, and an export that stops midway leaves no file."""

from __future__ import annotations

import json
import sys

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import ZohoTokenFactory
from tests.helpers import TTY, run_command
from zoho_tokens.management.subcommands import list_

pytestmark = pytest.mark.django_db


@pytest.fixture
def chunked(monkeypatch):
    """Chunks of 2 rows, so three tokens take several round trips."""
    monkeypatch.setattr(list_, "READ_CHUNK", 2)
    monkeypatch.setattr("zoho_tokens.importers.core.READ_CHUNK", 2)


def test_list_json_streams_a_valid_list_in_chunks(chunked, zoho_settings_for):
    rows = [ZohoTokenFactory(tenant="acme") for _ in range(3)]
    code, out, err = run_command("zoho_tokens", "list", "--json")
    assert code == 0
    assert sorted(d["id"] for d in json.loads(out)) == sorted(r.pk for r in rows)
    assert json.loads(out)[0]["refresh_token"].startswith("1000.")  # masked, not a secret
    assert err.strip() == "3 tokens (3 active)"
    code, out, err = run_command("zoho_tokens", "list", "--json", "--tenant", "nobody")
    assert (json.loads(out), err.strip()) == ([], "0 tokens")


def test_list_table_lines_up_in_columns(chunked, zoho_settings_for):
    ZohoTokenFactory(tenant="a-much-longer-tenant-name", user_name="x@example.com:1")
    ZohoTokenFactory(tenant="t", invalid_reason="invalid_code")
    _code, out, _err = run_command("zoho_tokens", "list")
    header, *lines, summary = out.splitlines()
    status_at = header.index("STATUS")
    assert all(line[status_at - 2 : status_at] == "  " for line in lines), out
    assert {line[status_at:].split()[0] for line in lines} == {"active", "invalid"}
    assert summary == "2 tokens (1 active, 1 invalid)"


def test_list_table_reads_no_secret_column(zoho_settings_for):
    """The table shows no secret: it reads none (a third of its time at 100k tokens was
    building whole rows, see bench/results-scale.json)."""
    ZohoTokenFactory(tenant="acme", expiry_time=None)
    ZohoTokenFactory(tenant="acme")
    with CaptureQueriesContext(connection) as ctx:
        code, out, _err = run_command("zoho_tokens", "list")
    assert code == 0 and "unknown" in out and "(in 59 minutes)" in out
    selects = [q["sql"] for q in ctx.captured_queries if "zoho_tokens_zohotoken" in q["sql"]]
    assert selects and not [q for q in selects if 'refresh_token"' in q or "created_at" in q]


def test_progress_bar_only_on_a_terminal_the_output_does_not_go_to(
    chunked, zoho_settings_for, monkeypatch
):
    for _ in range(3):
        ZohoTokenFactory()
    terminal = TTY()
    monkeypatch.setattr(sys, "stderr", terminal)
    run_command("zoho_tokens", "list")  # stdout is a pipe (captured): the bar is drawn
    assert "3/3" in terminal.getvalue() and "2/3" in terminal.getvalue()

    terminal.seek(0), terminal.truncate()
    monkeypatch.setattr(list_, "_is_terminal", lambda stream: True)  # the table is on screen
    run_command("zoho_tokens", "list")
    assert "3/3" not in terminal.getvalue()


def test_export_streams_with_progress_on_a_terminal(
    chunked, zoho_settings_for, tmp_path, monkeypatch
):
    for _ in range(3):
        ZohoTokenFactory()
    terminal = TTY()
    monkeypatch.setattr(sys, "stderr", terminal)
    code, out, _err = run_command("zoho_tokens", "export", str(tmp_path / "x.csv"))
    assert code == 0 and "3 token(s) written" in out
    assert len((tmp_path / "x.csv").read_text().splitlines()) == 4
    assert "3/3" in terminal.getvalue()


@pytest.mark.parametrize("force", [False, True])
def test_an_export_that_cannot_read_a_row_midway_leaves_no_file(
    chunked, zoho_settings_for, settings, tmp_path, force
):
    for _ in range(3):
        ZohoTokenFactory()
    key = Fernet.generate_key().decode()
    settings.ZOHO_TOKENS = {**zoho_settings_for, "ENCRYPTION_KEYS": [key]}
    ZohoTokenFactory()  # the 4th (last) row is on a key that is then taken away
    settings.ZOHO_TOKENS = zoho_settings_for
    target = tmp_path / "x.csv"
    if force:
        target.write_text("keep\n")

    code, _out, err = run_command("zoho_tokens", "export", str(target), *(["--force"] * force))

    assert code == 1 and err.startswith("export failed: ")
    assert list(tmp_path.iterdir()) == ([target] if force else [])
    if force:
        assert target.read_text() == "keep\n"
