"""The audit trail in the admin: view-only for everyone."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from zoho_tokens.admin.base import SchemaAwareAdmin
from zoho_tokens.admin.filters import ActionFilter, ActorFilter, TenantFilter
from zoho_tokens.admin.paging import LargeTablePaginator
from zoho_tokens.admin.search import IndexedSearchMixin
from zoho_tokens.display import action_label, detail_text, when
from zoho_tokens.models import TokenAuditEvent


@admin.register(TokenAuditEvent)
class TokenAuditEventAdmin(IndexedSearchMixin, SchemaAwareAdmin):
    """The audit trail, view-only: no add, change or delete for anyone.

    Five columns, so that it reads without scrolling on a 1366 px laptop: time (to the
    second, project time zone), event (action and a non-ok outcome), token (user, tenant, id),
    by (source and actor) and the detail. ``?token_id=<id>`` lists one token's events (the
    token page links there).

    At a million rows every page is an index range read (``TokenAuditEvent.Meta.indexes``):
    filter choices from the vocabularies or typed in a box, search on exact ids or a user
    name prefix, and no full ``COUNT(*)`` (``LargeTablePaginator``).
    """

    list_display = [
        "time_display",
        "event_display",
        "token_display",
        "by_display",
        "detail_display",
    ]
    list_display_links = ["time_display"]
    list_filter = [ActionFilter, "source", TenantFilter, ActorFilter]
    search_exact_fields = ("token_id", "tenant")
    search_prefix_fields = ("user_name",)
    search_fields = ["token_id", "tenant", "user_name"]
    search_help_text = _("A token id, a tenant, or the start of a user name (email).")
    paginator = LargeTablePaginator
    show_full_result_count = False
    list_select_related = ["actor"]
    ordering = ["-created_at", "-id"]
    date_hierarchy = None
    list_per_page = 100
    fields = [
        "time_display",
        "action",
        "outcome",
        "token_id",
        "user_name",
        "tenant",
        "source",
        "actor_display",
        "detail_display",
    ]
    readonly_fields = list(fields)  # type: ignore[arg-type]

    @admin.display(description=_("time"), ordering="created_at")
    def time_display(self, event: TokenAuditEvent) -> str:
        return when(event.created_at)

    @admin.display(description=_("event"), ordering="action")
    def event_display(self, event: TokenAuditEvent) -> str:
        label = action_label(event.action)
        if event.outcome and event.outcome != "ok":
            return format_html("{}<br><small>{}</small>", label, event.outcome)
        return label

    @admin.display(description=_("token"), ordering="user_name")
    def token_display(self, event: TokenAuditEvent) -> str:
        name = event.user_name or _("(no user name)")
        tenant = event.tenant or _("(default)")
        if not event.token_id:
            return format_html("{}<br><small>{} {}</small>", name, _("tenant"), tenant)
        history = reverse(
            f"{self.admin_site.name}:zoho_tokens_zohotoken_history", args=[event.token_id]
        )
        return format_html(
            '{}<br><small>{} {} · <a href="{}">{}</a></small>',
            name,
            _("tenant"),
            tenant,
            history,
            event.token_id,
        )

    @admin.display(description=_("by"), ordering="source")
    def by_display(self, event: TokenAuditEvent) -> str:
        source = event.get_source_display()  # type: ignore[attr-defined]
        who = self.actor_display(event)  # the name kept at write time once the user is gone
        if who:
            return format_html("{}<br><small>{}</small>", who, source)
        return source

    @admin.display(description=_("detail"))
    def detail_display(self, event: TokenAuditEvent) -> str:
        return detail_text(event.detail)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("actor"), ordering="actor_name")
    def actor_display(self, event: TokenAuditEvent) -> str:
        """The user, or the name kept at write time once the user has been deleted."""
        if event.actor_id is None:
            return ""
        try:
            actor = event.actor
        except ObjectDoesNotExist:
            actor = None
        if actor is not None:
            return str(actor.get_username())
        return str(_("%(name)s (deleted user)") % {"name": event.actor_name or event.actor_id})
