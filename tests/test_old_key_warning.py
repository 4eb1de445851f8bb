"""Finding 8 of issue 21: rows on an old *configured* key are reported before it is removed.

Before, check W011 counted them only once the key was gone (unreadable). Now check W031 and
``rotate-keys --dry-run`` count the rows still sealed with ``ENCRYPTION_KEYS[i]`` (i > 0),
name the key's position and the command that moves them.
"""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from tests.factories import ZohoTokenFactory
from zoho_tokens import checks, crypto
from zoho_tokens.checks import CheckId
from zoho_tokens.models import ZohoToken

pytestmark = pytest.mark.django_db

OLD, OLDER, NEW = (Fernet.generate_key().decode() for _ in range(3))


def w031() -> list:
    return [
        m
        for m in checks.check_rows_on_derived_keys(databases=["default"])
        if m.id == CheckId.ROWS_ON_OLD_KEY
    ]


def dry_run() -> str:
    out = StringIO()
    call_command("zoho_tokens", "rotate-keys", "--dry-run", stdout=out)
    return out.getvalue()


def test_rows_on_configured_old_keys_are_counted_by_position(settings):
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": [OLDER]}
    ZohoTokenFactory()
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": [OLD, OLDER]}
    ZohoTokenFactory.create_batch(2)
    # Before: nothing said so until OLDER was removed (then W011: unreadable).
    assert ["1 Zoho tokens" in m.msg and "[1]" in m.msg for m in w031()] == [True]
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": [NEW, OLD, OLDER]}
    ZohoTokenFactory()  # on NEW

    found = w031()
    assert [m.level for m in found] == [30, 30]  # warnings
    assert "2 Zoho tokens" in found[0].msg and "['ENCRYPTION_KEYS'][1]" in found[0].msg
    assert "1 Zoho tokens" in found[1].msg and "['ENCRYPTION_KEYS'][2]" in found[1].msg
    assert crypto.fingerprint(OLD) in found[0].msg
    assert "zoho_tokens rotate-keys" in found[0].hint
    assert OLD not in found[0].msg + found[0].hint  # the key itself is never shown

    before = dict(ZohoToken.objects.values_list("pk", "refresh_token"))
    out = dry_run()
    assert "2 tokens on ZOHO_TOKENS['ENCRYPTION_KEYS'][1]" in out
    assert "1 tokens on ZOHO_TOKENS['ENCRYPTION_KEYS'][2]" in out
    assert "3 tokens on a configured key other than the first; nothing changed" in out
    assert dict(ZohoToken.objects.values_list("pk", "refresh_token")) == before

    call_command("zoho_tokens", "rotate-keys", stdout=StringIO())
    assert w031() == []
    assert "0 tokens on a configured key" in dry_run()


def test_no_warning_with_one_key(settings):
    settings.ZOHO_TOKENS = {"ENCRYPTION_KEYS": [NEW]}
    ZohoTokenFactory()
    assert w031() == []
    assert "0 tokens" in dry_run()
