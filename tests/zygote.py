"""Worker processes forked from a preloaded parent, as gunicorn ``--preload`` and Celery's
prefork pool start theirs.

Why: a fresh interpreter spends about 1 CPU second importing Django and the Zoho SDK (the
SDK's package imports every API module) before a worker does anything, and the
multi-process tests start about 150 workers: on CI's two cores that was a third of the
suite. Here one server process per test process imports those modules once (and nothing
that reads settings or opens a connection), then forks a child per worker. Each child is a
real OS process with its own pid, environment, working directory, stdio pipes, database
connection and SDK initializer, exactly like a ``python -m tests.workers`` process.

The same serves ``manage.py`` children (:func:`run`): a command's output, exit status and
errors do not depend on how its interpreter started; the tests about a fresh interpreter
(imports, settings, the demo) start real ones.

Protocol: the test process connects to the server's Unix socket, sends one JSON line
(``argv`` after ``python``, ``env``, ``cwd``) with its three pipe ends attached (``SCM_RIGHTS``); the server
forks, answers ``pid N``, and later ``exit CODE`` (negative: killed by that signal, as
:class:`subprocess.Popen` reports it). :class:`ForkedProcess` is the Popen-like handle.

Set ``ZOHO_TOKENS_TEST_FRESH_INTERPRETERS=1`` to start fresh interpreters instead.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import runpy
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

ROOT = str(Path(__file__).resolve().parent.parent)
PRELOAD = (
    "django",
    "django.db.models",
    "django.core.management",
    "django.contrib.admin",
    "requests",
    "cryptography.fernet",
    "zohocrmsdk.src.com.zoho.crm.api",
    "zohocrmsdk.src.com.zoho.api.authenticator.oauth_token",
)


# -- server side (python -m tests.zygote SOCKET) ---------------------------------------------


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _child(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: become ``python ARGV`` (``-m MODULE ...`` or ``SCRIPT ...``), then
    exit with its status (never return)."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 (the process's own stdio)
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        # What a new interpreter would take from PYTHONPATH (a test's own settings module).
        extra = [e for e in os.environ.get("PYTHONPATH", "").split(os.pathsep) if e]
        sys.path[1:1] = [e for e in extra if e not in sys.path]
        argv = request["argv"]
        try:
            if argv[0] == "-m":
                sys.argv = [argv[1], *argv[2:]]
                sys.path[0] = request["cwd"]
                runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
            else:
                sys.argv = list(argv)
                sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
                runpy.run_path(argv[0], run_name="__main__")
            code = 0
        except SystemExit as exit_:
            if exit_.code is None or isinstance(exit_.code, int):
                code = exit_.code or 0
            else:
                print(exit_.code, file=sys.stderr)
                code = 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def serve(path: str) -> None:
    _preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    print("ready", flush=True)
    children: dict[int, socket.socket] = {}
    while True:
        # The parent closes our stdin when it exits: then we exit too.
        readable, _, _ = select.select([listener, sys.stdin], [], [], 0.05)
        if sys.stdin in readable and not sys.stdin.readline():
            return
        if listener in readable:
            conn, _ = listener.accept()
            message, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
            pid = os.fork()
            if pid == 0:
                listener.close()
                conn.close()
                for other in children.values():
                    other.close()
                _child(json.loads(message), fds)
            for fd in fds:
                os.close(fd)
            conn.sendall(f"pid {pid}\n".encode())
            children[pid] = conn
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            conn = children.pop(pid)
            with contextlib.suppress(OSError):
                conn.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
            conn.close()


# -- client side ------------------------------------------------------------------------------


class ForkedProcess:
    """The parts of :class:`subprocess.Popen` the tests use, for a child of the server."""

    def __init__(
        self, conn: socket.socket, pid: int, stdin: IO[str] | None, stdout: IO[str], stderr: IO[str]
    ) -> None:
        self._conn = conn
        self.pid = pid
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.returncode: int | None = None
        self.args = [sys.executable]

    def _collect(self, timeout: float | None) -> None:
        if self.returncode is not None:
            return
        readable, _, _ = select.select([self._conn], [], [], timeout)
        if not readable:
            return
        line = self._conn.recv(64).decode().strip()
        # The server closed without a status only if it died itself: report a kill.
        self.returncode = int(line.split()[1]) if line.startswith("exit ") else -signal.SIGKILL
        self._conn.close()

    def poll(self) -> int | None:
        self._collect(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self._collect(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class _Server:
    _lock = threading.Lock()
    _current: _Server | None = None

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="zt-zygote-")
        self.path = os.path.join(self.dir, "socket")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.zygote", self.path],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": ROOT},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the worker fork server did not start")
        atexit.register(self.close)

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=5)
        with contextlib.suppress(OSError):
            os.unlink(self.path)
            os.rmdir(self.dir)

    @classmethod
    def get(cls) -> _Server:
        with cls._lock:
            if cls._current is None or cls._current.proc.poll() is not None:
                cls._current = cls()
            return cls._current


def spawn(argv: list[str], env: dict[str, str], cwd: str = ROOT, *, stdin: bool = True) -> Any:
    """``python ARGV`` (``["-m", "tests.workers", ...]`` or ``["manage.py", ...]``) with text
    pipes on stdout and stderr, and on stdin unless ``stdin=False`` (then /dev/null): forked
    from the preloaded server, or a fresh interpreter when asked."""
    if os.environ.get("ZOHO_TOKENS_TEST_FRESH_INTERPRETERS") == "1":
        return subprocess.Popen(
            [sys.executable, *argv],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
    server = _Server.get()
    stdin_r, stdin_w = os.pipe() if stdin else (os.open(os.devnull, os.O_RDONLY), -1)
    stdout_r, stdout_w = os.pipe()
    stderr_r, stderr_w = os.pipe()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(server.path)
        request = json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode()
        socket.send_fds(conn, [request], [stdin_r, stdout_w, stderr_w])
    finally:
        for fd in (stdin_r, stdout_w, stderr_w):
            os.close(fd)
    answer = b""
    while not answer.endswith(b"\n"):
        chunk = conn.recv(1)
        if not chunk:
            raise RuntimeError("the worker fork server closed the connection")
        answer += chunk
    pid = int(answer.split()[1])
    return ForkedProcess(
        conn,
        pid,
        open(stdin_w, "w", buffering=1) if stdin else None,
        open(stdout_r),
        open(stderr_r),
    )


def run(
    argv: list[str], env: dict[str, str], cwd: str = ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Like ``subprocess.run([sys.executable, *argv], capture_output=True, text=True,
    stdin=DEVNULL)``: the output of both pipes, read while the child runs."""
    proc = spawn(argv, env, cwd, stdin=False)
    out: dict[str, str] = {}
    readers = [
        threading.Thread(target=lambda name=name: out.__setitem__(name, getattr(proc, name).read()))
        for name in ("stdout", "stderr")
    ]
    for reader in readers:
        reader.start()
    try:
        returncode = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    finally:
        for reader in readers:
            reader.join(timeout=10)
    proc.stdout.close()
    proc.stderr.close()
    return subprocess.CompletedProcess(
        [sys.executable, *argv], returncode, out["stdout"], out["stderr"]
    )


if __name__ == "__main__":
    serve(sys.argv[1])
