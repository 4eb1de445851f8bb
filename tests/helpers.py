"""Plain helpers shared by the test modules; the fixtures are in ``conftest.py``.

Why a module of its own: ``conftest.py`` is for fixtures (pytest loads it, nobody imports it),
and no test module imports another, so a helper used by two test modules lives here, once.
``factories.py`` (factory_boy) and ``workers.py`` (child-process entry points, also run by
``bench/``) are helper modules of their own.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature
from zohocrmsdk.src.com.zoho.crm.api.users import UsersOperations
from zohocrmsdk.src.com.zoho.crm.api.users.response_wrapper import ResponseWrapper

from zoho_tokens import signals
from zoho_tokens.models import ZohoToken

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
DOCS = ROOT / "docs"


CHROMIUM_OPTIONS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1760,800",
]


def find_executable(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(driver: Any, name: str, *, docs: bool = False) -> Path:
    """Save the browser's viewport as ``artifacts/<name>``; a ``docs`` screenshot goes to
    ``docs/<name>`` (tracked) only when ``ZOHO_TOKENS_WRITE_SCREENSHOTS=1`` asks for it, so
    a test run leaves ``git status`` clean."""
    write_docs = docs and os.environ.get("ZOHO_TOKENS_WRITE_SCREENSHOTS") == "1"
    folder = DOCS if write_docs else ARTIFACTS
    folder.mkdir(exist_ok=True)
    path = folder / name
    driver.save_screenshot(str(path))
    return path


def set_window_width(driver: Any, width: int, height: int = 900) -> None:
    """Make the page's viewport ``width`` CSS pixels wide (the window adds its own chrome)."""
    driver.set_window_size(width, height)
    inner = driver.execute_script("return window.innerWidth")
    driver.set_window_size(width + (width - inner), height)


def has_horizontal_scroll(driver: Any) -> bool:
    """The page is wider than the viewport (what a horizontal scrollbar means)."""
    return bool(
        driver.execute_script(
            "const e = document.documentElement; return e.scrollWidth > e.clientWidth;"
        )
    )


# The client of ``zoho_settings_for`` (conftest) and of ``child_env``'s child processes.
CLIENT_ID = "1000.TESTCLIENT"
CLIENT_SECRET = "test-client-secret-0123456789"
# A Fernet key (one per run) shared by a test (``cmd_settings``) and its ``manage.py`` children.
KEY = Fernet.generate_key().decode()


def may_connect(user: Any) -> Any:
    """Give ``user`` the permission the web flow asks for (CONNECT_PERMISSION's default)."""
    from django.contrib.auth.models import Permission

    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="zoho_tokens", codename="add_zohotoken")
    )
    return user


def connectors(request: Any, tenant: str) -> bool:
    """A ``CONNECT_PERMISSION`` callable for suites with tenants (a permission name is refused
    there): users holding the add permission may connect any tenant in these tests."""
    return bool(request.user.has_perm("zoho_tokens.add_zohotoken"))


def now_ms() -> int:
    """Epoch milliseconds, the unit of ``ZohoToken.expiry_time`` (computed here, not taken
    from the package, so a wrong unit there fails the tests)."""
    return int(time.time() * 1000)


# -- the test database ------------------------------------------------------------------------


def database_url_for_subprocess() -> str:
    """A DATABASE_URL that makes a child process use the running test database."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    scheme = {"postgresql": "postgres", "mysql": "mysql"}[connection.vendor]
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"{scheme}://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or ''}/{s['NAME']}"


# How to find this connection's server-side id, and how to kill it from another connection.
OWN_CONNECTION = {
    "postgresql": ("SELECT pg_backend_pid()", "SELECT pg_terminate_backend({})"),
    "mysql": ("SELECT CONNECTION_ID()", "KILL {}"),
}


def kill_own_connection() -> None:
    """Break this test's own database connection the way a restart would (never another's)."""
    if connection.vendor == "sqlite":
        connection.connection.close()  # the sqlite3 connection under Django's wrapper
        return
    own_id, _kill = OWN_CONNECTION[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(own_id)
        pid = int(cursor.fetchone()[0])
    kill_connection(pid)


def kill_connection(server_id: int) -> None:
    """Kill one connection of this test run (e.g. a worker's, by the id it reported) from a
    connection of our own, as a database restart or an idle-timeout reaper would."""
    _own_id, kill = OWN_CONNECTION[connection.vendor]
    other = connection.copy()
    with other.cursor() as cursor:
        cursor.execute(kill.format(int(server_id)))
    other.close()


# -- SDK tokens -------------------------------------------------------------------------------


def by_name(user: str | ZohoToken) -> OAuthToken:
    """The SDK's probe for a stored connection: an OAuthToken with only a user name."""
    name = user.user_name if isinstance(user, ZohoToken) else user
    return OAuthToken(user_signature=UserSignature(name))


def oauth_token(
    *,
    user_name: str | None = None,
    access_token: str | None = None,
    expires_in: int | str | None = None,
    api_domain: str | None = None,
    **fields: Any,
) -> OAuthToken:
    """An SDK OAuthToken as the SDK holds one after a login: constructor fields (client,
    refresh/grant token, redirect URL, id) plus the ones only setters take."""
    token = OAuthToken(**fields)
    if access_token is not None:
        token.set_access_token(access_token)
    if expires_in is not None:
        token.set_expires_in(str(expires_in))
    if api_domain is not None:
        token.set_api_domain(api_domain)
    if user_name is not None:
        token.set_user_signature(UserSignature(user_name))
    return token


def crm_users() -> ResponseWrapper:
    """``GET /crm/v8/users`` through the initialised SDK; must succeed."""
    response = UsersOperations().get_users()
    assert response.get_status_code() == 200, response.get_object()
    body = response.get_object()
    assert isinstance(body, ResponseWrapper)
    return body


def current_email() -> str:
    """The e-mail of the Zoho user the SDK is calling CRM as."""
    return crm_users().get_users()[0].get_email()


# -- management commands ----------------------------------------------------------------------


def command_output(command: str, *args: str, **options: Any) -> tuple[str, str]:
    """Run a command in process: (stdout, stderr). CommandError and SystemExit propagate."""
    out, err = io.StringIO(), io.StringIO()
    call_command(command, *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def run_command(command: str, *args: str) -> tuple[int, str, str]:
    """Run a command in process as a shell would see it: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(command, *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def child_env(fake_url: str | None, **extra: str | None) -> dict[str, str]:
    """Environment of a ``manage.py`` child using the test database and the fake Zoho.

    ``extra`` wins; a value of None removes the variable.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZOHO_", "DATABASE_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="project.settings",
        ZOHO_TOKENS_ENCRYPTION_KEYS=KEY,
        ZOHO_CLIENT_ID=CLIENT_ID,
        ZOHO_CLIENT_SECRET=CLIENT_SECRET,
    )
    if fake_url:
        env.update(ZOHO_ACCOUNTS_URL=fake_url, ZOHO_API_DOMAIN=fake_url)
    if "DATABASE_URL" not in extra:
        env["DATABASE_URL"] = database_url_for_subprocess()
    env.update(extra)  # type: ignore[arg-type]
    return {k: v for k, v in env.items() if v is not None}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python manage.py <args>`` as a real child process (forked from the preloaded test
    fork server, tests/zygote.py), no terminal, output captured."""
    from tests import zygote

    return zygote.run(["manage.py", *args], env=env, cwd=str(ROOT), timeout=120)


class TTY(io.StringIO):
    """Standard input that says it is a terminal (commands then ask before acting)."""

    def isatty(self) -> bool:
        return True


class ZohoTokensSettings:
    """``ZOHO_TOKENS`` of the test; item assignment and ``pop`` re-assign the Django setting so
    the app's settings cache reloads."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def __setitem__(self, key: str, value: Any) -> None:
        self.settings.ZOHO_TOKENS = {**self.settings.ZOHO_TOKENS, key: value}

    def pop(self, key: str) -> None:
        self.settings.ZOHO_TOKENS = {k: v for k, v in self.settings.ZOHO_TOKENS.items() if k != key}


# -- secrets in output ------------------------------------------------------------------------


def secrets_of(*rows: ZohoToken) -> list[str]:
    """Every secret a stored row holds (client secret, refresh, access and grant token)."""
    fields = ("client_secret", "refresh_token", "access_token", "grant_token")
    return [value for row in rows for value in (getattr(row, f) for f in fields) if value]


def assert_no_secret(text: str | Iterable[Any], *secrets: str | None, where: str = "") -> str:
    """Fail if any non-empty secret occurs in ``text`` (a string or several things, joined).

    The failure names the position of the secret, never the secret, and ``where`` it leaked.
    """
    blob = text if isinstance(text, str) else "\n".join(str(t) for t in text)
    for n, secret in enumerate(secrets):
        if secret:
            assert secret not in blob, f"secret #{n} leaked{' into ' + where if where else ''}"
    return blob


def assert_one_line_failure(stdout: str, stderr: str, *needles: str) -> str:
    """A user mistake or outage: one line on stderr holding ``needles``, no traceback."""
    assert "Traceback" not in stdout + stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# -- signals ----------------------------------------------------------------------------------

ALL_SIGNALS = {
    "token_saved": signals.token_saved,
    "token_refreshed": signals.token_refreshed,
    "grant_exchanged": signals.grant_exchanged,
    "token_revoked": signals.token_revoked,
    "token_deleted": signals.token_deleted,
    "tokens_purged": signals.tokens_purged,
    "token_refresh_failed": signals.token_refresh_failed,
    "token_invalidated": signals.token_invalidated,
    "token_recovered": signals.token_recovered,
}


class Recorder:
    """Records every zoho_tokens signal sent (sender must be ZohoToken) until ``close()``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self._receivers: list[tuple[Any, Any]] = []
        for name, signal in ALL_SIGNALS.items():

            def receiver(sender, _name=name, **kwargs):
                assert sender is ZohoToken
                kwargs.pop("signal", None)
                self.calls.append((_name, kwargs))

            signal.connect(receiver, weak=False)
            self._receivers.append((signal, receiver))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def one(self, name: str) -> dict:
        found = [kw for n, kw in self.calls if n == name]
        assert len(found) == 1, (name, self.names())
        return found[0]

    def close(self) -> None:
        for signal, receiver in self._receivers:
            signal.disconnect(receiver)


# -- admin and web flow -----------------------------------------------------------------------


def changelist_url() -> str:
    return reverse("admin:zoho_tokens_zohotoken_changelist")


def change_url(row: ZohoToken) -> str:
    return reverse("admin:zoho_tokens_zohotoken_change", args=[row.pk])


def add_url() -> str:
    return reverse("admin:zoho_tokens_zohotoken_add")


def run_action(client: Any, action: str, rows: Iterable[ZohoToken], **extra: Any) -> Any:
    """POST an admin action on the token changelist, following the redirect."""
    data = {
        "action": action,
        "_selected_action": [r.pk for r in rows],
        "index": "0",
        "select_across": "0",
        **extra,
    }
    return client.post(changelist_url(), data, follow=True)


def start_connect(client: Any) -> tuple[str, dict[str, str]]:
    """GET ``zoho_tokens:connect``; return the Zoho URL it redirects to and its query."""
    response = client.get(reverse("zoho_tokens:connect"))
    assert response.status_code == 302
    location = response["Location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return location, query


def tenant_from_header(request: Any) -> str | None:
    """A ``TENANT_RESOLVER`` for tests: ``tests.helpers.tenant_from_header``."""
    return request.headers.get("X-Tenant")


# -- a webhook receiver ------------------------------------------------------------------------


class Hook:
    """A webhook receiver on 127.0.0.1: records (headers, body); ``status`` to answer with;
    ``hang`` makes every request wait until ``release`` is set."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        self.hang = False
        self.release = threading.Event()
        self.entered = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.received.append((dict(self.headers.items()), body))
                hook.entered.set()
                if hook.hang:
                    hook.release.wait(30)
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def exceptions_in(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything chained to it: ``__cause__``, ``__context__`` (even suppressed)
    and an SDKException's ``cause``: what an error report can show."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        cause = getattr(current, "cause", None)
        stack += [current.__cause__, current.__context__]
        if isinstance(cause, BaseException):
            stack.append(cause)
