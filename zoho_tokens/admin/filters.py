"""List filters: status (the one status rule), audit action, data center."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from zoho_tokens.datacenters import DATA_CENTERS, FAKE_LABEL, data_center_of, is_fake
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


class ActionFilter(admin.SimpleListFilter):
    """Audit actions by their labels ("grant exchange failed", not ``grant_failed``)."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        found = set(model_admin.get_queryset(request).values_list("action", flat=True).distinct())
        return [(value, label) for value, label in AuditAction.choices if value in found]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        return queryset.filter(action=self.value()) if self.value() else None


def _data_center_q(name: str) -> Q:
    suffix = "." + DATA_CENTERS[name].api_suffix
    return Q(api_domain__iendswith=suffix) | Q(api_domain__icontains=suffix + "/")


class DataCenterFilter(admin.SimpleListFilter):
    """Data center derived from ``api_domain`` (``conf.data_center_of``); one query to list.

    The bundled fake Zoho that the settings point at (the demo, tests) is its own choice,
    "fake Zoho (demo)", apart from "other / unknown".
    """

    title = _("data center")
    parameter_name = "data_center"
    OTHER = "other"
    FAKE = "fake"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        domains = model_admin.get_queryset(request).values_list("api_domain", flat=True)
        unknown = set()
        found = set()
        for domain in domains.distinct().order_by():
            dc = data_center_of(domain)
            found.add(dc)
            if dc is None:
                unknown.add(self.FAKE if is_fake(domain) else self.OTHER)
        choices: list[tuple[str, Any]] = [(n, n.upper()) for n in DATA_CENTERS if n in found]
        if self.FAKE in unknown:
            choices.append((self.FAKE, FAKE_LABEL))
        if self.OTHER in unknown:
            choices.append((self.OTHER, _("other / unknown")))
        return choices

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        value = self.value()
        if not value:
            return None
        if value in (self.OTHER, self.FAKE):
            known = Q()
            for name in DATA_CENTERS:
                known |= _data_center_q(name)
            unknown = queryset.exclude(known)
            domains = unknown.values_list("api_domain", flat=True).distinct().order_by()
            fake = [d for d in domains if is_fake(d)]
            if value == self.FAKE:
                return unknown.filter(api_domain__in=fake)
            return unknown.exclude(api_domain__in=fake)
        if value in DATA_CENTERS:
            return queryset.filter(_data_center_q(value))
        return queryset.none()
