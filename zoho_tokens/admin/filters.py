"""List filters: status (the one status rule), needs attention (its count is the one
query here that reads the table), audit action, data center, tenant, actor.

None of them scans the table to find its choices: they come from the vocabularies
(``TokenStatus``, ``AuditAction``, ``DATA_CENTERS``) or are typed into a box (tenant, actor),
so a changelist costs the same few queries at a hundred rows or a million.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.contrib.admin.views.main import PAGE_VAR, ChangeList
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from zoho_tokens.conf import zoho_settings
from zoho_tokens.datacenters import DATA_CENTERS, FAKE_LABEL, is_fake, origin_of
from zoho_tokens.health import ATTENTION
from zoho_tokens.models import AuditAction, TokenStatus, ZohoTokenQuerySet


class StatusFilter(admin.SimpleListFilter):
    """``TokenStatus``, filtered on the ``with_status()`` annotation (the one status rule)."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(TokenStatus.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        value = self.value()
        if not value:
            return None
        if value not in TokenStatus.values:
            return queryset.none()
        return cast(ZohoTokenQuerySet, queryset).with_status().filter(token_status=value)


#: The attention count stops here (a bounded count on a large table).
ATTENTION_COUNT_CAP = 999


class AttentionFilter(admin.SimpleListFilter):
    """What needs a person now: invalid, backing off or unreadable (``health.ATTENTION``),
    with their count in the choice's label (one count query per changelist)."""

    title = _("needs attention")
    parameter_name = "attention"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        rows = cast(ZohoTokenQuerySet, model_admin.get_queryset(request))
        wanted = [str(s) for s in ATTENTION]
        # order_by(): a sliced count keeps the ordering, and PostgreSQL then walks the
        # (tenant, user_name) index through the whole table (324 ms against 213 ms at 100k).
        matching = rows.with_status().filter(token_status__in=wanted).order_by()
        count = matching[: ATTENTION_COUNT_CAP + 1].count()
        if count > ATTENTION_COUNT_CAP:
            return [("yes", _("needs attention (over %(count)d)") % {"count": ATTENTION_COUNT_CAP})]
        return [("yes", _("needs attention (%(count)d)") % {"count": count})]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        if self.value() != "yes":
            return None
        rows = cast(ZohoTokenQuerySet, queryset).with_status()
        return rows.filter(token_status__in=[str(s) for s in ATTENTION])


class ActionFilter(admin.SimpleListFilter):
    """Audit actions by their labels ("grant exchange failed", not ``grant_failed``)."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(AuditAction.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        return queryset.filter(action=self.value()) if self.value() else None


def _data_center_q(name: str) -> Q:
    """Exactly this data center's API origins (with or without a trailing slash): the parsed
    host, never a suffix (``http://127.0.0.1?.zohoapis.com`` and ``https://evil.zohoapis.com``
    are not US). A handful of equality tests, so the filter stays one indexed query."""
    query = Q()
    for origin in sorted(DATA_CENTERS[name].api_origins()):
        query |= Q(api_domain__iexact=origin) | Q(api_domain__iexact=origin + "/")
    return query


def _fake_domains() -> list[str]:
    """The bundled fake Zoho's origins that the settings point at (``is_fake``), with and
    without a trailing slash."""
    configured = {zoho_settings.ACCOUNTS_URL, zoho_settings.API_DOMAIN}
    origins = [origin_of(url) for url in configured if url and is_fake(url)]
    return sorted({o for origin in origins if origin for o in (origin, origin + "/")})


class DataCenterFilter(admin.SimpleListFilter):
    """Data center derived from ``api_domain`` (``datacenters.data_center_of``).

    The choices are the vocabulary (every data center), not the domains found in the table;
    the bundled fake Zoho that the settings point at (the demo, tests) is its own choice,
    "fake Zoho (demo)", apart from "other / unknown".
    """

    title = _("data center")
    parameter_name = "data_center"
    OTHER = "other"
    FAKE = "fake"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        choices: list[tuple[str, Any]] = [(n, n.upper()) for n in DATA_CENTERS]
        if _fake_domains():
            choices.append((self.FAKE, FAKE_LABEL))
        choices.append((self.OTHER, _("other / unknown")))
        return choices

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        value = self.value()
        if not value:
            return None
        if value == self.FAKE:
            return queryset.filter(api_domain__in=_fake_domains())
        if value == self.OTHER:
            known = Q()
            for name in DATA_CENTERS:
                known |= _data_center_q(name)
            return queryset.exclude(known).exclude(api_domain__in=_fake_domains())
        if value in DATA_CENTERS:
            return queryset.filter(_data_center_q(value))
        return queryset.none()


class TextBoxFilter(admin.SimpleListFilter):
    """A filter typed into a box (there may be thousands of values: no list of links)."""

    template = "admin/zoho_tokens/text_filter.html"
    placeholder: Any = ""

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return []

    def has_output(self) -> bool:
        return True

    def choices(self, changelist: ChangeList) -> Any:
        """One "choice": what the template needs to draw the box and keep the other filters."""
        keep = [
            (name, value)
            for name, values in changelist.params.items()
            if name not in (self.parameter_name, PAGE_VAR)
            for value in (values if isinstance(values, list) else [values])
        ]
        yield {
            "parameter_name": self.parameter_name,
            "value": self.value() or "",
            "placeholder": self.placeholder,
            "keep": keep,
            "clear_url": changelist.get_query_string(remove=[str(self.parameter_name), PAGE_VAR]),
        }


class TenantFilter(TextBoxFilter):
    """Exactly this tenant (indexed); empty: every tenant."""

    title = _("tenant")
    parameter_name = "tenant"
    placeholder = _("tenant id")

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        value = (self.value() or "").strip()
        return queryset.filter(tenant=value) if value else None


class ActorFilter(TextBoxFilter):
    """Events by the user with this user name (looked up by the user table's own index)."""

    title = _("actor")
    parameter_name = "actor"
    placeholder = _("user name")

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        value = (self.value() or "").strip()
        if not value:
            return None
        users = get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: value})
        return queryset.filter(actor_id__in=list(users.values_list("pk", flat=True)[:10]))
