"""``zoho_tokens import`` with a source it cannot parse: one line, no traceback, no password.

Issue 14, point 7: a password with an unencoded ``/``, ``?`` or ``#`` made ``urlsplit`` see
no password at all, so the "redacted" URL in the error was the URL as typed; a broken IPv6
host made ``urlsplit`` raise and the command end in a traceback.
"""

from __future__ import annotations

import pytest

from tests.helpers import assert_one_line_failure, child_env, run_command, run_manage
from zoho_tokens.models import ZohoToken


def run(*args: str) -> tuple[int, str, str]:
    return run_command("zoho_tokens", *args)


# (source, text that must never be printed, what the one line says)
MALFORMED = [
    ("mysql://root:s3cr/etPw@127.0.0.1:1/zohooauth", "s3cr", "percent-encode"),
    ("mysql://root:s3cr#etPw@127.0.0.1:1/zohooauth", "s3cr", "percent-encode"),
    ("mysql://root:s3cr?etPw@127.0.0.1:1/zohooauth", "s3cr", "percent-encode"),
    ("mysql://root:s3cr/et@db.example/zohooauth?table=oauthtoken", "s3cr", "percent-encode"),
    ("mysql://root:s3cretPw@[::1:3306/zohooauth", "s3cr", "not a valid URL"),
    ("mysql://root@[::1:3306/db", "s3cr", "not a valid URL"),
    ("mysql+mysqlconnector://root:s3cretPw@[::1/db", "s3cr", "not a valid URL"),
    ("sqlite://root:s3cretPw@[::1/zohooauth.db", "s3cr", "not a valid URL"),
    ("mysql://root:s3cretPw@127.0.0.1:99999/zohooauth", "s3cr", "port"),
    # A typo that makes it a file path: the path is echoed, the password is not.
    ("mysql:/root:s3cretPw@127.0.0.1/zohooauth", "s3cr", "no such file"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("source", "secret", "expected"), MALFORMED)
def test_malformed_source_url_fails_in_one_line_without_the_password(source, secret, expected):
    code, out, err = run("import", source)

    assert code == 1
    line = assert_one_line_failure(out, err, expected)
    assert line.startswith("import failed: ")
    assert secret not in (out + err).strip()
    assert ZohoToken.objects.count() == 0


def test_invalid_ipv6_url_in_a_real_process_is_one_line(tmp_path):
    env = child_env(None, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")  # key: no W001
    result = run_manage("zoho_tokens", "import", "mysql://root:s3cretPw@[::1:3306/db", env=env)

    assert result.returncode == 1
    line = assert_one_line_failure(result.stdout, result.stderr)
    assert line.startswith("import failed: mysql://root:***@[::1:3306/db: not a valid URL")
    assert "s3cr" not in result.stdout + result.stderr
