"""``"webhook"``: POST the notice as JSON to ``WEBHOOK_URL``, signed with ``WEBHOOK_SECRET``.

Headers: ``X-Zoho-Tokens-Event``, ``X-Zoho-Tokens-Timestamp`` (epoch seconds) and
``X-Zoho-Tokens-Signature: sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<body>"`` with
the secret (verify it, and reject old timestamps, as for Stripe's or GitHub's webhooks). The
body has a ``text`` field, so a Slack incoming-webhook URL works as it is. Each attempt has
``WEBHOOK_TIMEOUT`` seconds; ``WEBHOOK_RETRIES`` more attempts follow a failure (1 s, 2 s,
4 s ... apart). It runs in a background thread: it never holds up a refresh.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import requests

from zoho_tokens.conf import zoho_settings
from zoho_tokens.exceptions import ConfigurationError
from zoho_tokens.notify.base import Notice, Notifier


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``b"<timestamp>." + body`` with ``secret``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class WebhookNotifier(Notifier):
    def send(self, notice: Notice) -> None:
        url, secret = zoho_settings.WEBHOOK_URL, zoho_settings.WEBHOOK_SECRET
        if not url or not secret:
            raise ConfigurationError("NOTIFY names 'webhook': set WEBHOOK_URL and WEBHOOK_SECRET")
        body = json.dumps(notice.as_json(), sort_keys=True).encode()
        timeout = float(zoho_settings.WEBHOOK_TIMEOUT)
        attempts = 1 + max(int(zoho_settings.WEBHOOK_RETRIES), 0)
        for attempt in range(attempts):
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "zoho-tokens-webhook",
                "X-Zoho-Tokens-Event": notice.event,
                "X-Zoho-Tokens-Timestamp": timestamp,
                "X-Zoho-Tokens-Signature": signature(secret, timestamp, body),
            }
            try:
                response = requests.post(
                    url, data=body, headers=headers, timeout=timeout, allow_redirects=False
                )
                if response.status_code < 300:
                    return
            except requests.RequestException:
                pass
            if attempt < attempts - 1:
                time.sleep(2**attempt)
        raise ConfigurationError(f"webhook gave up after {attempts} attempt(s)")
