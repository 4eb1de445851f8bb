"""The token list's two destructive actions, each after a confirmation page (CSRF POST).

Revoke tells Zoho first and reports each token's outcome; purge deletes locally only. Both
are audited by the services they call; deleting is possible nowhere else in the admin.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from zoho_tokens import services
from zoho_tokens.context import AuditSource
from zoho_tokens.datacenters import data_center_label
from zoho_tokens.outcomes import Report, Status, line

#: Tokens named one by one in an action's message; the rest are counted.
LINES_SHOWN = 20


class TokenActionsMixin(admin.ModelAdmin):
    """``revoke_selected`` and ``purge_selected`` (and their permissions) for
    ``ZohoTokenAdmin``, which lists them in ``actions``."""

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.revoke_{opts.model_name}")

    def has_purge_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.purge_{opts.model_name}")

    @admin.action(description=_("Revoke at Zoho and delete"), permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """After a confirmation page: revoke each refresh token at Zoho, delete the ones Zoho
        no longer honours, and report each token's outcome."""
        if not request.POST.get("post"):
            return self._confirmation(
                request,
                queryset,
                action_name="revoke_selected",
                title=_("Revoke at Zoho and delete?"),
                template="revoke_selected_confirmation.html",
            )
        report = services.revoke_tokens(queryset, source=AuditSource.ADMIN, actor=request.user)
        if not report.outcomes:
            return None
        total, done = len(report.outcomes), report.count(Status.REVOKED, Status.DELETED)
        headline = ngettext(
            "Revoked %(done)d of %(total)d Zoho token:",
            "Revoked %(done)d of %(total)d Zoho tokens:",
            total,
        ) % {"done": done, "total": total}
        self.report_outcomes(request, headline, report)
        return None

    def report_outcomes(self, request: HttpRequest, headline: str, report: Report) -> None:
        """The one admin message for a batch operation: a headline, then ``outcomes.line``
        of the first ``LINES_SHOWN`` tokens (failures first); success when all went well,
        warning when some did, else error."""
        good = sum(1 for o in report.outcomes if o.ok)
        if good == len(report.outcomes):
            level = messages.SUCCESS
        else:
            level = messages.WARNING if good else messages.ERROR
        ordered = sorted(report.outcomes, key=lambda o: o.ok)
        shown = ordered[:LINES_SHOWN]
        lines = format_html_join("", "<br>{}", ((line(o),) for o in shown))
        more = len(ordered) - len(shown)
        rest = _("<br>… and %(count)d more") % {"count": more} if more else ""
        self.message_user(request, format_html("{}{}{}", headline, lines, rest), level)

    def _confirmation(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        *,
        action_name: str,
        title: Any,
        template: str,
    ) -> HttpResponse:
        """The intermediate page of a destructive action (like Django's delete_selected)."""
        fields = ("pk", "user_name", "tenant", "api_domain", "accounts_server")
        rows = [
            {
                "pk": row.pk,
                "user_name": row.user_name or _("(no user name)"),
                "tenant": row.tenant or _("(default)"),
                "data_center": data_center_label(row.api_domain),
            }
            for row in queryset.only(*fields)
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "rows": rows,
            "queryset": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": action_name,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, f"admin/zoho_tokens/zohotoken/{template}", context)

    @admin.action(description=_("Purge (delete locally)"), permissions=["purge"])
    def purge_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """Delete rows without calling Zoho, after a confirmation page (like delete_selected)."""
        if request.POST.get("post"):
            report = services.purge(queryset, source=AuditSource.ADMIN, actor=request.user)
            count = report.count(Status.PURGED)
            headline = ngettext(
                "Purged %(count)d Zoho token (deleted locally; not revoked at Zoho).",
                "Purged %(count)d Zoho tokens (deleted locally; not revoked at Zoho).",
                count,
            ) % {"count": count}
            self.report_outcomes(request, headline, report)
            return None
        return self._confirmation(
            request,
            queryset,
            action_name="purge_selected",
            title=_("Purge Zoho tokens?"),
            template="purge_selected_confirmation.html",
        )
