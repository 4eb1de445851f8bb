"""Child-process entry points for the multi-process tests and ``bench/bench_herd.py``.

Run as ``python -m tests.workers <command> ...`` with ``DJANGO_SETTINGS_MODULE`` and
``DATABASE_URL`` set. Every command is a real OS process with its own database connection,
its own SDK initializer and its own HTTP client, as a web worker or Celery worker would be.

Barrier protocol (so that all workers really start together, without sleeping on a clock):
the worker prints ``ready`` once set up, then waits for a line on stdin. ``go`` runs one
round and prints one JSON line; end of input exits. No secret is ever printed: access tokens
are reported as their SHA-256 checksum.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import signal
import sys
import threading
import time
import traceback
from typing import Any


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    if os.environ.get("ZOHO_TOKENS_TEST_SIGNAL_LOG"):
        _log_lifecycle_signals(os.environ["ZOHO_TOKENS_TEST_SIGNAL_LOG"])


def _log_lifecycle_signals(path: str) -> None:
    """Append one JSON line per lifecycle signal this process sends to ``path`` (the parent
    counts them across workers); ``O_APPEND`` writes of a short line do not interleave."""
    from zoho_tokens import signals

    def receiver(sender: Any, signal: Any, token: Any, **kwargs: Any) -> None:
        name = next(n for n in NAMES if getattr(signals, n) is signal)
        line = json.dumps({"signal": name, "token_id": token.pk, "pid": os.getpid(), **kwargs})
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)

    for name in NAMES:
        getattr(signals, name).connect(receiver, weak=False)


NAMES = ("token_refresh_failed", "token_invalidated", "token_recovered")


def _rounds():
    """Yield once per ``go`` line on stdin; stop at end of input."""
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "go":
            yield
        elif line.strip() == "quit":
            return


def _report(**values: Any) -> None:
    print(json.dumps(values), flush=True)


def _error(exc: BaseException) -> str:
    """One safe line: exception type and message (our messages and the SDK's hold no secret)."""
    message = getattr(exc, "error_message", None) or str(exc)
    code = getattr(exc, "code", None)
    text = f"{type(exc).__name__}: {code + ': ' if code else ''}{message}"
    cause = getattr(exc, "cause", None) or exc.__cause__
    if cause is not None:
        text += f" (cause: {type(cause).__name__}: {cause})"
    return text[:500]


def _store(args: argparse.Namespace):
    if args.store == "file":
        from zohocrmsdk.src.com.zoho.api.authenticator.store.file_store import FileStore

        return FileStore(args.file_path)
    from zoho_tokens.store import DjangoTokenStore

    return DjangoTokenStore()


def _initialize(args: argparse.Namespace) -> None:
    from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
    from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
    from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
    from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

    Initializer.initializer = None
    environment = DataCenter.Environment(
        args.fake_url, args.fake_url + "/oauth/v2/token", args.fake_url
    )
    Initializer.initialize(
        environment=environment,
        token=OAuthToken(user_signature=UserSignature(args.user)),
        store=_store(args),
        resource_path=args.resource_path,
    )


def herd(args: argparse.Namespace) -> None:
    """One CRM call through the real SDK per round (``GET /crm/v8/users``)."""
    from zohocrmsdk.src.com.zoho.crm.api.users import UsersOperations
    from zohocrmsdk.src.com.zoho.crm.api.users.response_wrapper import ResponseWrapper

    if args.store == "django":
        _setup_django()
    initialized = False
    if not args.init_each_round:
        try:
            _initialize(args)
            initialized = True
        except Exception as exc:
            _report(ok=False, error="initialize: " + _error(exc))
    for _ in _rounds():
        try:
            if args.init_each_round or not initialized:
                _initialize(args)
                initialized = True
            response = UsersOperations().get_users()
            body = response.get_object()
            ok = response.get_status_code() == 200 and isinstance(body, ResponseWrapper)
            error = "" if ok else f"HTTP {response.get_status_code()}: {_api_error(body)}"
            _report(ok=ok, error=error)
        except Exception as exc:
            _report(ok=False, error=_error(exc))


def http(args: argparse.Namespace) -> None:
    """One ``requests`` call with ``zoho_tokens.http.ZohoAuth`` per round (not the SDK)."""
    import requests

    _setup_django()
    from zoho_tokens.http import ZohoAuth

    auth = ZohoAuth(user_name=args.user)
    for _ in _rounds():
        try:
            response = requests.get(args.url, auth=auth, timeout=10)
            ok = response.status_code == 200
            _report(ok=ok, error="" if ok else f"HTTP {response.status_code}: {response.text}")
        except Exception as exc:
            _report(ok=False, error=_error(exc))


def fake(args: argparse.Namespace) -> None:
    """A fake Zoho in a process of its own (its request threads then do not compete with the
    test's event loop for the GIL): knows one refresh token, prints its URL and an access
    token as one JSON line, serves until stdin closes. Drop a token and read the counters
    over HTTP (``/fake/access-tokens/drop``, ``/fake/counters``)."""
    from zoho_tokens.testing import FakeZoho

    with FakeZoho(refresh_limit=args.refresh_limit) as zoho:
        zoho.add_refresh_token(
            args.refresh_token,
            email=args.email,
            zgid=args.zgid,
            client_id=args.client_id,
            client_secret=args.client_secret,
            scope=args.scope,
        )
        _report(url=zoho.url, access_token=zoho.issue_access_token(args.refresh_token))
        sys.stdin.read()


def _api_error(body: Any) -> str:
    for getter in ("get_message", "get_code"):
        method = getattr(body, getter, None)
        if method is not None:
            value = method()
            return str(value.get_value() if hasattr(value, "get_value") else value)
    return type(body).__name__


def save(args: argparse.Namespace) -> None:
    """Save a fresh OAuthToken for ``--user`` with this worker's own access token."""
    _setup_django()
    from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
    from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

    from zoho_tokens.store import DjangoTokenStore

    for _ in _rounds():
        try:
            token = OAuthToken(
                client_id="1000.CONCURRENT",
                client_secret="concurrent-secret",
                refresh_token=args.refresh_token,
                user_signature=UserSignature(args.user),
            )
            token.set_access_token(args.access_token)
            token.set_expires_in(str(args.expires_in))
            token.set_api_domain("https://www.zohoapis.com")
            DjangoTokenStore().save_token(token)
            _report(ok=True, error="", id=token.get_id())
        except Exception as exc:
            _report(ok=False, error=_error(exc))


def find(args: argparse.Namespace) -> None:
    """``DjangoTokenStore().find_token`` by user name; prints the access token's checksum."""
    _setup_django()
    from django.db import connection
    from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
    from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

    from zoho_tokens import crypto
    from zoho_tokens.store import DjangoTokenStore

    connection.ensure_connection()  # before the barrier: a round measures only the store
    for _ in _rounds():
        try:
            token = OAuthToken(user_signature=UserSignature(args.user))
            found = DjangoTokenStore().find_token(token)
            _report(
                ok=found is not None,
                error="" if found is not None else "not found",
                access_checksum=crypto.checksum(found.get_access_token()) if found else "",
                expires_in=found.get_expires_in() if found else None,
            )
        except Exception as exc:
            _report(ok=False, error=_error(exc))


def _db_id() -> int | None:
    """This process's server-side connection id (PostgreSQL backend pid, MariaDB thread id)."""
    from django.db import connection

    query = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}
    if connection.vendor not in query:
        return None
    try:
        with connection.cursor() as cursor:
            cursor.execute(query[connection.vendor])
            return int(cursor.fetchone()[0])
    except Exception:
        return None


RUN_SECONDS = 0.25


def _record(runs: list[list[Any]], start: float, end: float, ok: bool, error: str) -> None:
    """Calls as runs of equal outcome (times in epoch seconds), each within ``RUN_SECONDS``:
    ``[first call's start, first call's end, last call's start, ok, count, first error]``."""
    last = runs[-1] if runs else None
    if (
        last is not None
        and last[3] == ok
        and (ok or last[5] == error)
        and start - last[0] < RUN_SECONDS
    ):
        runs[-1][2] = start
        runs[-1][4] += 1
    else:
        runs.append([start, end, start, ok, 1, error])


def loop(args: argparse.Namespace) -> None:
    """Store calls in a loop, as a long-lived (Celery-like) worker makes them.

    ``go`` starts calling ``DjangoTokenStore().find_token`` by user name every ``--interval``
    seconds, outside any request cycle (nobody calls ``close_old_connections``); ``stop``
    ends the loop and prints the calls as runs of equal outcome with their start times
    (epoch seconds). A call is ok when it hands out an access token that has not expired.
    The first line is ``{"hello": true, "pid": ..., "db_id": ...}``. On SQLite, SIGUSR1
    closes the process's own sqlite3 connection under Django (a lost database handle).
    """
    _setup_django()
    from django.db import connection
    from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
    from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

    from zoho_tokens.store import DjangoTokenStore

    def lose_connection(*_: Any) -> None:
        if connection.vendor == "sqlite" and connection.connection is not None:
            connection.connection.close()

    signal.signal(signal.SIGUSR1, lose_connection)
    connection.ensure_connection()
    commands: queue.Queue[str] = queue.Queue()

    def read_commands() -> None:
        for line in sys.stdin:
            commands.put(line.strip())
        commands.put("quit")

    _report(hello=True, pid=os.getpid(), db_id=_db_id())
    print("ready", flush=True)
    threading.Thread(target=read_commands, daemon=True).start()
    store = DjangoTokenStore()
    while True:
        command = commands.get()
        if command == "quit":
            return
        if command != "go":
            continue
        runs: list[list[Any]] = []
        longest = 0.0
        while True:
            with contextlib.suppress(queue.Empty):
                command = commands.get_nowait()
            if command in ("stop", "quit"):
                break
            start = time.time()
            try:
                found = store.find_token(OAuthToken(user_signature=UserSignature(args.user)))
                expiry = int(found.get_expires_in()) if found is not None else 0
                ok = expiry > time.time() * 1000
                error = "" if ok else ("not found" if found is None else "expired token")
            except Exception as exc:
                ok, error = False, _error(exc)
            end = time.time()
            longest = max(longest, end - start)
            _record(runs, start, end, ok, error)
            time.sleep(args.interval)
        _report(
            pid=os.getpid(),
            db_id=_db_id(),
            runs=runs,
            calls=sum(r[4] for r in runs),
            failed=sum(r[4] for r in runs if not r[3]),
            longest_call=round(longest, 3),
        )
        if command == "quit":
            return


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.workers")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("herd", help="one CRM call through the SDK per round")
    p.add_argument("--store", choices=["django", "file"], default="django")
    p.add_argument("--file-path", help="CSV file of the SDK's FileStore (--store file)")
    p.add_argument("--user", required=True)
    p.add_argument("--fake-url", required=True)
    p.add_argument("--resource-path", required=True)
    p.add_argument("--init-each-round", action="store_true")
    p.set_defaults(func=herd)

    p = sub.add_parser("http", help="one requests call with ZohoAuth per round")
    p.add_argument("--user", required=True)
    p.add_argument("--url", required=True)
    p.set_defaults(func=http)

    p = sub.add_parser("fake", help="a fake Zoho in its own process")
    for name in ("refresh-token", "email", "zgid", "client-id", "client-secret", "scope"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--refresh-limit", type=int, default=10, help="refreshes per 10 minutes")
    p.set_defaults(func=fake)

    p = sub.add_parser("save", help="save a token for a user")
    p.add_argument("--user", required=True)
    p.add_argument("--access-token", required=True)
    p.add_argument("--refresh-token", required=True)
    p.add_argument("--expires-in", type=int, required=True)
    p.set_defaults(func=save)

    p = sub.add_parser("find", help="find_token by user name")
    p.add_argument("--user", required=True)
    p.set_defaults(func=find)

    p = sub.add_parser("loop", help="find_token in a loop between go and stop")
    p.add_argument("--user", required=True)
    p.add_argument("--interval", type=float, default=0.01)
    p.set_defaults(func=loop)

    args = parser.parse_args(argv)
    try:
        args.func(args)
    except Exception:
        traceback.print_exc()
        sys.exit(1)


# -- parent side ---------------------------------------------------------------------------


def calls_in(reports: list[dict[str, Any]], start: float, end: float, *, ok: bool) -> int:
    """Calls of ``loop`` reports that started in [start, end) and succeeded (``ok``) or not
    (to ``RUN_SECONDS``: a run is counted by its first call's start)."""
    return sum(r[4] for rep in reports for r in rep["runs"] if r[3] == ok and start <= r[0] < end)


def errors_in(reports: list[dict[str, Any]]) -> dict[str, int]:
    found: dict[str, int] = {}
    for rep in reports:
        for r in rep["runs"]:
            if not r[3]:
                found[r[5][:160]] = found.get(r[5][:160], 0) + r[4]
    return found


def first_success_after(reports: list[dict[str, Any]], t: float) -> float | None:
    """When the first call that succeeded after ``t`` ended (``t`` itself when calls were
    succeeding across ``t``); None if none did."""
    ends = []
    for rep in reports:
        for r in rep["runs"]:
            if r[3] and r[1] >= t:
                ends.append(r[1])
            elif r[3] and r[2] >= t:
                ends.append(t)  # succeeding across t
    return min(ends) if ends else None


class Workers:
    """Start ``n`` worker processes of one command and drive them round by round.

    ``round()`` sends ``go`` to every worker at once (after all printed ``ready``) and returns
    their JSON answers. Use as a context manager; stdin is closed and processes reaped at exit.
    """

    def __init__(self, n: int, argv: list[str], env: dict[str, str], timeout: float = 60) -> None:
        from tests import zygote

        full_env = {**os.environ, **env, "PYTHONPATH": zygote.ROOT}
        self.timeout = timeout
        self._lines: dict[int, queue.Queue[str]] = {}
        self.procs = [zygote.spawn(["-m", "tests.workers", *argv], full_env) for _ in range(n)]

    def __enter__(self) -> Workers:
        self.early: list[dict[str, Any]] = []
        for proc in self.procs:
            while True:
                line = self._readline(proc)
                if line == "ready":
                    break
                self.early.append(json.loads(line))
        return self

    def _readline(self, proc: Any) -> str:
        # One reader thread per worker: select() on the pipe would miss lines already in
        # the reader's buffer (two lines written at once).
        if proc.pid not in self._lines:
            lines: queue.Queue[str] = queue.Queue()
            self._lines[proc.pid] = lines

            def pump() -> None:
                with contextlib.suppress(ValueError, OSError):
                    for line in proc.stdout:
                        lines.put(line)
                lines.put("")

            threading.Thread(target=pump, daemon=True).start()
        try:
            line = self._lines[proc.pid].get(timeout=self.timeout)
        except queue.Empty:
            line = ""
        if not line:
            proc.kill()
            raise RuntimeError(f"worker {proc.pid} died or hung: {proc.stderr.read()[-2000:]}")
        return line.strip()

    def send(self, proc: Any, command: str = "go") -> None:
        proc.stdin.write(command + "\n")
        proc.stdin.flush()

    def hello(self, proc: Any) -> dict[str, Any]:
        """The first line of a ``loop`` worker: its pid and database connection id."""
        return next(h for h in self.early if h.get("hello") and h["pid"] == proc.pid)

    def start_all(self) -> float:
        """``go`` to every worker (``loop``); returns the time it was sent (epoch seconds)."""
        for proc in self.procs:
            self.send(proc)
        return time.time()

    def stop_all(self, procs: list[Any] | None = None) -> list[dict[str, Any]]:
        """``stop`` to every (living) worker of ``procs``; their reports."""
        alive = [p for p in (procs or self.procs) if p.poll() is None]
        for proc in alive:
            self.send(proc, "stop")
        return [self.read(proc) for proc in alive]

    def read(self, proc: Any) -> dict[str, Any]:
        return json.loads(self._readline(proc))

    def round(self) -> list[dict[str, Any]]:
        for proc in self.procs:
            self.send(proc)
        return [self.read(proc) for proc in self.procs]

    def __exit__(self, *exc: Any) -> None:
        for proc in self.procs:
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.close()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except Exception:
                proc.kill()
            proc.stdout.close()
            proc.stderr.close()


if __name__ == "__main__":
    main()
