"""The worker fork server (tests/zygote.py) behaves like ``subprocess.Popen`` of a fresh
``python -m tests.workers``: the multi-process tests rely on pids, pipes, exit codes and
kills being the child's own."""

from __future__ import annotations

import json
import os
import signal
import subprocess

from tests import zygote

FAKE_ARGV = [
    "-m",
    "tests.workers",
    "fake",
    "--refresh-token",
    "1000.r",
    "--email",
    "a@example.com",
    "--zgid",
    "1",
]
FAKE_ARGV += ["--client-id", "c", "--client-secret", "s", "--scope", "ZohoCRM.users.READ"]


def test_a_forked_worker_has_its_own_pid_pipes_and_working_directory(tmp_path):
    proc = zygote.spawn(FAKE_ARGV, {**os.environ, "PYTHONPATH": zygote.ROOT}, cwd=str(tmp_path))
    try:
        answer = json.loads(proc.stdout.readline())
        assert answer["url"].startswith("http://127.0.0.1:")
        assert proc.pid not in (os.getpid(), zygote._Server.get().proc.pid)
        assert proc.poll() is None
        assert os.readlink(f"/proc/{proc.pid}/cwd") == str(tmp_path)
        proc.stdin.close()  # the fake serves until its stdin closes
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()


def test_exit_codes_and_kills_are_reported_as_popen_does():
    bad = zygote.spawn(
        ["-m", "tests.workers", "no-such-command"], {**os.environ, "PYTHONPATH": zygote.ROOT}
    )
    assert bad.wait(timeout=10) == 2  # argparse's usage error
    assert "invalid choice" in bad.stderr.read()

    alive = zygote.spawn(FAKE_ARGV, {**os.environ, "PYTHONPATH": zygote.ROOT})
    alive.stdout.readline()
    try:
        alive.wait(timeout=0.1)
    except subprocess.TimeoutExpired:
        pass
    else:
        raise AssertionError("a serving worker was reported as exited")
    alive.kill()
    assert alive.wait(timeout=10) == -signal.SIGKILL
