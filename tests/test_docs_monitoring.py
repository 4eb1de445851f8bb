"""The code in docs/how-to/monitoring.md and docs/reference/lifecycle.md runs (the pages
include these files with ``--8<--``, so the docs cannot drift from what is tested)."""

from __future__ import annotations

import json
import runpy

import pytest

from tests.helpers import ROOT, Hook
from zoho_tokens import checks, signals
from zoho_tokens.models import ZohoToken
from zoho_tokens.notify.base import Notice
from zoho_tokens.notify.webhook import WebhookNotifier

EXAMPLES = ROOT / "docs" / "examples"


@pytest.fixture
def hook():
    server = Hook()
    yield server
    server.close()


def test_the_slack_settings_post_a_signed_text_the_receiver_example_verifies(
    settings, monkeypatch, hook
):
    monkeypatch.setenv("ZOHO_TOKENS_WEBHOOK_URL", hook.url)
    monkeypatch.setenv("ZOHO_TOKENS_WEBHOOK_SECRET", "s3cret-for-the-docs")
    example = runpy.run_path(str(EXAMPLES / "notify_settings.py"))["NOTIFY_SETTINGS"]
    settings.ZOHO_TOKENS = {**settings.ZOHO_TOKENS, **example}
    assert checks.check_notify() == []
    row = ZohoToken(id="42", tenant="acme", user_name="ann@acme.example:1")
    WebhookNotifier().send(Notice.of("dead", row, reason="refused", zoho_error="invalid_code"))
    ((headers, body),) = hook.received
    assert "is dead" in json.loads(body)["text"]  # what Slack shows
    verify = runpy.run_path(str(EXAMPLES / "verify_webhook.py"))["verify"]
    assert verify("s3cret-for-the-docs", headers, body)
    assert not verify("another-secret", headers, body)
    assert not verify("s3cret-for-the-docs", headers, body + b" ")
    stale = {**headers, "X-Zoho-Tokens-Timestamp": "1000000000"}
    assert not verify("s3cret-for-the-docs", stale, body)


def test_the_receiver_example_hears_the_three_lifecycle_signals():
    example = runpy.run_path(str(EXAMPLES / "lifecycle_receivers.py"))
    row = ZohoToken(id="7", user_name="ann@acme.example:1")
    try:
        for attempt in (1, 2):
            signals.token_refresh_failed.send(
                ZohoToken,
                token=row,
                reason="unreachable",
                zoho_error="timeout",
                attempt=attempt,
                backoff_until=None,
                source="sdk",
            )
        signals.token_invalidated.send(
            ZohoToken, token=row, reason="refused", zoho_error="invalid_code", source="sdk"
        )
        signals.token_recovered.send(
            ZohoToken, token=row, previous="invalid", failures=3, source="web"
        )
    finally:
        for name in ("on_refresh_failed", "on_invalidated", "on_recovered"):
            for signal in (
                signals.token_refresh_failed,
                signals.token_invalidated,
                signals.token_recovered,
            ):
                signal.disconnect(example[name])
    assert example["EVENTS"] == [
        "failing 7 unreachable timeout",
        "dead 7 invalid_code",
        "recovered 7 from invalid after 3",
    ]


def test_the_pages_include_these_examples_verbatim():
    """Each page includes its code with ``--8<--`` (never a copy), and every included file
    exists and is run above."""
    import re

    pages = [
        ROOT / "docs" / "how-to" / "monitoring.md",
        ROOT / "docs" / "reference" / "lifecycle.md",
    ]
    included = set()
    for page in pages:
        included |= set(re.findall(r'^--8<-- "(docs/examples/[^"]+)"$', page.read_text(), re.M))
    assert included == {
        "docs/examples/notify_settings.py",
        "docs/examples/verify_webhook.py",
        "docs/examples/lifecycle_receivers.py",
    }
    assert all((ROOT / path).is_file() for path in included)
