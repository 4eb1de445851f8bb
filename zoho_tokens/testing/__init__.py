"""Test helpers for projects using zoho_tokens: a real-HTTP fake of Zoho.

``FakeZoho`` is stdlib-only, so importing this package never pulls in pytest or Django.
"""

from zoho_tokens.testing.fake_zoho import FakeZoho
from zoho_tokens.testing.identities import GrantCode, ZohoIdentity

__all__ = ["FakeZoho", "GrantCode", "ZohoIdentity"]
