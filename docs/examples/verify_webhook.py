"""Verify a zoho-tokens webhook in your receiver (any framework: headers and raw body)."""

import hashlib
import hmac
import time


def verify(secret: str, headers: dict[str, str], body: bytes, max_age: int = 300) -> bool:
    """True when the body was signed with ``secret`` less than ``max_age`` seconds ago."""
    stamp = headers.get("X-Zoho-Tokens-Timestamp", "")
    given = headers.get("X-Zoho-Tokens-Signature", "")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > max_age:
        return False
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(given, "sha256=" + digest.hexdigest())
