"""One ambient context (``zoho_tokens.context``): the tenant and who acts through which path.

The tenant used to live in ``tenancy`` and the actor and source in ``signals``; ``source``
was a bare string. These fail if a second context variable appears or a source outside
``AuditSource`` gets through.
"""

from __future__ import annotations

import ast

import pytest

from tests.helpers import ROOT
from zoho_tokens import context
from zoho_tokens.context import AuditSource
from zoho_tokens.tenancy import current_tenant, tenant_context


def test_the_package_keeps_ambient_state_in_one_module():
    """Every ``ContextVar`` of the package is created in ``zoho_tokens/context.py``."""
    makers = []
    for path in sorted((ROOT / "zoho_tokens").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            called = getattr(node, "func", None)
            name = getattr(called, "attr", None) or getattr(called, "id", None)
            if isinstance(node, ast.Call) and name == "ContextVar":
                makers.append(path.relative_to(ROOT).as_posix())
    assert makers and set(makers) == {"zoho_tokens/context.py"}


def test_origin_is_an_audit_source():
    assert context.current_origin().source is AuditSource.SDK
    with context.origin("command") as outer:
        assert outer.source is AuditSource.COMMAND
        with context.origin(AuditSource.ADMIN):
            assert context.current_origin().source is AuditSource.ADMIN
        assert context.current_origin() is outer
    assert context.current_origin().source is AuditSource.SDK


def test_an_unknown_source_is_refused():
    with pytest.raises(ValueError, match="'cron'"):
        with context.origin("cron"):
            pass


def test_an_anonymous_actor_is_no_actor():
    class Anonymous:
        is_authenticated = False

    with context.origin(AuditSource.WEB, Anonymous()) as origin:
        assert origin.actor is None


def test_the_tenant_is_kept_in_the_context():
    assert (current_tenant(), context.tenant()) == ("", "")
    with tenant_context("acme"):
        assert (current_tenant(), context.tenant()) == ("acme", "acme")
        with context.as_tenant("beta"):
            assert current_tenant() == "beta"
        assert current_tenant() == "acme"
    assert current_tenant() == ""
