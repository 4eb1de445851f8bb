"""``manage.py zoho_login``: in-process (call_command) and as a real ``python manage.py`` child,
against the fake Zoho over HTTP."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest
from django.core.management import CommandError, call_command

from tests.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    ROOT,
    TTY,
    assert_no_secret,
    assert_one_line_failure,
    by_name,
    child_env,
    command_output,
    current_email,
    run_manage,
)
from zoho_tokens.management.commands import zoho_login
from zoho_tokens.models import TokenAuditEvent, ZohoToken
from zoho_tokens.testing.fake_zoho import THROTTLED_BODY, FakeZoho

EMAIL, ZGID = "ann@example.com", "700000042"
USER = f"{EMAIL}:{ZGID}"


def login(*args: str, **options) -> tuple[str, str]:
    return command_output("zoho_login", *args, **options)


class ThrottlingZoho(FakeZoho):
    """Zoho answering every grant exchange with "Access Denied" (too many requests)."""

    def _exchange_code(self, params):
        self.counters.incr("throttled")
        return dict(THROTTLED_BODY)


@pytest.fixture
def throttling_zoho():
    fake = ThrottlingZoho().start()
    yield fake
    fake.stop()


# -- in-process ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_login_stores_the_connection_and_prints_masked_block(fake_zoho, cmd_settings):
    code = fake_zoho.add_grant(email=EMAIL, zgid=ZGID)
    out, err = login("--grant-token", code)

    row = ZohoToken.objects.get()
    assert row.user_name == USER
    assert row.client_id == CLIENT_ID
    assert fake_zoho.is_access_token_valid(row.access_token)
    assert f"token id:      {row.pk}" in out
    assert f"user name:     {USER}" in out
    assert "tenant:        (default)" in out
    assert f"api domain:    {fake_zoho.url}" in out
    assert row.masked("access_token") in out
    assert row.masked("refresh_token") in out
    assert "(in 59 minutes)" in out
    assert err == ""
    assert_no_secret(out, row.access_token, row.refresh_token, code, CLIENT_SECRET)
    event = TokenAuditEvent.objects.get(action="grant_exchanged")
    assert (event.source, event.token_id) == ("command", row.pk)


@pytest.mark.django_db
def test_json_output_is_masked(fake_zoho, cmd_settings):
    code = fake_zoho.add_grant(email=EMAIL, zgid=ZGID)
    out, _ = login("--grant-token", code, "--json", "--tenant", "acme")
    data = json.loads(out)
    row = ZohoToken.objects.get()
    assert data["id"] == row.pk
    assert data["user_name"] == USER
    assert data["tenant"] == "acme" == row.tenant
    assert data["api_domain"] == fake_zoho.url
    assert data["expiry_time"] == row.expiry_time
    assert data["expires_at"].endswith("+00:00")
    assert data["expires_in_minutes"] == 60
    assert data["access_token"] == row.masked("access_token")
    assert data["refresh_token"] == row.masked("refresh_token")
    assert_no_secret(out, row.access_token, row.refresh_token, code, CLIENT_SECRET)


@pytest.mark.django_db
def test_options_override_settings(fake_zoho, cmd_settings):
    cmd_settings.pop("CLIENT_ID")
    cmd_settings.pop("CLIENT_SECRET")
    code = fake_zoho.add_grant(email=EMAIL, zgid=ZGID, client_id="1000.OTHER", client_secret="s3")
    login("--grant-token", code, "--client-id", "1000.OTHER", "--client-secret", "s3")
    assert ZohoToken.objects.get().client_id == "1000.OTHER"


@pytest.mark.django_db
def test_login_again_as_same_user_keeps_one_row(fake_zoho, cmd_settings):
    login("--grant-token", fake_zoho.add_grant(email=EMAIL, zgid=ZGID))
    first = ZohoToken.objects.get()
    login("--grant-token", fake_zoho.add_grant(email=EMAIL, zgid=ZGID))
    second = ZohoToken.objects.get()
    assert second.pk == first.pk
    assert second.refresh_token != first.refresh_token
    assert fake_zoho.counters["grant"] == 2


@pytest.mark.django_db
def test_used_grant_token_fails_with_cause_and_fix(fake_zoho, cmd_settings):
    code = fake_zoho.add_grant(email=EMAIL, zgid=ZGID)
    login("--grant-token", code)
    ZohoToken.objects.all().delete()
    with pytest.raises(CommandError) as exc:
        login("--grant-token", code)
    message = str(exc.value)
    assert exc.value.returncode == 1
    assert "already used or has expired (Zoho: invalid_code)" in message
    assert "generate a new one in the Zoho API console" in message
    assert code not in message
    assert not ZohoToken.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        ("throttled", "Access Denied"),
        ("timeout", "did not answer within"),
        ("unreachable", "cannot reach Zoho Accounts"),
        ("garbage", "without JSON"),
        ("no_client_id", "pass --client-id or set ZOHO_TOKENS['CLIENT_ID']"),
        ("no_client_secret", "pass --client-secret or set ZOHO_TOKENS['CLIENT_SECRET']"),
        ("data_center", "unknown Zoho data center 'mars' in --data-center"),
        ("environment", "unknown Zoho environment 'prod' in --environment"),
    ],
)
def test_failures_raise_one_line_command_error(
    fake_zoho, throttling_zoho, cmd_settings, setup, needle
):
    code = fake_zoho.add_grant(email=EMAIL, zgid=ZGID)
    args = ["--grant-token", code]
    if setup == "throttled":
        cmd_settings["ACCOUNTS_URL"] = throttling_zoho.url
    elif setup == "timeout":
        cmd_settings["HTTP_TIMEOUT"] = 0.3
        fake_zoho.fail_mode = "slow"
    elif setup == "unreachable":
        cmd_settings["ACCOUNTS_URL"] = "http://127.0.0.1:9"
    elif setup == "garbage":
        fake_zoho.fail_mode = "garbage"
    elif setup == "no_client_id":
        cmd_settings.pop("CLIENT_ID")
    elif setup == "no_client_secret":
        cmd_settings.pop("CLIENT_SECRET")
    elif setup == "data_center":
        args += ["--data-center", "mars"]
    elif setup == "environment":
        args += ["--environment", "prod"]
    with pytest.raises(CommandError) as exc:
        login(*args)
    message = str(exc.value)
    assert exc.value.returncode == 1
    assert needle in message
    assert "\n" not in message
    assert_no_secret(message, code, CLIENT_SECRET)
    assert not ZohoToken.objects.exists()


def test_unknown_data_center_from_settings_without_accounts_url(settings):
    settings.ZOHO_TOKENS = {"CLIENT_ID": "c", "CLIENT_SECRET": "s", "DATA_CENTER": "mars"}
    with pytest.raises(CommandError, match="unknown Zoho data center 'mars'"):
        login("--grant-token", "1000.x")


@pytest.mark.django_db
def test_no_grant_token_without_terminal_says_how_to_pass_it(fake_zoho, cmd_settings, monkeypatch):
    monkeypatch.setattr(zoho_login, "getpass", pytest.fail)  # must not prompt
    with pytest.raises(CommandError, match="pass --grant-token CODE"):
        login()
    monkeypatch.setattr(sys, "stdin", TTY())
    with pytest.raises(CommandError, match="pass --grant-token CODE"):
        login("--no-input")
    assert not ZohoToken.objects.exists()


@pytest.mark.django_db
def test_prompts_for_grant_token_with_hidden_input_on_a_terminal(
    fake_zoho, cmd_settings, monkeypatch
):
    code = fake_zoho.add_grant(email=EMAIL, zgid=ZGID)
    prompts: list[str] = []

    def getpass(prompt: str) -> str:
        prompts.append(prompt)
        return code

    monkeypatch.setattr(sys, "stdin", TTY())
    monkeypatch.setattr(zoho_login, "getpass", getpass)
    out, _ = login()
    assert prompts == ["Grant token (input hidden): "]
    assert ZohoToken.objects.get().user_name == USER
    assert code not in out


@pytest.mark.django_db
def test_empty_answer_to_the_prompt_changes_nothing(fake_zoho, cmd_settings, monkeypatch):
    monkeypatch.setattr(sys, "stdin", TTY())
    monkeypatch.setattr(zoho_login, "getpass", lambda prompt: "  ")
    with pytest.raises(CommandError, match="no grant token"):
        login()
    assert fake_zoho.counters["token"] == 0


def test_help_lists_options_and_examples(capsys):
    with pytest.raises(SystemExit):
        call_command("zoho_login", "--help")
    text = capsys.readouterr().out
    for option in (
        "--grant-token CODE",
        "--client-id ID",
        "--client-secret SECRET",
        "--redirect-url URL",
        "--data-center DC",
        "--environment ENV",
        "--accounts-url URL",
        "--tenant TENANT",
        "--no-input",
        "--json",
        "examples:",
    ):
        assert option in text
    # Our options come before Django's common ones.
    assert text.index("--grant-token") < text.index("--settings")


# -- real child processes -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_subprocess_login_then_sdk_uses_the_row_without_another_exchange(
    fake_zoho, cmd_settings, init_sdk
):
    code = fake_zoho.add_grant(email=EMAIL, zgid=ZGID)
    result = run_manage("zoho_login", "--grant-token", code, env=child_env(fake_zoho.url))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    row = ZohoToken.objects.get()
    assert row.user_name == USER
    assert f"user name:     {USER}" in result.stdout
    assert row.masked("refresh_token") in result.stdout
    assert_no_secret(
        result.stdout + result.stderr, row.access_token, row.refresh_token, code, CLIENT_SECRET
    )

    init_sdk(by_name(USER))
    assert current_email() == EMAIL
    assert fake_zoho.counters["grant"] == 1
    assert fake_zoho.counters["refresh"] == 0

    # Logging in again as the same user replaces the row: still one row.
    code2 = fake_zoho.add_grant(email=EMAIL, zgid=ZGID)
    result = run_manage(
        "zoho_login", "--grant-token", code2, "--json", env=child_env(fake_zoho.url)
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id"] == row.pk
    assert ZohoToken.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "case",
    [
        "invalid_code",
        "throttled",
        "unreachable",
        "timeout",
        "no_client_id",
        "no_client_secret",
        "data_center",
        "no_grant_token",
    ],
)
def test_subprocess_failures_are_one_line_exit_1(
    fake_zoho, throttling_zoho, cmd_settings, tmp_path, case
):
    code = fake_zoho.add_grant(email=EMAIL, zgid=ZGID)
    args = ["zoho_login", "--grant-token", code]
    env = child_env(fake_zoho.url)
    needles: tuple[str, ...] = ()
    if case == "invalid_code":
        args[-1] = "1000.0123456789abcdef.fedcba9876543210"
        needles = ("invalid_code", "generate a new one in the Zoho API console")
    elif case == "throttled":
        env = child_env(throttling_zoho.url)
        needles = ("Access Denied", "do not retry")
    elif case == "unreachable":
        url = fake_zoho.url
        fake_zoho.stop()
        env = child_env(url)
        needles = ("cannot reach Zoho Accounts", "check the network")
    elif case == "timeout":
        fake_zoho.fail_mode = "slow"
        settings_dir = tmp_path / "childsettings"
        settings_dir.mkdir()
        (settings_dir / "fast_timeout_settings.py").write_text(
            "from project.settings import *  # noqa\n"
            "ZOHO_TOKENS = {**ZOHO_TOKENS, 'HTTP_TIMEOUT': 0.5}\n"
        )
        env["PYTHONPATH"] = str(settings_dir)
        env["DJANGO_SETTINGS_MODULE"] = "fast_timeout_settings"
        needles = ("did not answer within 0.5 s", "try again later")
    elif case == "no_client_id":
        env.pop("ZOHO_CLIENT_ID")
        needles = ("no client id", "--client-id", "ZOHO_CLIENT_ID")
    elif case == "no_client_secret":
        env.pop("ZOHO_CLIENT_SECRET")
        needles = ("no client secret", "--client-secret", "ZOHO_CLIENT_SECRET")
    elif case == "data_center":
        args += ["--data-center", "mars"]
        needles = ("unknown Zoho data center 'mars'", "use one of us, eu")
    elif case == "no_grant_token":
        args = ["zoho_login"]
        needles = ("no grant token", "pass --grant-token CODE")
    result = run_manage(*args, env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert_one_line_failure(result.stdout, result.stderr, *needles)
    assert_no_secret(result.stdout + result.stderr, code, CLIENT_SECRET)
    assert not ZohoToken.objects.exists()


def test_subprocess_database_not_migrated(fake_zoho, tmp_path):
    empty = tmp_path / "empty.sqlite3"
    code = fake_zoho.add_grant(email=EMAIL, zgid=ZGID)
    env = child_env(fake_zoho.url, DATABASE_URL=f"sqlite:///{empty}")
    result = run_manage("zoho_login", "--grant-token", code, env=env)
    assert result.returncode == 1
    assert_one_line_failure(
        result.stdout, result.stderr, "tables do not exist", "python manage.py migrate"
    )
    assert fake_zoho.counters["grant"] == 0  # the grant token is not spent


@pytest.mark.django_db(transaction=True)
def test_subprocess_prompt_on_a_real_terminal_hides_the_grant_token(fake_zoho, cmd_settings):
    code = fake_zoho.add_grant(email=EMAIL, zgid=ZGID)
    env = child_env(fake_zoho.url)
    # A new session whose controlling terminal is a pseudo-terminal: the child opens it by
    # name after setsid(). Not pty.fork(): forking this multi-threaded process may deadlock
    # the child (Python 3.13 warns).
    fd, terminal = pty.openpty()
    launcher = (
        "import os, sys; os.setsid(); tty = os.open(sys.argv[1], os.O_RDWR); "
        "[os.dup2(tty, n) for n in (0, 1, 2)]; os.execv(sys.executable, [sys.executable, "
        "*sys.argv[2:]])"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", launcher, os.ttyname(terminal), "manage.py", "zoho_login"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    output = b""
    try:
        output = _read_until(fd, b"Grant token (input hidden): ")
    except BaseException:
        child.kill()
        raise
    finally:
        os.close(terminal)  # the child has it open now; once it exits, reads end (EIO)
    try:
        os.write(fd, code.encode() + b"\n")
        output += _read_until(fd, None)
    finally:
        status = child.wait(timeout=60)
        os.close(fd)
    text = output.decode(errors="replace")
    assert status == 0, text
    assert code not in text  # echo was off
    assert f"Connected {USER}" in text
    assert ZohoToken.objects.get().user_name == USER


def _read_until(fd: int, marker: bytes | None, limit: float = 60.0) -> bytes:
    """Read from the terminal until ``marker`` (or end of output); ``limit`` only avoids hangs."""
    data = b""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return data
        if not chunk:
            return data
        data += chunk
        if marker is not None and marker in data:
            return data
    raise AssertionError(f"no {marker!r} from the child; got {data!r}")
