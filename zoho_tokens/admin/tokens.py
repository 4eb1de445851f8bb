"""The token list and the token page: read-only by construction, secrets masked."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from zoho_tokens import services
from zoho_tokens.admin.actions import TokenActionsMixin
from zoho_tokens.admin.base import SchemaAwareAdmin
from zoho_tokens.admin.filters import (
    AttentionFilter,
    DataCenterFilter,
    StatusFilter,
    TenantFilter,
)
from zoho_tokens.admin.paging import LargeTablePaginator
from zoho_tokens.admin.search import IndexedSearchMixin
from zoho_tokens.context import AuditSource
from zoho_tokens.datacenters import data_center_label
from zoho_tokens.display import action_label, detail_text, epoch_ms_when, expires_phrase, when
from zoho_tokens.exceptions import ZohoTokensError, describe
from zoho_tokens.forms import ConnectForm
from zoho_tokens.health import ATTENTION, NEEDS_PERSON, reason_in_words
from zoho_tokens.models import TokenAuditEvent, TokenStatus, ZohoToken, ZohoTokenQuerySet
from zoho_tokens.tenancy import current_tenant

STATUS_COLOURS = {
    TokenStatus.ACTIVE: "#2e7d32",
    TokenStatus.EXPIRING: "#b26a00",
    TokenStatus.EXPIRED: "#1565c0",
    TokenStatus.BACKING_OFF: "#6a1b9a",
    TokenStatus.INVALID: "#c62828",
    TokenStatus.UNREADABLE: "#c62828",
    TokenStatus.INCOMPLETE: "#616161",
}


#: How many audit events the token page shows inline (the rest: History, the audit list).
AUDIT_ON_TOKEN_PAGE = 20
#: Audit events per page of a token's History.
HISTORY_PER_PAGE = 50


# The token page: only these names are ever rendered; the secret, checksum and lease
# columns are not among them.
DETAIL_FIELDSETS: list[tuple[Any, dict[str, list[str]]]] = [
    (
        None,
        {"fields": ["id", "tenant_display", "user_name", "status_display", "invalid_reason"]},
    ),
    (
        _("Secrets (masked)"),
        {
            "fields": [
                "client_id",
                "client_secret_display",
                "refresh_token_display",
                "access_token_display",
                "grant_token_display",
            ]
        },
    ),
    (
        _("Zoho"),
        {
            "fields": [
                "api_domain",
                "data_center",
                "expiry_display",
                "redirect_url",
                "scopes_display",
            ]
        },
    ),
    (_("History"), {"fields": ["created_display", "updated_display", "invalidated_display"]}),
    (_("Connection life"), {"fields": ["recent_grants_display", "replaced_display"]}),
]


def _status_parts(row: ZohoToken) -> tuple[str, str]:
    """The coloured status label and its reason (Zoho's refusal, or why refreshes back off)."""
    status = row.status()
    label = format_html(
        '<strong class="zt-status zt-{}" style="color:{}">{}</strong>',
        status.value,
        STATUS_COLOURS[status],
        status.label,
    )
    reason = reason_in_words(row) if status in ATTENTION else ""
    return label, reason


def reconnect_link(row: ZohoToken) -> str:
    """ "Reconnect": the web flow's connect view for the row's tenant ("" when the project
    does not mount ``zoho_tokens.urls``). Zoho's OAuth takes no login hint: the person
    picks the Zoho user on Zoho's consent page."""
    try:
        url = reverse("zoho_tokens:connect")
    except NoReverseMatch:
        return ""
    return format_html(
        '<a class="zt-reconnect button" href="{}?{}">{}</a>',
        url,
        urlencode({"tenant": row.tenant}),
        _("Reconnect"),
    )


def _event_row(event: TokenAuditEvent) -> dict[str, Any]:
    """What the token page and History show of an audit event (already safe: no secrets)."""
    return {
        "when": when(event.created_at),
        "action": action_label(event.action),
        "outcome": event.outcome,
        "source": event.get_source_display(),  # type: ignore[attr-defined]
        "actor": event.actor.get_username() if event.actor else "",
        "detail": detail_text(event.detail),
    }


@admin.register(ZohoToken)
class ZohoTokenAdmin(IndexedSearchMixin, TokenActionsMixin, SchemaAwareAdmin):
    # Three columns, so that the list reads without scrolling on a 1366 px laptop beside the
    # admin's navigation and filters: who (email, org, tenant), where, and in what state (with
    # the access token's expiry or the reason). Masked secrets and times: on the token page.
    list_display = ["user", "data_center", "state"]
    list_display_links = ["user"]
    # At 100k rows: no filter scans the table for its choices, search is on indexed exact
    # values or a user name prefix, and nothing counts the whole table.
    list_filter = [AttentionFilter, StatusFilter, TenantFilter, DataCenterFilter]
    search_exact_fields = ("id", "tenant")
    search_prefix_fields = ("user_name",)
    search_fields = ["id", "tenant", "user_name"]
    search_help_text = _("A token id, a tenant, or the start of a user name (email).")
    paginator = LargeTablePaginator
    show_full_result_count = False
    list_per_page = 50
    actions = ["revoke_selected", "purge_selected"]
    fieldsets = DETAIL_FIELDSETS  # type: ignore[assignment]
    readonly_fields = [name for _title, opts in DETAIL_FIELDSETS for name in opts["fields"]]
    exclude = [
        "client_secret",
        "refresh_token",
        "access_token",
        "grant_token",
        "refresh_token_checksum",
        "access_token_checksum",
        "grant_token_checksum",
        "refresh_lease_until",
        "refresh_lease_owner",
    ]

    # -- columns ---------------------------------------------------------------------------

    @admin.display(description=_("user"), ordering="user_name")
    def user(self, row: ZohoToken) -> str:
        tenant = _("tenant %(tenant)s") % {"tenant": row.tenant or _("(default)")}
        if not row.user_name:
            name: Any = _("(no user name) %(id)s") % {"id": row.pk}
        else:
            name = row.email
        if row.org_id:
            return format_html("{}<br><small>org {} · {}</small>", name, row.org_id, tenant)
        return format_html("{}<br><small>{}</small>", name, tenant)

    @admin.display(description=_("tenant"), ordering="tenant")
    def tenant_display(self, row: ZohoToken) -> Any:
        return row.tenant or _("(default)")

    @admin.display(description=_("data center"), ordering="api_domain")
    def data_center(self, row: ZohoToken) -> str:
        if not row.api_domain:
            return "—"
        host = row.api_domain.split("://", 1)[-1].split("/", 1)[0]
        return format_html("{}<br><small>{}</small>", data_center_label(row.api_domain), host)

    @admin.display(description=_("status"))
    def status_display(self, row: ZohoToken) -> str:
        label, reason = _status_parts(row)
        link = reconnect_link(row) if row.status() in NEEDS_PERSON else ""
        if link:
            return format_html("{}<br><small>{}</small><br>{}", label, reason, link)
        return format_html("{}<br><small>{}</small>", label, reason) if reason else label

    @admin.display(description=_("status"), ordering="expiry_time")
    def state(self, row: ZohoToken) -> str:
        """The list's status column: the status, then the reason or when the access token
        expires (relative; the token page has the time)."""
        label, reason = _status_parts(row)
        if not reason and row.expiry_time is not None:
            reason = f"{_('access token')} {expires_phrase(row.expiry_time)}"
        if row.status() in NEEDS_PERSON:
            link = reconnect_link(row)
            if link:
                return format_html("{}<br><small>{}</small><br>{}", label, reason, link)
        return format_html("{}<br><small>{}</small>", label, reason) if reason else label

    @admin.display(description=_("access token expiry"), ordering="expiry_time")
    def expiry_display(self, row: ZohoToken) -> str:
        if row.expiry_time is None:
            return "—"
        relative = expires_phrase(row.expiry_time)
        return format_html("{}<br><small>{}</small>", epoch_ms_when(row.expiry_time), relative)

    @admin.display(description=_("scopes"))
    def scopes_display(self, row: ZohoToken) -> str:
        """One scope a line; "unknown" for a connection stored before scopes were recorded."""
        if not row.scope:
            return gettext("unknown (connected before scopes were recorded)")
        return format_html_join(mark_safe("<br>"), "{}", ((s,) for s in row.scope.split(",")))

    @admin.display(description=_("created at"), ordering="created_at")
    def created_display(self, row: ZohoToken) -> str:
        return when(row.created_at)

    @admin.display(description=_("updated at"), ordering="updated_at")
    def updated_display(self, row: ZohoToken) -> str:
        return when(row.updated_at)

    @admin.display(description=_("invalidated at"))
    def invalidated_display(self, row: ZohoToken) -> str:
        return when(row.invalidated_at)

    @admin.display(description=_("grants in the last 30 days"))
    def recent_grants_display(self, row: ZohoToken) -> str:
        """Zoho keeps 20 refresh tokens per user and client and deletes the oldest for the
        21st, in use or not (another deployment's): warn before that happens."""
        count = services.recent_grants(row.user_name)
        limit = services.ZOHO_REFRESH_TOKEN_LIMIT
        if count < services.GRANTS_WARNING:
            return str(count)
        return format_html(
            '<strong class="zt-grants-warning" style="color:#c62828">{}</strong><br><small>{}'
            "</small>",
            count,
            _(
                "Zoho keeps %(limit)d refresh tokens per user and app and deletes the oldest "
                "for each new one, in use or not: tokens of other deployments using this "
                "client may be deleted."
            )
            % {"limit": limit},
        )

    @admin.display(description=_("replaced refresh tokens not yet revoked"))
    def replaced_display(self, row: ZohoToken) -> str:
        pending = services.pending_replaced(row)
        if not pending:
            return "0"
        last = pending[-1]
        return format_html(
            '<strong class="zt-replaced-pending">{}</strong><br><small>{}</small>',
            len(pending),
            _("last error: %(error)s after %(n)d attempt(s); the refresh sweep retries")
            % {"error": last.last_error or "-", "n": last.attempts},
        )

    @admin.display(description=_("client secret"))
    def client_secret_display(self, row: ZohoToken) -> str:
        return row.masked("client_secret")

    @admin.display(description=_("refresh token"))
    def refresh_token_display(self, row: ZohoToken) -> str:
        return row.masked("refresh_token")

    @admin.display(description=_("access token"))
    def access_token_display(self, row: ZohoToken) -> str:
        return row.masked("access_token")

    @admin.display(description=_("grant token"))
    def grant_token_display(self, row: ZohoToken) -> str:
        return row.masked("grant_token")

    # -- permissions: read-only; deleting only through the audited actions (see .actions) --

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return cast(ZohoTokenQuerySet, super().get_queryset(request)).with_status()

    # -- the token page tells its story: its audit trail ------------------------------------

    def _audit_events(self, object_id: str) -> QuerySet:
        return (
            TokenAuditEvent.objects.filter(token_id=object_id)
            .select_related("actor")
            .order_by("-created_at", "-id")
        )

    def may_read_audit(self, request: HttpRequest) -> bool:
        """The audit trail is ``TokenAuditEvent``'s to show: who connected, revoked or purged
        which Zoho user, from where, when. Its own view permission guards it here too, so a
        user who may only list tokens (``view_zohotoken``) does not read it through the token
        page or History (deleted tokens' History included)."""
        opts = TokenAuditEvent._meta
        return request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}")

    def _audit_url(self, object_id: str) -> str:
        changelist = reverse(f"{self.admin_site.name}:zoho_tokens_tokenauditevent_changelist")
        return f"{changelist}?{urlencode({'token_id': object_id})}"

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        """The view-only token page, with its latest audit events (newest first) below."""
        if not self.may_read_audit(request):
            extra_context = {"audit_events": None, **(extra_context or {})}
            return super().change_view(request, object_id, form_url, extra_context)
        events = self._audit_events(object_id)
        extra = {
            "audit_events": [_event_row(e) for e in events[:AUDIT_ON_TOKEN_PAGE]],
            "audit_total": events.count(),
            "audit_url": self._audit_url(object_id),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        """History is the audit trail (Django's change log never sees token changes: they
        happen in the SDK, commands and services). Shown also after the token is gone."""
        if not self.has_view_permission(request) or not self.may_read_audit(request):
            raise PermissionDenied
        obj = self.get_object(request, object_id)
        events = self._audit_events(object_id)
        page = Paginator(events, HISTORY_PER_PAGE).get_page(request.GET.get("p"))
        name = (
            str(obj)
            if obj is not None
            else next((e.user_name for e in events[:1] if e.user_name), object_id)
        )
        context = {
            **self.admin_site.each_context(request),
            "title": _("History: %(name)s") % {"name": name},
            "subtitle": None,
            "opts": self.opts,
            "object": obj,
            "object_id": object_id,
            "object_name": name,
            "page": page,
            "events": [_event_row(e) for e in page.object_list],
            "audit_url": self._audit_url(object_id),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/zoho_tokens/zohotoken/object_history.html", context)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        raise PermissionDenied  # unreachable by construction; never save an admin form

    # -- "Add" is "Connect with a grant token" ----------------------------------------------

    @method_decorator(sensitive_post_parameters("grant_token", "client_secret"))
    @method_decorator(sensitive_variables("data"))
    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        tenant = getattr(request, "zoho_tenant", None)
        tenant = current_tenant() if tenant is None else tenant
        form = ConnectForm(request.POST or None, request=request, tenant=tenant)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                row = services.exchange_grant(
                    data["grant_token"],
                    client_id=data["client_id"] or None,
                    client_secret=data["client_secret"] or None,
                    data_center=data["data_center"],
                    tenant=data["tenant"],
                    source=AuditSource.ADMIN,
                    actor=request.user,
                )
            except ZohoTokensError as exc:
                form.add_error(None, describe(exc))
            else:
                self.log_addition(request, row, [{"added": {}}])
                self.message_user(
                    request,
                    _("Connected %(user)s (tenant %(tenant)s).")
                    % {"user": row.user_name, "tenant": row.tenant or _("(default)")},
                    messages.SUCCESS,
                )
                url = reverse(
                    f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_change",
                    args=[row.pk],
                )
                return HttpResponseRedirect(url)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Connect with a grant token"),
            "opts": self.opts,
            "form": form,
            "adminform": form,
            "media": self.media + form.media,
            "has_view_permission": self.has_view_permission(request),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/zoho_tokens/zohotoken/connect.html", context)
